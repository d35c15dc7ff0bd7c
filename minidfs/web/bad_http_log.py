"""Garbage on an HTTP port costs one log line per peer, never a traceback each.

aiohttp answers bytes that do not parse as HTTP (a bad request line, an invalid
character in the URL, broken chunked framing, a header past the face's limits)
with 400 and closes the connection - but it logs every one of them at ERROR with
a full traceback on the "aiohttp.server" logger, so a stream of garbage floods the
daemon's log. `install()` (called by every HttpFace) puts a filter on that logger:
a record about such a client error becomes one short line, at most one per peer
host per LOG_INTERVAL_S (rpc/malformed_guard.py's limiter, shared rule with the
gRPC side); anything else - a real bug in a handler - keeps its traceback.
"""
from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from minidfs.rpc.malformed_guard import PeerLogLimiter

SERVER_LOGGER = "aiohttp.server"
MAX_REASON_CHARS = 120


class BadHttpFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.limiter = PeerLogLimiter()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        peer = str(record.args[0]) if isinstance(record.args, tuple) and record.args else "unknown"
        suppressed = self.limiter.admit(peer)
        if suppressed is None:
            return False
        reason = (getattr(exc, "message", "") or str(exc)).strip().splitlines()
        more = f" ({suppressed} more from this peer not logged)" if suppressed else ""
        record.msg = "bad HTTP request from %s: %s %s%s"
        record.args = (peer, exc.code, (reason[0] if reason else "")[:MAX_REASON_CHARS], more)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


_installed: BadHttpFilter | None = None


def install() -> BadHttpFilter:
    """Idempotent: one filter per process, however many faces it runs."""
    global _installed
    if _installed is None:
        _installed = BadHttpFilter()
        logging.getLogger(SERVER_LOGGER).addFilter(_installed)
    return _installed
