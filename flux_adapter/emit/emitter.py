"""The emitter: makes the flow server's graph equal the desired one, and keeps it so.

It is level-triggered. It never forwards events; it keeps the *acknowledged*
graph (what the server is known to hold, advanced only by 2xx answers) and,
whenever the cluster changed, sends the difference between that and the
desired graph. Everything the issue asks of it falls out of that one rule:

- Debounce: the first change opens a window of `emit_interval`; when it
  closes, all keys touched meanwhile are diffed once. The window is never
  extended, so steady churn still flushes every interval, and changes made
  while a flush is in flight open the next window.
- Deduplication: a key that changed and changed back diffs to nothing.
- Retries: a failed POST leaves *acknowledged* behind, so the next attempt
  diffs again and sends the then-current values, never an outdated one.
- The ring (`docs/contract.md`, "Sequence numbers and the ring"): every
  acknowledged envelope's sequence number is kept per key, and the flow's
  newest number is learned from POST answers and from the event stream
  ("The event stream"), followed in a task of its own while this copy may
  post. When a key's room before eviction falls to the margin
  (`flux_adapter/ring.py`), its value is upserted again, with every key
  falling due soon, in as few envelopes as the size limit allows. A number
  lower than one the server had already passed means it lost the flow
  (a restart, a deleted flow): *acknowledged* is emptied and everything is
  sent again at once.
- Lost server state the numbers cannot tell (a flow deleted with no one
  posting, a ring capacity set differently): a periodic snapshot check,
  and one after every outage, replaces *acknowledged* with what the server
  really holds of this region, so the next diff re-sends exactly what was
  lost and deletes what should not be there. Keys it finds under numbers
  this copy does not know count as the oldest.

Delivery and loss detection are independent: the snapshot check runs in a
task of its own, retried on its own backoff when it fails, so a failing or
hanging snapshot endpoint never holds back a change. The one wait is the
first diff after start or a takeover, which waits for the check already in
flight (at most `post_timeout`) so a restart does not re-send what the
server already holds.

A 413 speaks about size, not values: the envelope is split and resent, the
largest size that works is learned (and tried larger again after each
check), and an item that is too large on its own is held and retried at
each check, never dropped. Only a 400 sets a value aside, until the next
check or until the value changes.

Only the process decides whether this copy may post (leader election) and
whether the watch caches are complete (`ready`); the emitter asks both
before every request and never touches Kubernetes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from flux_adapter.emit.rejections import Key, Rejections, Value, sent_values
from flux_adapter.emit.retry_wait import BackoffWait
from flux_adapter.emit.ring import Ring
from flux_adapter.emit.sink import (
    Follows,
    Heard,
    RejectedError,
    Sink,
    SinkError,
    Snapshot,
    TooLargeError,
    TransientError,
)
from flux_adapter.emit.snapshot import own_view
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.heap import return_free_memory
from flux_adapter.observe.metrics import Metrics
from mapper import MAX_ENVELOPE_BYTES, Batch, Graph, GraphState, Keys, Resend, diff, split

log = structlog.get_logger(__name__)


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


def _unfenced() -> float:
    return math.inf


def _each(keys: Keys) -> list[Key]:
    return [*keys.nodes, *keys.rels]


def _holds(state: GraphState, key: Key) -> bool:
    return key in state.nodes if isinstance(key, str) else key in state.rels


def _shown(key: Key) -> str:
    return key if isinstance(key, str) else " ".join(key)


class Emitter:
    def __init__(
        self,
        desired: Graph,
        sink: Sink,
        *,
        metrics: Metrics,
        ready: Callable[[], bool],
        fence: Callable[[], float] = _unfenced,
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

    @property
    def _checking(self) -> bool:
        return self._check_task is not None and not self._check_task.done()

    def notify(self, keys: Keys) -> None:
        """Mark keys the desired graph changed; the watch layer calls this per applied change."""
        if not keys:
            return
        now = time.monotonic()
        for key in _each(keys):
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

    def _pending(self) -> int:
        return len(self._arrived) + len(self._inflight)

    def _open_window(self, now: float) -> None:
        if self._window is None:
            self._window = now + self._emit_interval
            self._wake.set()

    def _schedule_check(self) -> None:
        self._check_wanted = True
        self._full_needed = True
        self._flush_now = True

    def _check_due(self) -> float:
        """When a wanted check that is not running may start; infinity when none is wanted."""
        if not self._check_wanted or self._checking:
            return math.inf
        return self._check_retry_at

    def _start_check_if_due(self) -> None:
        """Start the snapshot check in its own task when one is wanted and its backoff allows."""
        task = self._check_task
        if task is not None and task.done():
            self._check_task = None
            task.result()  # a bug in the check ends run() like any other bug
        if (
            self._stopped
            or self._checking
            or not self._check_wanted
            or time.monotonic() < self._check_retry_at
            or not self._may_post()
        ):
            return
        self._check_task = asyncio.create_task(self._check(), name="snapshot-check")

    async def _flush(self) -> None:
        """One flush, retried on transient failures until it goes through; never gives up."""
        self._window = None
        self._flush_now = False
        self._flushing = True
        self._flush_bytes = 0
        self._refresh_planned = False
        held = False
        try:
            async for attempt in AsyncRetrying(
                stop=stop_never,
                wait=self._backoff,
                retry=retry_if_exception_type(TransientError),
                before_sleep=self._before_retry,
                reraise=True,
            ):
                with attempt:
                    held = await self._attempt()
        finally:
            self._flushing = False
            self._metrics.pending_keys.set(self._pending())
            self._metrics.nodes_held.set(len(self._desired.nodes))
            if self._flush_bytes >= TRIM_AFTER_BYTES:
                return_free_memory()
        now = time.monotonic()
        if held:
            # Something is waiting on `ready` or the fence, which do not wake
            # us: look again after another window.
            self._open_window(now)
        if (
            (held or self._refresh_planned)
            and self._ring is not None
            and self._ring.due(now, self._following)
        ):
            # A refresh that could not go (fenced, not ready, nothing it may
            # send) is tried again a window later, not in a loop.
            self._refresh_not_before = now + self._emit_interval

    def _before_retry(self, state: RetryCallState) -> None:
        self._metrics.post_retries.inc()
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(error, TransientError):
            log.warning(
                "flow_server_unavailable",
                operation=error.operation,
                status=error.status,
                detail=error.detail,
                attempt=state.attempt_number,
                retry_in=round(wait, 3),
            )

    async def _attempt(self) -> bool:
        """Check if due, then diff and send; true when something had to be held back."""
        if not self._may_post():
            return True
        self._start_check_if_due()
        if not self._verified and self._check_task is not None and self._checking:
            await asyncio.wait({self._check_task})
        ready = self._ready()
        full = ready and self._full_needed
        epoch = self._ring.numbers.epoch if self._ring is not None else 0
        refresh = self._refresh_plan() if ready else None
        self._refresh_planned = refresh is not None
        only: Keys | None
        if ready:
            taken = self._take(self._dirty)
            only = None if full else taken
        else:
            taken = self._take(Keys(nodes=self._dirty.nodes & {self._region}))
            only = Keys(nodes={self._region})
        try:
            for held in (self._refused, self._oversized):
                if held:
                    only = held.admit(
                        only if only is not None else self._every_key(), self._desired
                    )
            batches = diff(
                self._acked,
                self._desired,
                only=only,
                region=self._region,
                max_bytes=self._limit,
                resend=refresh,
            )
            complete = await self._send(batches)
        except BaseException:
            self._give_back(taken)
            raise
        if not complete:
            self._give_back(taken)
            return True
        self._inflight.clear()
        lost = self._ring is not None and self._ring.numbers.epoch != epoch
        if full and not lost:
            self._full_needed = False
        if refresh is not None and self._ring is not None and not lost:
            self._refreshed(refresh)
        if batches:
            log.debug("flushed", envelopes=len(batches), keys=len(taken), full=full)
        return not ready

    def _every_key(self) -> Keys:
        return Keys(
            nodes=set(self._acked.nodes) | set(self._desired.nodes),
            rels=set(self._acked.rels) | set(self._desired.rels),
        )

    def _take(self, keys: Keys) -> Keys:
        taken = Keys(nodes=set(keys.nodes), rels=set(keys.rels))
        self._dirty.nodes -= taken.nodes
        self._dirty.rels -= taken.rels
        for key in _each(taken):
            arrived = self._arrived.pop(key, None)
            if arrived is not None:
                self._inflight[key] = arrived
        return taken

    def _give_back(self, taken: Keys) -> None:
        self._dirty.update(taken)
        for key, arrived in self._inflight.items():
            self._arrived[key] = min(arrived, self._arrived.get(key, arrived))
        self._inflight.clear()

    def _may_post(self) -> bool:
        return self._fence() >= MIN_REQUEST_SECONDS

    @contextlib.asynccontextmanager
    async def _deadline(self, operation: str) -> AsyncIterator[None]:
        """The smaller of `post_timeout` and the time left before the fence closes.

        Running out is a transient failure like any other; with less than
        `MIN_REQUEST_SECONDS` left the request is not started (`FencedError`).
        """
        left = self._fence()
        if left < MIN_REQUEST_SECONDS:
            raise FencedError(operation)
        limit = min(self._post_timeout, left)
        try:
            async with asyncio.timeout(limit):
                yield
        except TimeoutError as err:
            raise TransientError(operation, f"no answer within {limit:.3g} s") from err

    async def _send(self, batches: list[Batch]) -> bool:
        """Post each batch in order; False when the fence closed before all were sent."""
        for index, batch in enumerate(batches):
            if not self._may_post():
                log.info("posting_fenced", envelopes_left=len(batches) - index)
                return False
            if not await self._post(batch):
                return False
        return True

    async def _post(self, batch: Batch) -> bool:
        started = time.monotonic()
        ring = self._ring
        epoch, mark = (ring.numbers.epoch, ring.numbers.latest) if ring is not None else (0, 0)
        try:
            async with self._deadline("post"):
                seq = await self._sink.post(batch)
        except TransientError:
            self._metrics.envelopes.labels(type=batch.type, outcome="failed").inc()
            # An outage may have cost the server its memory: look before resending.
            self._check_wanted = True
            raise
        except TooLargeError:
            self._metrics.envelopes.labels(type=batch.type, outcome="too_large").inc()
            return await self._send_smaller(batch)
        except RejectedError as err:
            self._reject(batch, err)
            return True
        except FencedError:
            log.info("posting_fenced", envelopes_left=1)
            return False
        finally:
            self._metrics.post_latency.observe(time.monotonic() - started)
        self._flush_bytes += len(batch.body)
        self._metrics.envelopes.labels(type=batch.type, outcome="acked").inc()
        self._metrics.last_post_success.set(time.time())
        values = sent_values(batch.envelope)
        if ring is not None:
            if ring.numbers.epoch != epoch:
                # The server lost the flow while this was in flight: on which
                # side of the loss it landed is unknown, so it is not counted
                # as held. The full re-send that follows carries it again.
                log.info("post_answered_across_a_loss", seq=seq, envelope_type=batch.type)
                return True
            if seq is not None and ring.numbers.heard(seq, mark + 1, time.monotonic()):
                self._lost("post", seq, mark)
            self._count_refreshed(values)
        self._acked.fold(batch.envelope)
        if ring is not None:
            ring.acknowledged(
                [key for key, value in values.items() if value is not None],
                [key for key, value in values.items() if value is None],
                seq,
                mark,
            )
            self._show_ring()
        acked_at = time.monotonic()
        for key in values:
            arrived = self._inflight.pop(key, None)
            if arrived is not None:
                self._metrics.change_latency.observe(acked_at - arrived)
        return True

    async def _send_smaller(self, batch: Batch) -> bool:
        """After a 413: learn a smaller limit and resend in pieces, or hold a lone item."""
        if len(batch.items()) <= 1:
            self._oversized.record(batch.envelope)
            for key in sent_values(batch.envelope):
                self._inflight.pop(key, None)
            log.error(
                "envelope_item_too_large",
                keys=[_shown(key) for key in sent_values(batch.envelope)],
                envelope_type=batch.type,
                envelope_bytes=batch.size,
                limit_bytes=self._limit,
                retry="at each snapshot check",
            )
            return True
        limit = max(1, batch.size // 2)
        if limit < self._limit:
            self._limit = limit
            self._metrics.envelope_limit.set(limit)
            log.warning("envelope_limit_learned", limit_bytes=limit, refused_bytes=batch.size)
        return await self._send(split(batch, min(limit, self._limit)))

    def _reject(self, batch: Batch, err: RejectedError) -> None:
        self._metrics.envelopes.labels(type=batch.type, outcome="rejected").inc()
        self._refused.record(batch.envelope)
        for key in sent_values(batch.envelope):
            self._inflight.pop(key, None)
        log.error(
            "envelope_rejected",
            status=err.status,
            body=err.body,
            envelope_type=batch.type,
            envelope_bytes=batch.size,
        )

    async def _check(self) -> None:
        """One snapshot check; on success *acknowledged* becomes what the server holds."""
        if self._ring is not None:
            self._check_epoch = self._ring.numbers.epoch
            self._check_mark = self._ring.numbers.latest
        try:
            async with self._deadline("snapshot"):
                snapshot = await self._sink.snapshot()
        except (TransientError, TooLargeError) as err:
            self._metrics.resyncs.labels(outcome="failed").inc()
            delay = self._check_backoff.failure()
            self._check_retry_at = time.monotonic() + delay
            log.warning(
                "snapshot_check_failed",
                status=err.status,
                detail=err.detail,
                retry_in=round(delay, 3),
            )
            return
        except RejectedError as err:
            # Without the server's view, keep ours; the next interval asks again.
            self._metrics.resyncs.labels(outcome="rejected").inc()
            self._check_wanted = False
            log.error("snapshot_rejected", status=err.status, body=err.body)
            return
        except FencedError:
            return  # still wanted: the next leader's first check, or ours once renewed
        finally:
            self._wake.set()
        self._checked(snapshot)

    def _checked(self, snapshot: Snapshot | None) -> None:
        if self._ring is not None and self._ring.numbers.epoch != self._check_epoch:
            # The server lost the flow while we looked: the snapshot may be
            # from before, and *acknowledged* was emptied already.
            self._check_wanted = False
            self._verified = True
            self._check_backoff.reset()
            log.info("snapshot_check_overtaken", reason="the server lost the flow meanwhile")
            return
        view = own_view(snapshot, self._region)
        lost_nodes = sum(1 for k, v in self._acked.nodes.items() if view.nodes.get(k) != v)
        lost_rels = sum(1 for k, v in self._acked.rels.items() if view.rels.get(k) != v)
        if snapshot is None:
            outcome = "empty"
        elif view.nodes == self._acked.nodes and view.rels == self._acked.rels:
            outcome = "in_sync"
        else:
            outcome = "differed"
        if self._ring is not None:
            self._number_view(view)
        self._acked = view
        self._check_wanted = False
        self._verified = True
        self._full_needed = True
        self._flush_now = True
        self._check_backoff.reset()
        # Each check gives what was held back another chance: a value the
        # server refused, an item too large, and envelopes larger than the
        # limit learned, so a lifted limit is noticed.
        self._refused.clear()
        self._oversized.clear()
        if self._limit < self._max_bytes:
            log.info("envelope_limit_probe", limit_bytes=self._limit, probe_bytes=self._max_bytes)
            self._limit = self._max_bytes
            self._metrics.envelope_limit.set(self._max_bytes)
        self._metrics.resyncs.labels(outcome=outcome).inc()
        report = log.debug if outcome == "in_sync" else log.info
        report(
            "snapshot_checked",
            outcome=outcome,
            server_nodes=len(view.nodes),
            server_rels=len(view.rels),
            lost_nodes=lost_nodes,
            lost_rels=lost_rels,
        )

    def _number_view(self, view: GraphState) -> None:
        """Carry known numbers over to the checked view; what it adds counts as the oldest.

        A key the server holds with the value this copy acknowledged keeps
        the number of the envelope that sent it (a later envelope can only
        have numbered it higher). Any other key it holds came from an
        envelope not known here: it counts as the oldest still held
        (`docs/contract.md`, "Sequence numbers and the ring").
        """
        ring = self._ring
        if ring is None:
            return
        previous = self._acked
        unknown: list[Key] = [
            key
            for key, node in view.nodes.items()
            if key not in ring.ages or previous.nodes.get(key) != node
        ]
        unknown += [
            key
            for key, rel in view.rels.items()
            if key not in ring.ages or previous.rels.get(key) != rel
        ]
        ring.ages.drop(key for key in ring.ages.tracked() if not _holds(view, key))
        ring.unknown(unknown, self._check_mark)
        self._show_ring()

    def _lost(self, source: str, seq: int, seen: int) -> None:
        """The server counts from 1 again: it holds nothing of ours; send everything now."""
        ring = self._ring
        if ring is None:
            return
        log.warning(
            "flow_server_lost_the_flow",
            source=source,
            seq=seq,
            seen=seen,
            held_nodes=len(self._acked.nodes),
            held_rels=len(self._acked.rels),
            action="re-sending everything now",
        )
        self._metrics.flow_restarts.labels(source=source).inc()
        self._acked = GraphState()
        ring.lost()
        # What the server refused or could not take before may go now.
        self._refused.clear()
        self._oversized.clear()
        self._full_needed = True
        self._flush_now = True
        self._wake.set()
        self._show_ring()

    def _same(self, key: Key) -> bool:
        """The server holds this key with the value wanted now."""
        if isinstance(key, str):
            node = self._desired.nodes.get(key)
            return node is not None and self._acked.nodes.get(key) == node
        rel = self._desired.rels.get(key)
        return rel is not None and self._acked.rels.get(key) == rel

    def _refresh_at(self, now: float) -> float:
        """When the next refresh is due (s, monotonic); infinity when nothing says."""
        if self._ring is None or self._stopped:
            return math.inf
        return max(self._ring.due_at(now, self._following), self._refresh_not_before)

    def _refresh_plan(self) -> Resend | None:
        """The keys to upsert again in this flush, or `None` when no refresh is due.

        Urgent keys holding another value than the wanted one (a change
        being sent now, a value refused) are the diff's business; they stop
        being tracked until their next acknowledgement.
        """
        ring = self._ring
        now = time.monotonic()
        # The flush in `stop()` carries what changed, within its deadline; the
        # next leader counts every key as the oldest anyway.
        if ring is None or self._stopped or not ring.due(now, self._following):
            return None
        plan = ring.plan(now, self._following)
        urgent = [key for key in plan.urgent if self._same(key)]
        filler = [key for key in plan.filler if self._same(key)]
        if len(urgent) < len(plan.urgent):
            ring.ages.drop(key for key in plan.urgent if not self._same(key))
        log.info(
            "ring_refresh",
            keys=len(urgent),
            may_ride_along=len(filler),
            flow_sequence=ring.numbers.latest,
            headroom=ring.headroom(now, self._following),
            margin=ring.margin,
            following_stream=self._following,
        )
        return Resend(
            nodes=[key for key in urgent if isinstance(key, str)],
            rels=[key for key in urgent if not isinstance(key, str)],
            fill_nodes=[key for key in filler if isinstance(key, str)],
            fill_rels=[key for key in filler if not isinstance(key, str)],
        )

    def _refreshed(self, refresh: Resend) -> None:
        ring = self._ring
        if ring is None:
            return
        ring.refreshed(ring.numbers.latest)
        headroom = ring.headroom(time.monotonic(), self._following)
        if headroom is not None and headroom <= ring.margin and len(refresh):
            log.warning(
                "ring_too_small_for_the_graph",
                capacity=ring.capacity,
                headroom=headroom,
                margin=ring.margin,
                hint="FLOW_SERVER_RING_CAPACITY must match the server's; "
                "the graph needs more envelopes than the ring keeps",
            )

    def _count_refreshed(self, values: Mapping[Key, Value]) -> None:
        """Count the upserts of values the server already held: keys kept in the ring."""
        nodes = sum(
            1
            for key, value in values.items()
            if isinstance(key, str) and value is not None and self._acked.nodes.get(key) == value
        )
        rels = sum(
            1
            for key, value in values.items()
            if not isinstance(key, str) and value is not None and self._acked.rels.get(key) == value
        )
        if nodes:
            self._metrics.refreshed_keys.labels(kind="node").inc(nodes)
        if rels:
            self._metrics.refreshed_keys.labels(kind="edge").inc(rels)

    def _show_ring(self) -> None:
        ring = self._ring
        if ring is None:
            return
        self._metrics.flow_sequence.set(ring.numbers.latest)
        headroom = ring.headroom(time.monotonic(), self._following)
        self._metrics.ring_headroom.set(math.nan if headroom is None else headroom)

    def _set_following(self, following: bool) -> None:
        self._following = following
        self._metrics.stream_connected.set(1 if following else 0)

    def _reap_stream(self) -> None:
        """A bug in the stream task ends run() like any other bug."""
        task = self._stream_task
        if task is not None and task.done():
            self._stream_task = None
            task.result()

    async def _follow(self) -> None:
        """Follow the flow's event stream while this copy may post, reopening it when it ends.

        `docs/contract.md`, "The event stream": it opens with a `snapshot`
        event numbered with the flow's newest number, then numbers every
        envelope anyone posts; heartbeats every 15 s. It cannot resume, so
        each connection starts afresh; a number below what the server must
        already have passed means it lost the flow.
        """
        sink = self._sink
        ring = self._ring
        if not isinstance(sink, Follows) or ring is None:
            return
        backoff = ReconnectBackoff(
            initial=self._backoff_start, cap=max(self._backoff_start, self._backoff_cap)
        )
        last_reason = ""
        while True:
            if not self._may_post():
                await asyncio.sleep(FENCED_POLL)
                continue
            epoch, mark = ring.numbers.epoch, ring.numbers.latest
            reason = "closed"
            try:
                async with contextlib.aclosing(sink.follow()) as stream:
                    previous: int | None = None
                    deadline = self._post_timeout
                    while True:
                        async with asyncio.timeout(deadline):
                            heard = await anext(stream)
                        deadline = STREAM_SILENCE
                        if not self._following:
                            self._set_following(True)
                            backoff.reset()
                            last_reason = ""
                            log.info("stream_following", seq=heard.seq)
                        if heard.seq is not None and heard.event != "heartbeat":
                            if previous is None:
                                at_least = mark if ring.numbers.epoch == epoch else 0
                            else:
                                at_least = previous
                            previous = heard.seq
                            self._heard(heard, at_least)
                        if not self._may_post():
                            reason = "fenced"
                            break
            except StopAsyncIteration:
                reason = "closed"
            except TimeoutError:
                reason = "silent"
            except SinkError as err:
                reason = f"failed: {err}"
            finally:
                self._set_following(False)
            if reason == "fenced":
                continue
            delay = backoff.failure()
            # The same failure again (a proxy without SSE) is not news.
            report = log.info if reason != last_reason else log.debug
            report("stream_reopening", reason=reason, retry_in=round(delay, 3))
            last_reason = reason
            await asyncio.sleep(delay)

    def _heard(self, heard: Heard, at_least: int) -> None:
        ring = self._ring
        if ring is None or heard.seq is None:
            return
        now = time.monotonic()
        seen = ring.numbers.latest
        if ring.numbers.heard(heard.seq, at_least, now):
            self._lost("stream", heard.seq, seen)
            return
        self._show_ring()
        if ring.due(now, self._following):
            self._wake.set()
