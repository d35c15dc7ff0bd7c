"""The aiohttp middleware of secure mode: an HTTP request acts as its certificate.

Mounted by minidfs/web/face.py on every daemon's HTTP face when the daemon runs in
secure mode. The TLS layer already refused connections without a certificate from
the cluster CA; here a user certificate's name replaces whatever `user.name` the
request carries (WebHDFS's simple-mode identity, ignored under TLS as Hadoop ignores
it under Kerberos/SPNEGO), and a daemon that is not a proxy user may only name
itself. The result is the same query the handlers already understand.
"""
from __future__ import annotations

from aiohttp import web

from minidfs.security import peer, policy

USER_PARAM = "user.name"


def _forbidden(message: str) -> web.Response:
    body = ('{"RemoteException":{"exception":"AccessControlException",'
            '"javaClassName":"org.apache.hadoop.security.AccessControlException",'
            f'"message":"{message}"}}}}')
    return web.Response(status=403, text=body, content_type="application/json")


@web.middleware
async def certificate_identity(request: web.Request, handler):
    subject = peer.http_subject(request.transport)
    if subject is None:
        return web.Response(status=401, text="secure mode: a client certificate is required\n")
    named = request.rel_url.query.get(USER_PARAM)
    if subject.is_user:
        if named != subject.user:
            request = request.clone(
                rel_url=request.rel_url.update_query({USER_PARAM: subject.user}))
    elif subject.kind not in policy.PROXY_KINDS and named not in (None, subject.name):
        return _forbidden(f"{subject} may not act for user {named[:64]}")
    return await handler(request)
