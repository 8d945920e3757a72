"""Liveness, readiness and metrics over HTTP, served from a thread of their own.

Liveness fails only for what a restart can cure: the event loop blocked for
longer than `LOOP_STALL_LIMIT`, or a supervised task that died and is not
being restarted. A peer that is away (the API server, the flow server) never
fails it: a restart cannot bring a peer back, and restarting every copy
during a control-plane upgrade only delays recovery. The API server's state
shows in readiness, the flow server's in metrics and logs.

The endpoints run on their own thread and event loop, so a blocked main loop
is reported as such (503) rather than as a probe that times out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger(__name__)

Check = Callable[[], str | None]
"""Returns None when healthy, else a short reason for the probe's body.

Called on the health thread: a check only reads state, never awaits.
"""

HEARTBEAT_PERIOD = 1.0
LOOP_STALL_LIMIT = 10.0
"""Seconds the main event loop may go without running its heartbeat before liveness fails.

Ten heartbeats: far above any pause the adapter's own work causes (the
largest, mapping a LIST of 10,000 releases, takes well under a second).
"""

STOP_TIMEOUT = 5.0


class Heartbeat:
    """Proves the event loop still schedules tasks promptly."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, stall_limit: float = LOOP_STALL_LIMIT
    ) -> None:
        self._clock = clock
        self.stall_limit = stall_limit
        self.last_tick = clock()

    async def run(self) -> None:
        while True:
            self.last_tick = self._clock()
            await asyncio.sleep(HEARTBEAT_PERIOD)

    def check(self) -> str | None:
        stalled = self._clock() - self.last_tick
        if stalled > self.stall_limit:
            return f"event loop blocked for {stalled:.0f}s (limit {self.stall_limit:g}s)"
        return None


class HealthServer:
    """`/healthz`, `/readyz` and `/metrics` on `host:port`, answered on a thread of their own."""

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
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: OSError | None = None
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
        """Listen on the health thread; returns the port. Raises `OSError` if it cannot bind."""
        self._started.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name="health", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait)
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        port = self.port if self.port is not None else self._port
        log.info("health_listening", host=self._host, port=port)
        return port

    async def stop(self) -> None:
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        loop.call_soon_threadsafe(stopping.set)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT)
        self._thread = None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                runner = loop.run_until_complete(self._listen())
            except OSError as err:
                self._error = err
                return
            finally:
                self._started.set()
            try:
                loop.run_until_complete(self._until_stopped())
            finally:
                loop.run_until_complete(runner.cleanup())
        finally:
            loop.close()

    async def _listen(self) -> web.AppRunner:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1] if runner.addresses else self._port
        return runner

    async def _until_stopped(self) -> None:
        self._stopping = stopping = asyncio.Event()
        await stopping.wait()
