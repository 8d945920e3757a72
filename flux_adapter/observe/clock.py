"""Time as the emitter and the elector take it: a clock, a sleep, a deadline timed by that sleep.

Passing both in (as client-go's reflector and leader election take a clock)
lets a test drive lease periods, debounce windows and request deadlines with
a fake clock instead of waiting them out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

Clock = Callable[[], float]
"""Seconds on a monotonic scale (`time.monotonic` in the process)."""

Sleep = Callable[[float], Awaitable[None]]
"""Wait this many seconds on the same scale as the clock (`asyncio.sleep` in the process)."""

MONOTONIC: Clock = time.monotonic
SLEEP: Sleep = asyncio.sleep


def deadline(sleep: Sleep, seconds: float) -> Deadline:
    """`async with deadline(sleep, seconds)`: `asyncio.timeout(seconds)` timed by `sleep`.

    The body is cancelled once `sleep(seconds)` returns and `TimeoutError`
    is raised in its place; a cancellation from outside passes through as
    it is. Must be entered inside a task (else `RuntimeError`).
    """
    return Deadline(sleep, seconds)


class Deadline:
    """The context manager `deadline()` returns; one use only."""

    def __init__(self, sleep: Sleep, seconds: float) -> None:
        self._sleep = sleep
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._expired = False
        self._cancelling = 0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("deadline() must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._timer = asyncio.create_task(self._ring(task))

    async def _ring(self, task: asyncio.Task[object]) -> None:
        await self._sleep(self._seconds)
        self._expired = True
        task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._timer is not None
        assert self._task is not None
        self._timer.cancel()
        # As `asyncio.timeout` does: only the cancel this deadline sent becomes a timeout.
        if (
            self._expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
