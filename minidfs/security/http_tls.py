"""Mutual TLS for the HTTP faces and our own HTTP calls (secure mode).

Used by minidfs/web/face.py (the server side: every daemon's HTTP port asks for a
client certificate and refuses a connection without one from the cluster CA), by
the WebHDFS redirects and status-page links (`scheme`), and by the launcher's
/readyz probes and benchmarks (`urlopen`). Simple mode: plain http, no context.
"""
from __future__ import annotations

import ssl
import urllib.request
from typing import Any

from minidfs.security import credentials


def scheme(address: str | None = None) -> str:
    """http or https: for a link this daemon hands out (no address), or for a call
    this process makes to `address`."""
    creds = credentials.current() if address is None else credentials.for_address(address)
    return "https" if creds is not None else "http"


def server_context() -> ssl.SSLContext | None:
    creds = credentials.current()
    if creds is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(creds.ca_path))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(creds.cert_path), str(creds.key_path))
    return ctx


def client_context(creds: credentials.Credentials | None) -> ssl.SSLContext | None:
    if creds is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(creds.ca_path))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(creds.cert_path), str(creds.key_path))
    return ctx


def url(address: str, path: str) -> str:
    return f"{scheme(address)}://{address}{path}"


def urlopen(address: str, path: str, timeout_s: float) -> Any:
    """GET `path` on a daemon's HTTP face, over mutual TLS in secure mode."""
    return urllib.request.urlopen(url(address, path), timeout=timeout_s,
                                  context=client_context(credentials.for_address(address)))
