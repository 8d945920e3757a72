"""Where the emitter's envelopes go, and the two ways a delivery can fail.

The emitter decides what to send and when; a sink only carries one envelope
or fetches the server's snapshot. Keeping the transport behind this seam lets
the same emitter post over HTTP or print JSON lines for a dry run, and lets
tests swap in the fake flow server without touching the emitter.

Sinks set no deadline of their own: the caller bounds each call with
`asyncio.timeout`, so every sink honours the same limit the same way.

A sink that can follow the flow's event stream (`docs/contract.md`, "The
event stream") also implements `Follows`; the emitter then learns how the
flow's sequence numbers advance between its own POSTs. The dry run cannot.

Failures are split by what the caller should do about them, not by where
they came from: `TransientError` means "try again later, the same data may
succeed", `TooLargeError` means "something on the path refuses bodies this
large: send it in smaller pieces", and `RejectedError` means "the server
calls this value invalid".
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mapper import Batch

Snapshot = Mapping[str, object]
"""A `snapshot` envelope as the server returned it: raw JSON, not yet trusted."""


class SinkError(Exception):
    """A delivery or snapshot read that did not succeed."""

    def __init__(self, operation: str, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"{operation}: {detail}" + (f" (HTTP {status})" if status else ""))
        self.operation = operation
        self.detail = detail
        self.status = status


class TransientError(SinkError):
    """The server or the path to it failed; the same request may succeed later.

    `retry_after` carries the server's own hint in seconds (429/503), which a
    caller must wait at least before asking again.
    """

    def __init__(
        self,
        operation: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(operation, detail, status=status)
        self.retry_after = retry_after


class TooLargeError(SinkError):
    """A 413: the server or a proxy in front of it refuses a body of this size.

    It says nothing about the values in the body, only about its length.
    """


class RejectedError(SinkError):
    """The server called the request invalid (a 400) or answered with something unusable.

    Repeating the same request cannot help, so the caller must not retry it
    with the same values.
    """

    def __init__(self, operation: str, status: int, body: str) -> None:
        super().__init__(operation, body or "(empty body)", status=status)
        self.body = body


@dataclass(frozen=True, slots=True)
class Heard:
    """One event of the flow's stream: its name and the sequence number it carries, if any.

    The first event of a connection is `snapshot`, numbered with the flow's
    newest number; each envelope any adapter posts follows under its type
    and number; `heartbeat` carries none (`docs/contract.md`, "The event stream").
    """

    event: str
    seq: int | None


class Sink(Protocol):
    async def post(self, batch: Batch) -> int | None:
        """Deliver one envelope; return only once the server acknowledged it.

        Answers the sequence number the server gave it (`docs/contract.md`,
        "Sequence numbers and the ring"), or `None` when the sink has none.
        Raises `TransientError`, `TooLargeError` or `RejectedError`.
        """

    async def snapshot(self, region: str) -> Snapshot | None:
        """The server's current graph for the flow; `None` when it holds nothing.

        A sink may leave out what is not `region`'s (nodes outside it, edges
        not pointing into it); the caller takes only that share anyway.
        Raises `TransientError` (a `BadAnswerError` for an unreadable answer)
        or `RejectedError`.
        """

    async def close(self) -> None:
        """Release connections; the sink is not used afterwards."""


@runtime_checkable
class Follows(Protocol):
    def follow(self) -> AsyncGenerator[Heard, None]:
        """The flow's event stream, from its opening `snapshot` event on, until it ends.

        The caller bounds each wait with its own deadline and closes the
        iterator when done. Raises `TransientError` (and `RejectedError`)
        as `post` does; the end of the iterator means the server closed it.
        """
        ...
