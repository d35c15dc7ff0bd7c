"""Who is calling: the verified certificate subject of a gRPC call or HTTP request.

Called by interceptor.py (every gRPC call in secure mode), by minidfs/identity.py's
`caller_user` (the servicers' user) and by the HTTP face. The TLS layer has already
checked the chain against the cluster CA and the validity dates
(`require_client_auth`), so the subject here is proven; None means the transport
carried no certificate (simple mode).
"""
from __future__ import annotations

import functools
from typing import Any

from minidfs import errors
from minidfs.security import layout
from minidfs.security.policy import JOB, Subject, parse_subject


@functools.lru_cache(maxsize=1024)
def _issued_by_job_ca(cert_pem: bytes) -> bool:
    from minidfs.security import pki

    try:
        return pki.issuer_common_name(cert_pem) == layout.JOB_CA_CN
    except ValueError:
        return False


def _checked(subject: Subject | None, issued_by_job_ca: bool) -> Subject | None:
    """Job certificates come from the job CA and the job CA issues nothing else, so
    the JobTracker can mint a job's credentials but never a daemon's or a user's."""
    if subject is None or (subject.kind == JOB) != issued_by_job_ca:
        return None
    return subject


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
        subject = parse_subject(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (ValueError, UnicodeDecodeError):
        return None
    pems = auth.get("x509_pem_cert") or [b""]
    return _checked(subject, _issued_by_job_ca(bytes(pems[0])))


def check_job(context: Any, job_id: str) -> None:
    """A job's tasks may ask about their own job only (no-op for other callers)."""
    subject = grpc_subject(context)
    if subject is not None and subject.kind == JOB and subject.job_id != job_id:
        raise errors.PermissionDeniedError(f"{subject} may not act for {job_id}")


def http_subject(transport: Any) -> Subject | None:
    """The subject of an aiohttp request's transport (request.transport)."""
    if transport is None:
        return None
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    issuer = next((v for rdn in cert.get("issuer", ()) for k, v in rdn if k == "commonName"), "")
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                try:
                    return _checked(parse_subject(value), issuer == layout.JOB_CA_CN)
                except ValueError:
                    return None
    return None
