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
- Lost server state (restart, ring eviction, a deleted flow): a periodic
  snapshot check, and one after every outage, replaces *acknowledged* with
  what the server really holds of this region, so the next diff re-sends
  exactly what was lost and deletes what should not be there.

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
from collections.abc import AsyncIterator, Callable

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from flux_adapter.backoff import BackoffWait
from flux_adapter.heap import return_free_memory
from flux_adapter.metrics import Metrics
from flux_adapter.reconnect_backoff import ReconnectBackoff
from flux_adapter.rejections import Key, Rejections, sent_values
from flux_adapter.sink import RejectedError, Sink, Snapshot, TooLargeError, TransientError
from flux_adapter.snapshot import own_view
from mapper import MAX_ENVELOPE_BYTES, Batch, Graph, GraphState, Keys, diff, split

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


MIN_REQUEST_SECONDS = 1.0
"""A request is not started with less time than this left before the fence closes."""


def _unfenced() -> float:
    return math.inf


def _each(keys: Keys) -> list[Key]:
    return [*keys.nodes, *keys.rels]


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
        self._check_backoff = ReconnectBackoff(
            initial=backoff_start, cap=max(backoff_start, min(backoff_cap, resync_interval))
        )
        self._max_bytes = max_bytes
        self._limit = max_bytes
        self._metrics.envelope_limit.set(max_bytes)

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
        """Check the server's snapshot and send a full diff now (e.g. on gaining leadership)."""
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
        try:
            self._start_check_if_due()
            await self._flush()
            while True:
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + self._resync_interval
                    self._schedule_check()
                self._start_check_if_due()
                if self._flush_now or (self._window is not None and now >= self._window):
                    await self._flush()
                    continue
                wake_at = min(next_check, self._window or math.inf, self._check_due())
                self._wake.clear()
                # Not wait_for: on 3.11 it can swallow a cancel that races the wake-up.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, wake_at - now)):
                        await self._wake.wait()
        finally:
            self._task = None
            if self._check_task is not None:
                self._check_task.cancel()
                await asyncio.wait({self._check_task})
                self._check_task = None

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
        if held:
            # Something is waiting on `ready` or the fence, which do not wake
            # us: look again after another window.
            self._open_window(time.monotonic())

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
            )
            complete = await self._send(batches)
        except BaseException:
            self._give_back(taken)
            raise
        if not complete:
            self._give_back(taken)
            return True
        self._inflight.clear()
        if full:
            self._full_needed = False
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
        try:
            async with self._deadline("post"):
                await self._sink.post(batch)
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
        self._acked.fold(batch.envelope)
        self._flush_bytes += len(batch.body)
        self._metrics.envelopes.labels(type=batch.type, outcome="acked").inc()
        self._metrics.last_post_success.set(time.time())
        acked_at = time.monotonic()
        for key in sent_values(batch.envelope):
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
        view = own_view(snapshot, self._region)
        lost_nodes = sum(1 for k, v in self._acked.nodes.items() if view.nodes.get(k) != v)
        lost_rels = sum(1 for k, v in self._acked.rels.items() if view.rels.get(k) != v)
        if snapshot is None:
            outcome = "empty"
        elif view.nodes == self._acked.nodes and view.rels == self._acked.rels:
            outcome = "in_sync"
        else:
            outcome = "differed"
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
