"""The emitter: makes the flow server's graph equal the desired one, and keeps it so.

It is level-triggered (`docs/design.md`, "Level-triggered, not
edge-triggered"). It never forwards events; it keeps the *acknowledged*
graph (what the server is known to hold, advanced only by 2xx answers) and,
whenever the cluster changed, sends the difference between that and the
desired graph, after a debounce window of `emit_interval` that is never
extended. A failed POST leaves *acknowledged* behind, so the next attempt
sends the then-current values; a value that changed back sends nothing.

It is assembled from parts, one concern a module, over the state declared
in `emitter_state.py`:

- `flushing.py`: one flush, retried until it goes through;
- `delivery.py`: each POST bounded by the fence, a 413 split and learned, a
  400 set aside until the next check (`docs/design.md`, "Delivery through
  faults");
- `loss_detection.py`: the snapshot check in a task of its own, and a flow
  the server lost;
- `ring_refresh.py` and `stream_following.py`: staying ahead of the ring
  (`docs/design.md`, "Staying ahead of the ring").

Only the process decides whether this copy may post (the fence) and whether
the watch caches are complete (`ready`); the emitter asks both before every
request and never touches Kubernetes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

import structlog

from flux_adapter.emit.delivery import Delivery
from flux_adapter.emit.emitter_state import (
    BACKOFF_CAP,
    BACKOFF_START,
    EMIT_INTERVAL,
    POST_TIMEOUT,
    RESYNC_INTERVAL,
    RING_CAPACITY,
    SHUTDOWN_TIMEOUT,
    each_key,
    unfenced,
)
from flux_adapter.emit.flushing import Flushing
from flux_adapter.emit.loss_detection import LossDetection
from flux_adapter.emit.rejections import Key, Rejections
from flux_adapter.emit.retry_wait import BackoffWait
from flux_adapter.emit.ring import Ring
from flux_adapter.emit.ring_refresh import RingRefresh
from flux_adapter.emit.sink import (
    Follows,
    Sink,
)
from flux_adapter.emit.stream_following import StreamFollowing
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.metrics import Metrics
from mapper import MAX_ENVELOPE_BYTES, Graph, GraphState, Keys

log = structlog.get_logger(__name__)


class Emitter(Flushing, Delivery, LossDetection, RingRefresh, StreamFollowing):
    def __init__(
        self,
        desired: Graph,
        sink: Sink,
        *,
        metrics: Metrics,
        ready: Callable[[], bool],
        fence: Callable[[], float] = unfenced,
        emit_interval: float = EMIT_INTERVAL,
        post_timeout: float = POST_TIMEOUT,
        resync_interval: float = RESYNC_INTERVAL,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        backoff_start: float = BACKOFF_START,
        backoff_cap: float = BACKOFF_CAP,
        max_bytes: int = MAX_ENVELOPE_BYTES,
        ring_capacity: int = RING_CAPACITY,
        ring_refresh: bool = True,
        follow_stream: bool = True,
    ) -> None:
        """Wire the emitter; nothing is sent before `run()` or `stop()`.

        - `desired`: the graph the watch layer keeps current; its `region`
          names the nodes this adapter owns on the server.
        - `sink`: where envelopes go (`HttpSink`, `DryRunSink`); the emitter
          closes it on `stop()`.
        - `ready`: true once both resources completed their first LIST. Until
          then only the region node is sent, so a half-filled cache never
          diffs into deleting the server's graph.
        - `fence`: seconds left before leader election's renew deadline
          (infinity without election), asked before every request. Each POST
          and snapshot GET is given at most that long, so no request outlives
          the fence; with less than `MIN_REQUEST_SECONDS` left nothing is
          started, not even the rest of a flush.
        - `emit_interval`: the debounce window (s). `post_timeout`: the limit
          on each POST and snapshot GET (s). `resync_interval`: how often the
          server's snapshot is checked (s). `shutdown_timeout`: how long
          `stop()` may spend flushing (s). `backoff_start`/`backoff_cap`:
          the full-jitter retry ceiling's first and largest value (s).
        - `max_bytes`: the envelope size limit (the server's 1 MiB). A proxy
          that refuses less is learned from its 413s; this is the most ever sent.
        - `ring_capacity`: the server's ring, in envelopes (`docs/contract.md`,
          "Sequence numbers and the ring"); it must match the server's.
          `ring_refresh`: keep this region's keys ahead of the ring and
          re-send at once when the numbers show a lost flow; false leaves
          both to the snapshot check alone (the previous behaviour).
          `follow_stream`: learn the flow's numbers from its event stream
          too ("The event stream"), when the sink can follow it.
        """
        for name, value in (
            ("emit_interval", emit_interval),
            ("post_timeout", post_timeout),
            ("resync_interval", resync_interval),
            ("shutdown_timeout", shutdown_timeout),
            ("max_bytes", max_bytes),
        ):
            if not value > 0:
                raise ValueError(f"Emitter {name} must be positive, got {value!r}")
        self._desired = desired
        self._region = desired.region
        self._sink = sink
        self._metrics = metrics
        self._ready = ready
        self._fence = fence
        self._emit_interval = emit_interval
        self._post_timeout = post_timeout
        self._resync_interval = resync_interval
        self._shutdown_timeout = shutdown_timeout
        self._backoff = BackoffWait(backoff_start, backoff_cap)
        self._backoff_start = backoff_start
        self._backoff_cap = backoff_cap
        self._check_backoff = ReconnectBackoff(
            initial=backoff_start, cap=max(backoff_start, min(backoff_cap, resync_interval))
        )
        self._max_bytes = max_bytes
        self._limit = max_bytes
        self._metrics.envelope_limit.set(max_bytes)
        self._ring: Ring[Key] | None = Ring(ring_capacity) if ring_refresh else None
        self._follows = self._ring is not None and follow_stream and isinstance(sink, Follows)
        self._following = False
        self._stream_task: asyncio.Task[None] | None = None
        self._refresh_not_before = 0.0
        self._refresh_planned = False
        # The count the snapshot check started in, and the newest number then.
        self._check_epoch = 0
        self._check_mark = 0

        self._acked = GraphState()
        # Values the server called invalid (400), and items too large for the
        # path on their own (413): both wait for the next check or a change.
        self._refused = Rejections()
        self._oversized = Rejections()
        self._dirty = Keys()
        # When each dirty key first changed, for the change-to-ack latency; keys
        # taken into a flush move to `_inflight` so later changes start afresh.
        self._arrived: dict[Key, float] = {}
        self._inflight: dict[Key, float] = {}
        # The previous leader, or a previous run, may have left anything on the
        # server: begin by reading it rather than assuming it is empty.
        self._check_wanted = True
        self._verified = False
        self._check_task: asyncio.Task[None] | None = None
        self._check_retry_at = 0.0
        self._full_needed = True
        self._flush_now = False
        self._window: float | None = None
        self._flushing = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._flush_bytes = 0

    @property
    def acknowledged(self) -> GraphState:
        """What the server is known to hold of this region (read it, do not change it)."""
        return self._acked

    @property
    def flow_sequence(self) -> int:
        """The flow's newest sequence number this copy knows (0: none yet, or not tracked)."""
        return self._ring.numbers.latest if self._ring is not None else 0

    @property
    def caught_up(self) -> bool:
        """Nothing is waiting to be sent: no dirty key, no check, no flush in flight."""
        return not (
            self._flushing
            or self._flush_now
            or self._window is not None
            or self._dirty
            or self._check_wanted
            or self._checking
            or self._full_needed
        )

    def notify(self, keys: Keys) -> None:
        """Mark keys the desired graph changed; the watch layer calls this per applied change."""
        if not keys:
            return
        now = time.monotonic()
        for key in each_key(keys):
            self._arrived.setdefault(key, now)
        self._dirty.update(keys)
        self._open_window(now)
        self._metrics.pending_keys.set(self._pending())

    def request_resync(self) -> None:
        """Check the server's snapshot and send a full diff now (e.g. on gaining leadership).

        Sequence numbers known so far are forgotten: another copy may have
        posted meanwhile, so every key counts as the oldest until re-upserted.
        """
        if self._ring is not None:
            self._ring.forget()
        self._schedule_check()
        self._wake.set()

    async def run(self) -> None:
        """Keep the server in step until cancelled; starts with a snapshot check and the region."""
        if self._task is not None or self._stopped:
            raise RuntimeError("Emitter.run() is already running or the emitter was stopped")
        self._task = asyncio.current_task()
        log.info(
            "emitter_started",
            sink=repr(self._sink),
            region=self._region,
            emit_interval=self._emit_interval,
            resync_interval=self._resync_interval,
        )
        next_check = time.monotonic() + self._resync_interval
        if self._follows:
            self._stream_task = asyncio.create_task(self._follow(), name="flow-stream")
        try:
            self._start_check_if_due()
            await self._flush()
            while True:
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + self._resync_interval
                    self._schedule_check()
                self._start_check_if_due()
                self._reap_stream()
                refresh_at = self._refresh_at(now)
                if (
                    self._flush_now
                    or (self._window is not None and now >= self._window)
                    or now >= refresh_at
                ):
                    await self._flush()
                    continue
                wake_at = min(next_check, self._window or math.inf, self._check_due(), refresh_at)
                self._wake.clear()
                # Not wait_for: on 3.11 it can swallow a cancel that races the wake-up.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, wake_at - now)):
                        await self._wake.wait()
        finally:
            self._task = None
            for task in (self._check_task, self._stream_task):
                if task is not None:
                    task.cancel()
                    await asyncio.wait({task})
            self._check_task = self._stream_task = None
            self._set_following(False)

    async def stop(self) -> None:
        """Flush what is pending within `shutdown_timeout`, then close the sink.

        A running `run()` is cancelled first, so the final flush is the only
        one in flight. Calling it again does nothing.
        """
        if self._stopped:
            return
        self._stopped = True
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})
        try:
            async with asyncio.timeout(self._shutdown_timeout):
                await self._flush()
        except TimeoutError:
            log.warning(
                "shutdown_flush_incomplete",
                pending_keys=self._pending(),
                shutdown_timeout=self._shutdown_timeout,
            )
        finally:
            await self._sink.close()
        log.info("emitter_stopped", pending_keys=self._pending())
