"""One aiohttp server per daemon, on the daemon's own event loop, at its `http_address`.

Every daemon's serve() builds an HttpFace, lets the features that speak HTTP mount
their routes on `face.app` (WebHDFS, status pages, metrics ...), then starts it after
its gRPC server and stops it before. The face itself serves only what every daemon
has: `/healthz` (the process answers) and `/readyz` (the daemon says it is ready,
through the `ready` callable its owner sets). A node without an `http_address` gets
a face that mounts nothing and listens nowhere, so daemons need no special case.

aiohttp turns TCP_NODELAY on for every connection, which keep-alive clients need
(without it a small response waits for the peer's delayed ack, about 40 ms).
Bytes that are not HTTP get aiohttp's 400 and one rate-limited log line per peer
(bad_http_log.py), never a traceback each.
"""
from __future__ import annotations

import logging
from typing import Callable

from aiohttp import web

from minidfs.config import NodeConfig
from minidfs.web import bad_http_log

log = logging.getLogger("minidfs.web")

# Limits (DESIGN.md §5 "bound everything"): a request's headers and a non-streamed
# body are refused past these, never buffered.
MAX_FIELD_SIZE_BYTES = 16 * 1024
MAX_LINE_SIZE_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
SHUTDOWN_GRACE_S = 2.0

ReadyCheck = Callable[[], tuple[bool, str]]


class HttpFace:
    def __init__(self, node: NodeConfig, kind: str) -> None:
        self.node = node
        self.kind = kind
        self.address = node.http_address
        self.ready: ReadyCheck = lambda: (True, "ready")
        self.app = web.Application(client_max_size=MAX_BODY_BYTES,
                                   handler_args={"max_field_size": MAX_FIELD_SIZE_BYTES,
                                                 "max_line_size": MAX_LINE_SIZE_BYTES})
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        bad_http_log.install()

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    async def start(self) -> None:
        """Binds the HTTP address; an OSError (port in use) is the daemon's start-up error."""
        if not self.enabled:
            return
        host, _, port = self.address.rpartition(":")
        from minidfs.security import http_identity, http_tls

        # Secure mode: mutual TLS on the port, the certificate decides who calls.
        ssl_context = http_tls.server_context()
        if ssl_context is not None:
            self.app.middlewares.insert(0, http_identity.certificate_identity)
        self._runner = web.AppRunner(self.app, access_log=None,
                                     shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, int(port), reuse_address=True,
                           ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            self._runner = None
            raise OSError(f"cannot listen for HTTP on {self.address}: {e.strerror or e}") from None
        log.info("%s %s: HTTP on %s", self.kind, self.node.name, self.address)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            ready, why = self.ready()
        except Exception as e:  # a readiness probe must answer, not crash the handler
            ready, why = False, f"readiness check failed: {e}"
        return web.Response(status=200 if ready else 503, text=f"{why}\n")
