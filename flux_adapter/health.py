"""Liveness, readiness and metrics over HTTP, for the kubelet and Prometheus.

Liveness fails only for what a restart can cure: a stalled event loop or a
watch loop that died or stopped hearing from the API server. A flow-server
outage never fails it; the emitter retries that by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flux_adapter.metrics import Metrics

log = structlog.get_logger(__name__)

Check = Callable[[], str | None]
"""Returns None when healthy, else a short reason for the probe's body."""

HEARTBEAT_PERIOD = 1.0
LOOP_STALL_LIMIT = 10.0


@dataclass(frozen=True, slots=True)
class WatchPulse:
    """What liveness needs to know of one watch loop."""

    resource: str
    alive: bool
    last_heard: float
    inactivity_timeout: float


def watch_liveness(pulse: WatchPulse, now: float) -> str | None:
    if not pulse.alive:
        return f"{pulse.resource} watch loop is not running"
    silent = now - pulse.last_heard
    if silent > 2 * pulse.inactivity_timeout:
        return f"{pulse.resource} has not heard from the API server for {silent:.0f}s"
    return None


class Heartbeat:
    """Proves the event loop still schedules tasks promptly."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_tick = clock()

    async def run(self) -> None:
        while True:
            self.last_tick = self._clock()
            await asyncio.sleep(HEARTBEAT_PERIOD)

    def check(self) -> str | None:
        stalled = self._clock() - self.last_tick
        if stalled > LOOP_STALL_LIMIT:
            return f"event loop stalled for {stalled:.0f}s"
        return None


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        live_checks: Sequence[Check],
        ready_check: Check,
        metrics: Metrics,
    ) -> None:
        self._host = host
        self._port = port
        self._live_checks = live_checks
        self._ready_check = ready_check
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_handler)
        return app

    @staticmethod
    def _answer(failures: list[str]) -> web.Response:
        if failures:
            return web.json_response({"status": "failing", "failures": failures}, status=503)
        return web.json_response({"status": "ok"})

    async def _healthz(self, _: web.Request) -> web.Response:
        failures = [reason for check in self._live_checks if (reason := check()) is not None]
        if failures:
            log.warning("liveness_failing", failures=failures)
        return self._answer(failures)

    async def _readyz(self, _: web.Request) -> web.Response:
        reason = self._ready_check()
        return self._answer([] if reason is None else [reason])

    async def _metrics_handler(self, _: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port
        log.info("health_listening", host=self._host, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self) -> None:
        """Serve until cancelled."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
