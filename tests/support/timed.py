"""Emitter rigs on a fake clock: the sink tells the clock when an answer is still on its way."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from flux_adapter.emit.http_sink import HttpSink
from flux_adapter.emit.sink import Heard, Snapshot
from mapper import Batch
from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support.clock import FakeClock
from tests.support.rig import FLOW_ID, Rig


class CountedSink:
    """The HTTP sink, counting the POSTs and snapshot GETs under way.

    The clock is held while one is, unless the server holds it on purpose
    (`FlowServer.hang`): time passes over a hung request, not over a slow one.
    """

    def __init__(self, server: FlowServer) -> None:
        self.inner = HttpSink(server.url, FLOW_ID)
        self.server = server
        self.under_way = 0

    def busy(self) -> bool:
        return self.under_way > self.server.hanging

    async def post(self, batch: Batch) -> int | None:
        self.under_way += 1
        try:
            return await self.inner.post(batch)
        finally:
            self.under_way -= 1

    async def snapshot(self, region: str) -> Snapshot | None:
        self.under_way += 1
        try:
            return await self.inner.snapshot(region)
        finally:
            self.under_way -= 1

    def follow(self) -> AsyncGenerator[Heard, None]:
        return self.inner.follow()

    async def close(self) -> None:
        await self.inner.close()


def timed_rig(make_rig: MakeRig, server: FlowServer, **settings: Any) -> tuple[Rig, FakeClock]:
    """A rig whose emitter runs on a fake clock, with `settings` as `make_rig` takes them."""
    clock = FakeClock()
    sink = CountedSink(server)
    clock.busy = sink.busy
    rig = make_rig(server, sink=sink, clock=clock, sleep=clock.sleep, **settings)
    return rig, clock


async def caught_up(rig: Rig, clock: FakeClock) -> float:
    """Run the clock until the emitter has nothing left to send; answers the time then."""
    return await clock.until(lambda: rig.emitter.caught_up, "the emitter caught up")


async def synced(rig: Rig, clock: FakeClock) -> None:
    """Start on the bootstrap kit and run the clock until the first sync is done."""
    rig.load_kit()
    await rig.start()
    await caught_up(rig, clock)
