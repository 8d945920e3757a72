"""A fake monotonic clock and its sleep, moved by the test instead of by waiting.

The emitter and the elector take a clock and a sleep; given these, a lease
period or a debounce window passes in as long as the event loop needs to run
what falls due in it. `advance` jumps from one sleeper's wake-up time to the
next, letting the loop run in between; real I/O (the fake servers answer
over sockets) is waited for through `busy`, which a test sets to say that a
request is still on its way.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from tests.support import PATIENCE

SETTLE_ROUNDS = 20
"""Loop iterations given to what a wake-up set going, before the clock moves on."""


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.busy: Callable[[], bool] = lambda: False
        """True while something real (a request over a socket) is still under way."""
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock was advanced `seconds` past now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    async def settle(self) -> None:
        """Let the loop run what is ready, and wait for `busy` to clear (in real time)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + PATIENCE
        while True:
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            if not self.busy():
                return
            if loop.time() > give_up:
                raise AssertionError(f"still busy after {PATIENCE} s of real time")
            await asyncio.sleep(0.001)

    async def advance(self, seconds: float) -> None:
        """Move the clock `seconds` on, waking each sleeper at its own time, in order."""
        target = self.now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, wake = heapq.heappop(self._sleepers)
            if wake.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, when)
            wake.set_result(None)
            await self.settle()
        self.now = target
        await self.settle()

    async def until(
        self, check: Callable[[], bool], what: str, *, step: float = 0.05, limit: float = 600.0
    ) -> float:
        """Advance in `step`s until `check()` holds; answers the clock's time then.

        Gives up once `limit` seconds passed on this clock.
        """
        give_up = self.now + limit
        await self.settle()
        while not check():
            if self.now >= give_up:
                raise AssertionError(f"never happened within {limit} s on the fake clock: {what}")
            await self.advance(step)
        return self.now
