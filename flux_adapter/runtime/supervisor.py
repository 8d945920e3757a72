"""Restarting a failed long-running task, or giving up loudly.

A loop that dies from a bug is restarted with backoff, since a transient bug
(an odd object, a race) often passes; one that keeps dying is not hidden
behind restarts: the supervisor raises, the TaskGroup cancels everything and
the process exits non-zero so Kubernetes restarts it and the operator sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class GaveUpError(RuntimeError):
    """A supervised task failed too often in too short a time."""

    def __init__(self, name: str, failures: int, window: float) -> None:
        super().__init__(f"{name} failed {failures} times within {window:.0f}s")
        self.name = name


class ReturnedError(RuntimeError):
    """A loop that must run forever returned."""


class SupervisedTasks:
    """Which supervised loops died and are not being restarted: what liveness reports.

    A loop waiting out its restart backoff is still being restarted and does
    not count; one whose supervisor gave up does, until the process ends.
    """

    def __init__(self) -> None:
        self._dead: dict[str, str] = {}

    def gave_up(self, name: str, reason: str) -> None:
        self._dead[name] = reason

    def check(self) -> str | None:
        """None while every loop runs or is being restarted; else which died, and of what."""
        if not self._dead:
            return None
        return "; ".join(
            f"{name} died and is not being restarted: {reason}"
            for name, reason in sorted(self._dead.items())
        )


async def supervise(
    name: str,
    run: Callable[[], Awaitable[Any]],
    *,
    max_failures: int = 5,
    window: float = 300.0,
    backoff_start: float = 1.0,
    backoff_cap: float = 30.0,
    tasks: SupervisedTasks | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run `run()` until cancelled, restarting it after failures within a budget.

    Raises `GaveUpError` after `max_failures` failures within `window` seconds,
    having recorded the death in `tasks` (so liveness fails at once).
    """
    failures: deque[float] = deque()
    while True:
        try:
            await run()
            raise ReturnedError(f"{name} returned; it should run until cancelled")
        except asyncio.CancelledError:
            raise
        except Exception as err:
            now = clock()
            failures.append(now)
            while failures and failures[0] < now - window:
                failures.popleft()
            log.exception("task_failed", task=name, failures=len(failures))
            if len(failures) >= max_failures:
                if tasks is not None:
                    tasks.gave_up(name, f"{type(err).__name__}: {err}")
                raise GaveUpError(name, len(failures), window) from err
            await sleep(min(backoff_cap, backoff_start * 2 ** (len(failures) - 1)))
