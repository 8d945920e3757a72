"""One request to the flow server, under the fence and its timeout, sorted into what it means.

Only the process knows whether this copy may post: the fence answers the
seconds left before leader election's renew deadline (infinity without
election). Each request is given the smaller of `post_timeout` and that, so
no request outlives the fence; with less than `MIN_REQUEST_SECONDS` left it
is not started at all. A POST's answer is one of `Acknowledged` (with the
flow's sequence number), `Rejected` (400), `TooLarge` (413) or `Fenced`;
anything else is a `TransientError`, raised for the caller to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.bad_answers import BadAnswers
from flux_adapter.emit.sink import RejectedError, Sink, Snapshot, TooLargeError, TransientError
from flux_adapter.observe.clock import Clock, Sleep, deadline
from flux_adapter.observe.metrics import Metrics
from mapper import Batch

log = structlog.get_logger("flux_adapter.emit.emitter")

MIN_REQUEST_SECONDS = 1.0
"""A request is not started with less time than this left before the fence closes."""


def unfenced() -> float:
    """The fence of a copy that runs without leader election: it never closes."""
    return float("inf")


class FencedError(Exception):
    """The fence closed before a request could start: this copy may no longer post."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation}: fenced")
        self.operation = operation


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A 2xx: the server holds the envelope, numbered `seq` (`None`: the sink gives no numbers)."""

    seq: int | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A 400: the server calls the values invalid; sending them again cannot help."""

    error: RejectedError


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A 413: something on the path refuses a body this large."""


@dataclass(frozen=True, slots=True)
class Fenced:
    """Nothing was sent: the fence closes too soon to start a request."""


Answer = Acknowledged | Rejected | TooLarge | Fenced


class Poster:
    def __init__(
        self,
        sink: Sink,
        *,
        fence: Callable[[], float],
        post_timeout: float,
        metrics: Metrics,
        clock: Clock,
        sleep: Sleep,
        bad_answers: BadAnswers | None = None,
    ) -> None:
        """`fence`: seconds left before this copy must stop posting; `post_timeout`: the most
        any one request may take (s). `clock` and `sleep` time the requests; an answer
        that cannot be read is reported to `bad_answers` before it is raised.
        """
        self._sink = sink
        self._fence = fence
        self._post_timeout = post_timeout
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._bad_answers = bad_answers if bad_answers is not None else BadAnswers(metrics)

    def may_post(self) -> bool:
        """At least `MIN_REQUEST_SECONDS` are left before the fence closes."""
        return self._fence() >= MIN_REQUEST_SECONDS

    def _limit(self, operation: str) -> float:
        """The seconds this request may take; `FencedError` when too few are left to start it."""
        left = self._fence()
        if left < MIN_REQUEST_SECONDS:
            raise FencedError(operation)
        return min(self._post_timeout, left)

    async def post(self, batch: Batch) -> Answer:
        """POST one envelope; raises `TransientError` when it failed in a way worth retrying.

        Running out of time is a transient failure like any other.
        """
        started = self._clock()
        try:
            limit = self._limit("post")
            async with deadline(self._sleep, limit):
                seq = await self._sink.post(batch)
        except TimeoutError as err:
            self._count(batch, "failed")
            raise TransientError("post", f"no answer within {limit:.3g} s") from err
        except TransientError as err:
            self._count(batch, "failed")
            if isinstance(err, BadAnswerError):
                self._bad_answers.report(err)
            raise
        except TooLargeError:
            self._count(batch, "too_large")
            return TooLarge()
        except RejectedError as err:
            self._count(batch, "rejected")
            log.error(
                "envelope_rejected",
                status=err.status,
                body=err.body,
                envelope_type=batch.type,
                envelope_bytes=batch.size,
            )
            return Rejected(err)
        except FencedError:
            return Fenced()
        finally:
            self._metrics.post_latency.observe(self._clock() - started)
        self._count(batch, "acked")
        self._metrics.last_post_success.set(time.time())
        return Acknowledged(seq)

    async def snapshot(self, region: str) -> Snapshot | None:
        """GET the server's snapshot (`region`'s share at least); `None` when it holds nothing.

        Raises `TransientError` (a timeout and a `BadAnswerError` included),
        `TooLargeError`, `RejectedError`, or `FencedError` when too little
        time is left to ask.
        """
        limit = self._limit("snapshot")
        try:
            async with deadline(self._sleep, limit):
                return await self._sink.snapshot(region)
        except TimeoutError as err:
            raise TransientError("snapshot", f"no answer within {limit:.3g} s") from err
        except BadAnswerError as err:
            self._bad_answers.report(err)
            raise

    def _count(self, batch: Batch, outcome: str) -> None:
        self._metrics.envelopes.labels(type=batch.type, outcome=outcome).inc()
