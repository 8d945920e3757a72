"""The snapshot check: reading what the server really holds, in a task of its own, with backoff.

A check is *wanted* at start (a previous leader or run may have left
anything on the server), every resync interval, after a failed POST (an
outage may have cost the server its memory) and on a takeover. It runs
beside the flushes, so a slow or failing snapshot endpoint never holds back
a change; only the very first flush waits for the first check to answer,
so it diffs against what the server holds rather than against nothing.

A failed read is asked again after a backoff; a read the server refuses
(400) is not asked again until the next reason to. What a read found is
handed to `apply`, which the emitter gives.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.poster import FencedError
from flux_adapter.emit.sink import RejectedError, TooLargeError, TransientError
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.clock import Clock
from flux_adapter.observe.metrics import Metrics

log = structlog.get_logger("flux_adapter.emit.emitter")

T = TypeVar("T")


class SnapshotCheck(Generic[T]):
    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        apply: Callable[[T], None],
        *,
        backoff: ReconnectBackoff,
        metrics: Metrics,
        clock: Clock,
        done: Callable[[], None],
    ) -> None:
        """`read` fetches what the server holds (raising as `Poster.snapshot` does); `apply`
        takes what it found. `backoff` spaces failed reads; `done` is called when a read
        ends, however it ended (the emitter wakes its loop).
        """
        self._read = read
        self._apply = apply
        self._backoff = backoff
        self._metrics = metrics
        self._clock = clock
        self._done = done
        self._wanted = True
        self._verified = False
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def wanted(self) -> bool:
        """A check is owed and has not yet answered."""
        return self._wanted

    @property
    def verified(self) -> bool:
        """Some check has answered since the emitter started."""
        return self._verified

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def want(self) -> None:
        """Owe a check; it starts at the next `start_if_due` its backoff allows."""
        self._wanted = True

    def due_at(self) -> float:
        """When a wanted check that is not running may start; infinity when none is wanted."""
        if not self._wanted or self.running:
            return math.inf
        return self._retry_at

    def start_if_due(self, may_post: Callable[[], bool]) -> None:
        """Start the check in its own task when one is wanted, its backoff allows and `may_post()`.

        A check that ended with a bug raises it here, ending the emitter like any other bug.
        """
        task = self._task
        if task is not None and task.done():
            self._task = None
            task.result()
        if (
            self.running
            or not self._wanted
            or self._clock() < self._retry_at
            # Asked last: the fence is asked only when a check would start.
            or not may_post()
        ):
            return
        self._task = asyncio.create_task(self._check(), name="snapshot-check")

    async def first(self) -> None:
        """Wait for a check under way when none has answered yet; return at once otherwise."""
        if not self._verified and self._task is not None and self.running:
            await asyncio.wait({self._task})

    async def stop(self) -> None:
        """Cancel a check under way and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    async def _check(self) -> None:
        try:
            found = await self._read()
        except (TransientError, TooLargeError) as err:
            self._metrics.resyncs.labels(outcome="failed").inc()
            delay = self._backoff.failure()
            self._retry_at = self._clock() + delay
            # A bad answer was logged once already, by `BadAnswers`.
            report = log.debug if isinstance(err, BadAnswerError) else log.warning
            report(
                "snapshot_check_failed",
                status=err.status,
                detail=err.detail,
                retry_in=round(delay, 3),
            )
            return
        except RejectedError as err:
            # Without the server's view, keep ours; the next interval asks again.
            self._metrics.resyncs.labels(outcome="rejected").inc()
            self._wanted = False
            log.error("snapshot_rejected", status=err.status, body=err.body)
            return
        except FencedError:
            return  # still wanted: the next leader's first check, or ours once renewed
        finally:
            self._done()
        self._apply(found)
        self._wanted = False
        self._verified = True
        self._backoff.reset()
