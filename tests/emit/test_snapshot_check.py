"""The snapshot check on its own: when it starts, what it does with each answer, its backoff."""

from __future__ import annotations

import asyncio
import math
import random

from flux_adapter.emit.poster import FencedError
from flux_adapter.emit.sink import RejectedError, TransientError
from flux_adapter.emit.snapshot_check import SnapshotCheck
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.metrics import Metrics
from tests.support.clock import FakeClock

RESYNCS = "flux_adapter_resyncs_total"


class Reads:
    """What each read answers, in order: a string found, or an error raised."""

    def __init__(self, *answers: str | Exception) -> None:
        self.answers = list(answers)
        self.found: list[str] = []
        self.done = 0

    async def read(self) -> str:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def check(reads: Reads, clock: FakeClock) -> tuple[SnapshotCheck[str], Metrics]:
    metrics = Metrics()

    def done() -> None:
        reads.done += 1

    made = SnapshotCheck(
        reads.read,
        reads.found.append,
        # Equal jitter on a seeded draw: the first wait lies in [1, 2] s.
        backoff=ReconnectBackoff(initial=2.0, cap=8.0, clock=clock, rng=random.Random(1)),
        metrics=metrics,
        clock=clock,
        done=done,
    )
    return made, metrics


async def run_once(made: SnapshotCheck[str], clock: FakeClock) -> None:
    made.start_if_due(lambda: True)
    await clock.settle()
    made.start_if_due(lambda: False)  # reaps the finished task, raising what it died of


async def test_a_check_is_wanted_from_the_start_and_due_at_once() -> None:
    made, _ = check(Reads(), FakeClock())

    assert made.wanted
    assert made.due_at() == 0.0


async def test_what_a_check_found_is_applied_and_the_check_is_done() -> None:
    reads = Reads("server graph")
    made, _ = check(reads, FakeClock())

    await run_once(made, FakeClock())

    assert reads.found == ["server graph"]
    assert (made.wanted, made.verified, made.due_at()) == (False, True, math.inf)
    assert reads.done == 1


async def test_no_check_starts_while_posting_is_fenced() -> None:
    reads = Reads("server graph")
    made, _ = check(reads, FakeClock())

    made.start_if_due(lambda: False)
    await asyncio.sleep(0)

    assert not made.running
    assert reads.answers == ["server graph"]


async def test_a_failed_read_is_counted_and_retried_after_a_backoff() -> None:
    clock = FakeClock(start=100.0)
    reads = Reads(TransientError("snapshot", "503", status=503), "server graph")
    made, metrics = check(reads, clock)

    await run_once(made, clock)

    assert metrics.value(RESYNCS, {"outcome": "failed"}) == 1
    assert made.wanted
    assert 101.0 <= made.due_at() <= 102.0
    made.start_if_due(lambda: True)
    assert not made.running, "started before its backoff ended"
    await clock.advance(made.due_at() - clock.now)
    await run_once(made, clock)
    assert reads.found == ["server graph"]


async def test_a_refused_read_is_not_asked_again_until_wanted() -> None:
    reads = Reads(RejectedError("snapshot", 400, "no"))
    made, metrics = check(reads, FakeClock())

    await run_once(made, FakeClock())

    assert metrics.value(RESYNCS, {"outcome": "rejected"}) == 1
    assert (made.wanted, made.verified) == (False, False)
    made.want()
    assert made.wanted


async def test_a_read_fenced_at_the_start_stays_wanted() -> None:
    reads = Reads(FencedError("snapshot"))
    made, metrics = check(reads, FakeClock())

    await run_once(made, FakeClock())

    assert made.wanted
    assert metrics.value(RESYNCS, {"outcome": "failed"}) == 0


async def test_a_check_wanted_again_during_a_read_is_done_by_that_read() -> None:
    reads = Reads("server graph")
    made, _ = check(reads, FakeClock())
    made.start_if_due(lambda: True)

    made.want()
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    assert not made.wanted


async def test_the_first_flush_waits_for_the_first_check() -> None:
    gate = asyncio.Event()
    found: list[str] = []

    async def slow_read() -> str:
        await gate.wait()
        return "server graph"

    clock = FakeClock()
    made = SnapshotCheck(
        slow_read,
        found.append,
        backoff=ReconnectBackoff(initial=1.0, cap=1.0, clock=clock),
        metrics=Metrics(),
        clock=clock,
        done=lambda: None,
    )
    made.start_if_due(lambda: True)
    first = asyncio.create_task(made.first())
    await clock.settle()
    assert not first.done()

    gate.set()
    await first
    assert found == ["server graph"]
