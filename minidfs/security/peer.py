"""Who is calling: the verified certificate subject of a gRPC call or HTTP request.

Called by interceptor.py (every gRPC call in secure mode), by minidfs/identity.py's
`caller_user` (the servicers' user) and by the HTTP face. The TLS layer has already
checked the chain against the cluster CA and the validity dates
(`require_client_auth`), so the subject here is proven; None means the transport
carried no certificate (simple mode).
"""
from __future__ import annotations

from typing import Any

from minidfs.security.policy import Subject, parse_subject


def grpc_subject(context: Any) -> Subject | None:
    try:
        auth = context.auth_context() or {}
    except Exception:  # a context without a transport (in-process tests)
        return None
    names = auth.get("x509_common_name") or []
    if not names:
        return None
    raw = names[0]
    try:
        return parse_subject(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (ValueError, UnicodeDecodeError):
        return None


def http_subject(transport: Any) -> Subject | None:
    """The subject of an aiohttp request's transport (request.transport)."""
    if transport is None:
        return None
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                try:
                    return parse_subject(value)
                except ValueError:
                    return None
    return None
