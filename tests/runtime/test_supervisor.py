"""Supervision: restart a failed loop with backoff, give up loudly when it keeps failing."""

from __future__ import annotations

import asyncio

import pytest

from flux_adapter.runtime.supervisor import GaveUpError, supervise


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def run(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"bug {self.calls}")
        await asyncio.Event().wait()


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_a_failed_loop_is_restarted_and_keeps_running() -> None:
    flaky = Flaky(failures=2)
    task = asyncio.create_task(supervise("flaky", flaky.run, sleep=no_sleep))
    for _ in range(50):
        await asyncio.sleep(0)
    assert flaky.calls == 3
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_restarts_back_off_doubling_to_the_cap() -> None:
    waits: list[float] = []

    async def record(delay: float) -> None:
        waits.append(delay)

    flaky = Flaky(failures=5)
    task = asyncio.create_task(
        supervise("flaky", flaky.run, max_failures=10, backoff_start=1, backoff_cap=4, sleep=record)
    )
    for _ in range(50):
        await asyncio.sleep(0)
    assert waits == [1, 2, 4, 4, 4]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_too_many_failures_in_the_window_give_up_with_the_cause() -> None:
    flaky = Flaky(failures=100)
    with pytest.raises(GaveUpError) as caught:
        await supervise("flaky", flaky.run, max_failures=3, sleep=no_sleep)
    assert flaky.calls == 3
    assert isinstance(caught.value.__cause__, RuntimeError)


async def test_failures_older_than_the_window_are_forgiven() -> None:
    now = [0.0]

    async def pass_time(_: float) -> None:
        now[0] += 100.0

    flaky = Flaky(failures=6)
    task = asyncio.create_task(
        supervise(
            "flaky", flaky.run, max_failures=3, window=150.0, clock=lambda: now[0], sleep=pass_time
        )
    )
    for _ in range(50):
        await asyncio.sleep(0)
    assert flaky.calls == 7
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_loop_that_returns_counts_as_a_failure() -> None:
    async def returns() -> None:
        return None

    with pytest.raises(GaveUpError):
        await supervise("returns", returns, max_failures=2, sleep=no_sleep)
