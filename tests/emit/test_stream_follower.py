"""The stream follower on its own: which numbers it hands on, with which floor, and when."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.ring_keeper import Mark
from flux_adapter.emit.sink import Heard, TransientError
from flux_adapter.emit.stream_follower import STREAM_SILENCE, StreamFollower
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.metrics import Metrics
from tests.support.clock import FakeClock

CONNECTED = "flux_adapter_stream_connected"
NOTHING_YET = Mark(0, 0)


@dataclass
class Stream:
    """A flow's stream: each connection plays the next script, then stays open and silent."""

    scripts: list[list[Heard | Exception]]
    opened: int = 0
    events: asyncio.Queue[Heard | Exception] = field(default_factory=asyncio.Queue)
    answering: asyncio.Event = field(default_factory=asyncio.Event)
    """Cleared, a connection opens but says nothing until it is set."""

    def __post_init__(self) -> None:
        self.answering.set()

    async def follow(self) -> AsyncGenerator[Heard, None]:
        self.opened += 1
        await self.answering.wait()
        for item in self.scripts.pop(0) if self.scripts else []:
            if isinstance(item, Exception):
                raise item
            yield item
        while True:
            item = await self.events.get()
            if isinstance(item, Exception):
                raise item
            yield item


@dataclass
class Rig:
    clock: FakeClock
    stream: Stream
    follower: StreamFollower
    metrics: Metrics
    heard: list[tuple[int, int]]
    count: list[Mark]
    fence: list[bool]
    changes: list[bool]


def rig(*scripts: list[Heard | Exception], mark: Mark = NOTHING_YET, cap: float = 1.0) -> Rig:
    clock = FakeClock()
    stream = Stream(list(scripts))
    metrics = Metrics()
    heard: list[tuple[int, int]] = []
    count = [mark]
    fence = [True]
    changes: list[bool] = []
    follower = StreamFollower(
        stream,
        may_post=lambda: fence[0],
        mark=lambda: count[0],
        heard=lambda seq, at_least: heard.append((seq, at_least)),
        changed=changes.append,
        open_timeout=2.0,
        backoff=ReconnectBackoff(initial=1.0, cap=cap, clock=clock, rng=random.Random(1)),
        metrics=metrics,
        sleep=clock.sleep,
    )
    return Rig(clock, stream, follower, metrics, heard, count, fence, changes)


async def test_the_opening_number_is_handed_on_above_the_newest_known() -> None:
    r = rig([Heard("snapshot", 40)], mark=Mark(0, 37))
    r.follower.start()
    await r.clock.settle()

    assert r.heard == [(40, 37)]
    assert r.follower.following
    assert r.metrics.value(CONNECTED) == 1
    await r.follower.stop()


async def test_each_later_number_is_handed_on_above_the_previous_one() -> None:
    r = rig([Heard("snapshot", 40), Heard("upsert-nodes", 41), Heard("heartbeat", None)])
    r.follower.start()
    await r.clock.settle()

    assert r.heard == [(40, 0), (41, 40)]
    await r.follower.stop()


async def test_a_loss_while_opening_drops_the_floor_to_zero() -> None:
    r = rig([Heard("snapshot", 3)], mark=Mark(0, 37))
    r.stream.answering.clear()
    r.follower.start()
    await r.clock.settle()
    r.count[0] = Mark(1, 0)  # the POST side saw the flow lost meanwhile
    r.stream.answering.set()
    await r.clock.settle()

    assert r.heard == [(3, 0)]
    await r.follower.stop()


async def test_a_stream_silent_past_the_limit_is_reopened() -> None:
    r = rig([Heard("snapshot", 1)], [Heard("snapshot", 2)])
    r.follower.start()
    await r.clock.settle()

    await r.clock.advance(STREAM_SILENCE)
    assert not r.follower.following
    await r.clock.advance(1.0)  # the reconnection's backoff

    assert r.stream.opened == 2
    assert r.heard == [(1, 0), (2, 0)]
    await r.follower.stop()


async def test_a_failed_stream_is_retried_after_a_backoff() -> None:
    r = rig([TransientError("stream", "404", status=404)], [Heard("snapshot", 5)])
    r.follower.start()
    await r.clock.settle()
    assert r.stream.opened == 1

    await r.clock.advance(1.0)

    assert r.stream.opened == 2
    assert r.heard == [(5, 0)]
    await r.follower.stop()


async def test_the_stream_is_left_once_the_fence_closes_and_not_opened_while_fenced() -> None:
    r = rig([Heard("snapshot", 1)])
    r.follower.start()
    await r.clock.settle()

    r.fence[0] = False
    r.stream.events.put_nowait(Heard("heartbeat", None))
    await r.clock.settle()
    assert not r.follower.following
    await r.clock.advance(10.0)

    assert r.stream.opened == 1
    assert r.metrics.value(CONNECTED) == 0
    await r.follower.stop()


async def test_nothing_is_followed_while_fenced_from_the_start() -> None:
    r = rig([Heard("snapshot", 1)])
    r.fence[0] = False
    r.follower.start()

    await r.clock.advance(5.0)

    assert r.stream.opened == 0
    await r.follower.stop()


async def test_each_start_and_end_of_following_is_told_once() -> None:
    r = rig([Heard("snapshot", 1), Heard("upsert-nodes", 2)], [Heard("snapshot", 3)])
    r.follower.start()
    await r.clock.settle()
    assert r.changes == [True]

    await r.clock.advance(STREAM_SILENCE)  # silent: dropped
    assert r.changes == [True, False]
    await r.clock.advance(1.0)  # reopened after the backoff

    assert r.changes == [True, False, True]
    await r.follower.stop()
    assert r.changes == [True, False, True, False]


async def test_a_stream_that_keeps_sending_bad_ids_is_reopened_ever_less_often() -> None:
    bad_id = BadAnswerError("stream", "seq", "id '\u00b2' is not a decimal number")
    script: list[Heard | Exception] = [Heard("snapshot", 1), bad_id]
    r = rig(*[list(script) for _ in range(30)], cap=30.0)
    r.follower.start()
    await r.clock.settle()

    for _ in range(20):
        await r.clock.advance(1.0)

    # Waits of 0.5-1, 1-2, 2-4, 4-8 and 8-16 s: five openings at most in 20 s,
    # where a backoff reset by each opening event would allow twenty.
    assert r.stream.opened <= 5
    assert (
        r.metrics.value("flux_adapter_bad_answers_total", {"operation": "stream", "kind": "seq"})
        == r.stream.opened
    )
    await r.follower.stop()
