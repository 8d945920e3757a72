"""A deadline timed by an injected sleep behaves as `asyncio.timeout` does."""

from __future__ import annotations

import asyncio

import pytest

from flux_adapter.observe.clock import deadline
from tests.support.clock import FakeClock


async def test_a_body_that_outlasts_its_deadline_ends_in_a_timeout() -> None:
    clock = FakeClock()
    never = asyncio.Event()

    async def wait() -> None:
        async with deadline(clock.sleep, 2.0):
            await never.wait()

    task = asyncio.create_task(wait())
    await clock.advance(1.9)
    assert not task.done()
    await clock.advance(0.1)
    with pytest.raises(TimeoutError):
        await task


async def test_a_body_done_in_time_is_not_disturbed() -> None:
    clock = FakeClock()

    async with deadline(clock.sleep, 2.0):
        await asyncio.sleep(0)
    await clock.advance(5.0)

    # A cancel sent after the body ended would land on this await.
    assert await asyncio.sleep(0, result="went on") == "went on"


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    clock = FakeClock()
    never = asyncio.Event()

    async def wait() -> None:
        async with deadline(clock.sleep, 2.0):
            await never.wait()

    task = asyncio.create_task(wait())
    await clock.settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_real_sleep_times_a_real_deadline() -> None:
    with pytest.raises(TimeoutError):
        async with deadline(asyncio.sleep, 0.01):
            await asyncio.Event().wait()
