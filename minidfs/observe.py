"""What every daemon shows its operators: Prometheus /metrics, the standard gRPC
health service, and the RPC interceptor that counts and times every call.

Each daemon's serve code makes one `Observability(kind)` before its gRPC server
(`interceptors` go first in the server's interceptor list: the RPC metrics and
the malformed-request guard of rpc/malformed_guard.py), then, once its
servicers are registered, calls `attach(server, face, collector, health)`:

- `/metrics` on the daemon's HTTP face renders its registry: the daemon's own
  collector (minidfs/metrics/<kind>.py, gauges read from the daemon's state at
  scrape time), the RPC counters and histogram, and the process collector. A render
  is reused for SCRAPE_REUSE_S, so any scrape rate costs at most a few renders a
  second on the daemon's loop (measured: docs/metrics.md).
- `grpc.health.v1.Health` on the gRPC port: "" (the process) is SERVING, and each
  service named by `health()` is SERVING or NOT_SERVING as it says, refreshed every
  HEALTH_REFRESH_S by a task that runs until the HTTP face shuts down (or the loop ends).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from prometheus_client import (
    CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, disable_created_metrics,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from minidfs.metrics.rpc_interceptor import RpcMetrics
from minidfs.rpc.malformed_guard import MalformedGuard
from minidfs.web.face import HttpFace

log = logging.getLogger("minidfs.observe")

SCRAPE_REUSE_S = 0.25
HEALTH_REFRESH_S = 0.5
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

HealthCheck = Callable[[], dict[str, bool]]


class Observability:
    def __init__(self, kind: str) -> None:
        # No `_created` timestamp series next to every counter: they double the text
        # of a scrape and no dashboard of ours reads them.
        disable_created_metrics()
        self.kind = kind
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(namespace=f"minidfs_{kind}", registry=self.registry)
        self.rpc = RpcMetrics(self.registry, kind)
        self.malformed = MalformedGuard(kind)
        self.health_servicer = health_aio.HealthServicer()
        self._health: HealthCheck = lambda: {}
        self._task: asyncio.Task[None] | None = None
        self._rendered = b""
        self._rendered_at = -1.0

    @property
    def interceptors(self) -> list:
        # The malformed-request guard sits inside the metrics (refusals are counted)
        # and outside everything else (no later interceptor or servicer sees bytes
        # that did not parse).
        return [self.rpc, self.malformed]

    def attach(self, server, face: HttpFace, collector: Collector | None = None,
               health: HealthCheck | None = None) -> None:
        """Called on the daemon's loop, before its server starts: registers the health
        service and /metrics, and keeps health current until the face stops."""
        if collector is not None:
            self.registry.register(collector)
        health_pb2_grpc.add_HealthServicer_to_server(self.health_servicer, server)
        if health is not None:
            self._health = health
        face.app.router.add_get("/metrics", self._metrics)
        face.app.on_shutdown.append(lambda app: self.stop())
        self._task = asyncio.get_running_loop().create_task(self._refresher())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.health_servicer.enter_graceful_shutdown()

    async def _refresher(self) -> None:
        while True:
            try:
                await self._refresh()
            except Exception:  # noqa: BLE001 - health must keep answering
                log.exception("%s: health check failed", self.kind)
            await asyncio.sleep(HEALTH_REFRESH_S)

    async def _refresh(self) -> None:
        await self.health_servicer.set("", SERVING)
        for service, ok in self._health().items():
            await self.health_servicer.set(service, SERVING if ok else NOT_SERVING)

    async def _metrics(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        if now - self._rendered_at >= SCRAPE_REUSE_S:
            self._rendered = generate_latest(self.registry)
            self._rendered_at = now
        return web.Response(body=self._rendered, headers={"Content-Type": CONTENT_TYPE_LATEST})
