"""How WebHDFS answers go out: JSON bodies, RemoteException errors, the Spark rule.

The Spark rule (docs/http.md): the Hadoop client shaded into pyspark cannot parse a
JSON answer that carries a Content-Type header (its shaded JAX-RS MediaType has no
runtime delegate), error answers included; without the header it works. Hadoop's
WebHdfsFileSystem talks through java.net.HttpURLConnection, which announces itself
as `User-Agent: Java/<version>`, so answers to such a caller carry no Content-Type.
Everyone else (curl, requests-based HdfsCLI and fsspec, browsers) gets
`application/json` as Apache sends it. The header is dropped in an
on_response_prepare hook because aiohttp adds a default Content-Type to any body.
"""
from __future__ import annotations

import math

import json
import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from minidfs import errors
from minidfs.web.webhdfs_errors import remote_exception

log = logging.getLogger("minidfs.web")

JAVA_AGENT_PREFIX = "Java/"
_BARE_KEY = web.ResponseKey("minidfs_webhdfs_bare", bool)
_STREAMING_KEY = web.RequestKey("minidfs_webhdfs_streaming", bool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def wants_bare(request: web.Request) -> bool:
    """True for Hadoop's own client (HttpURLConnection), which must get no Content-Type."""
    return request.headers.get("User-Agent", "").startswith(JAVA_AGENT_PREFIX)


def mark(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    if wants_bare(request):
        response[_BARE_KEY] = True
    return response


def streaming(request: web.Request) -> None:
    """The handler has sent its headers: a later error can only cut the body short
    (the client sees fewer bytes than Content-Length), never become a second answer."""
    request[_STREAMING_KEY] = True


def json_reply(request: web.Request, body: Any, status: int = 200,
               headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(status=status, body=json.dumps(body).encode(),
                            content_type="application/json", headers=headers)
    return mark(request, response)  # type: ignore[return-value]


def error_reply(request: web.Request, exc: BaseException) -> web.Response:
    remote = remote_exception(exc)
    if remote.status == 500:
        log.error("webhdfs %s %s failed", request.method, request.path_qs, exc_info=exc)
    headers = None
    if isinstance(exc, errors.Throttled):
        # HTTP's own retry hint (whole seconds, at least 1) beside Apache's JSON.
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return json_reply(request, remote.body(), remote.status, headers)


async def _drop_content_type(request: web.Request, response: web.StreamResponse) -> None:
    if response.get(_BARE_KEY):
        response.headers.popall("Content-Type", None)


def install(app: web.Application) -> None:
    """Once per application, before it starts."""
    if _drop_content_type not in app.on_response_prepare:
        app.on_response_prepare.append(_drop_content_type)


def guarded(handler: Handler) -> Handler:
    """Every error a handler raises becomes a RemoteException answer; a client that
    went away is not an error of ours."""
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPException, ConnectionResetError):
            raise
        except Exception as e:  # noqa: BLE001 - a malformed request never crashes the face
            if request.get(_STREAMING_KEY):
                raise
            return error_reply(request, e)
    return run
