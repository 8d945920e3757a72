"""What the parts of the emitter share: its state, its constants, the methods they call.

`Emitter` (`emitter.py`) is assembled from parts, one concern a module:
flushing, delivery, loss detection, ring refresh and stream following. Each
part is a class over `EmitterState`, which declares every attribute the
parts read (set in `Emitter.__init__`) and, for the type checker only, the
methods they call across parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from tenacity import RetryCallState

from flux_adapter.emit.rejections import Key, Rejections, Value
from flux_adapter.emit.retry_wait import BackoffWait
from flux_adapter.emit.ring import Ring
from flux_adapter.emit.sink import Heard, RejectedError, Sink, Snapshot
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.metrics import Metrics
from mapper import Batch, Graph, GraphState, Keys, Resend


class FencedError(Exception):
    """The fence closed before a request could start: this copy may no longer post."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation}: fenced")
        self.operation = operation


EMIT_INTERVAL = 0.2
POST_TIMEOUT = 10.0
RESYNC_INTERVAL = 60.0
SHUTDOWN_TIMEOUT = 5.0
BACKOFF_START = 0.2
BACKOFF_CAP = 30.0
TRIM_AFTER_BYTES = 1 << 20
"""After a flush that sent this much (a full sync), freed buffers are handed back."""
RING_CAPACITY = 4096
"""The flow server's default `FLOW_SERVER_RING_CAPACITY`, in envelopes."""
STREAM_SILENCE = 45.0
"""Seconds without a stream event (heartbeats come every 15 s) before it is reopened."""
FENCED_POLL = 1.0
"""Seconds between looks at the fence while it keeps this copy from following the stream."""
MIN_REQUEST_SECONDS = 1.0
"""A request is not started with less time than this left before the fence closes."""


def unfenced() -> float:
    return math.inf


def each_key(keys: Keys) -> list[Key]:
    return [*keys.nodes, *keys.rels]


def holds(state: GraphState, key: Key) -> bool:
    return key in state.nodes if isinstance(key, str) else key in state.rels


def shown_key(key: Key) -> str:
    return key if isinstance(key, str) else " ".join(key)


class EmitterState:
    _desired: Graph
    _region: str
    _sink: Sink
    _metrics: Metrics
    _ready: Callable[[], bool]
    _fence: Callable[[], float]
    _emit_interval: float
    _post_timeout: float
    _resync_interval: float
    _shutdown_timeout: float
    _backoff: BackoffWait
    _backoff_start: float
    _backoff_cap: float
    _check_backoff: ReconnectBackoff
    _max_bytes: int
    _limit: int
    _ring: Ring[Key] | None
    _follows: bool
    _following: bool
    _stream_task: asyncio.Task[None] | None
    _refresh_not_before: float
    _refresh_planned: bool
    _check_epoch: int
    _check_mark: int
    _acked: GraphState
    _refused: Rejections
    _oversized: Rejections
    _dirty: Keys
    _arrived: dict[Key, float]
    _inflight: dict[Key, float]
    _check_wanted: bool
    _verified: bool
    _check_task: asyncio.Task[None] | None
    _check_retry_at: float
    _full_needed: bool
    _flush_now: bool
    _window: float | None
    _flushing: bool
    _wake: asyncio.Event
    _task: asyncio.Task[None] | None
    _stopped: bool
    _flush_bytes: int

    if TYPE_CHECKING:

        @property
        def _checking(self) -> bool: ...

        def _pending(self) -> int: ...

        def _open_window(self, now: float) -> None: ...

        def _schedule_check(self) -> None: ...

        def _check_due(self) -> float: ...

        def _start_check_if_due(self) -> None: ...

        async def _flush(self) -> None: ...

        def _before_retry(self, state: RetryCallState) -> None: ...

        async def _attempt(self) -> bool: ...

        def _every_key(self) -> Keys: ...

        def _take(self, keys: Keys) -> Keys: ...

        def _give_back(self, taken: Keys) -> None: ...

        def _may_post(self) -> bool: ...

        def _deadline(self, operation: str) -> contextlib.AbstractAsyncContextManager[None]: ...

        async def _send(self, batches: list[Batch]) -> bool: ...

        async def _post(self, batch: Batch) -> bool: ...

        async def _send_smaller(self, batch: Batch) -> bool: ...

        def _reject(self, batch: Batch, err: RejectedError) -> None: ...

        async def _check(self) -> None: ...

        def _checked(self, snapshot: Snapshot | None) -> None: ...

        def _number_view(self, view: GraphState) -> None: ...

        def _lost(self, source: str, seq: int, seen: int) -> None: ...

        def _same(self, key: Key) -> bool: ...

        def _refresh_at(self, now: float) -> float: ...

        def _refresh_plan(self) -> Resend | None: ...

        def _refreshed(self, refresh: Resend) -> None: ...

        def _count_refreshed(self, values: Mapping[Key, Value]) -> None: ...

        def _show_ring(self) -> None: ...

        def _set_following(self, following: bool) -> None: ...

        def _reap_stream(self) -> None: ...

        async def _follow(self) -> None: ...

        def _heard(self, heard: Heard, at_least: int) -> None: ...
