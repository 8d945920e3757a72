"""The emitter: makes the flow server's graph equal the desired one, and keeps it so.

It is level-triggered (`docs/design.md`, "Level-triggered, not
edge-triggered"). It never forwards events; it keeps the *acknowledged*
graph (what the server is known to hold, advanced only by 2xx answers) and,
whenever the cluster changed, sends the difference between that and the
desired graph, after a debounce window of `emit_interval` that is never
extended. A failed POST leaves *acknowledged* behind, so the next attempt
sends the then-current values; a value that changed back sends nothing.

`Emitter` is the loop between parts that each own their state and never
call one another (`docs/design.md`, "The emitter's parts"):

- `Pending` (`pending.py`): what changed and when, and the debounce window;
- `Ledger` (`ledger.py`): what the server holds, refused or could not take,
  and the size limit learned; it plans each flush's batches;
- `Poster` (`poster.py`): one request under the fence and its timeout;
- `SnapshotCheck` (`snapshot_check.py`): reading what the server holds;
- `RingKeeper` (`ring_keeper.py`): the flow's numbers and when to refresh;
- `StreamFollower` (`stream_follower.py`): the numbers of the event stream;
- `LossEvidence` (`loss_evidence.py`): whether a lower number is believed.

Only the process decides whether this copy may post (the fence) and whether
the watch caches are complete (`ready`); the emitter asks both before every
request and never touches Kubernetes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from flux_adapter.emit.answers import BadAnswerError
from flux_adapter.emit.bad_answers import BadAnswers
from flux_adapter.emit.ledger import Ledger
from flux_adapter.emit.loss_evidence import LossEvidence, Suspicion, Verdict, held, lost_keys
from flux_adapter.emit.pending import Pending
from flux_adapter.emit.poster import Acknowledged, Fenced, Poster, Rejected, TooLarge, unfenced
from flux_adapter.emit.rejections import Key, Value, sent_values
from flux_adapter.emit.retry_wait import BackoffWait
from flux_adapter.emit.ring_keeper import Keeper, Mark, NullKeeper, RingKeeper
from flux_adapter.emit.sink import Follows, Sink, Snapshot, TransientError
from flux_adapter.emit.snapshot import own_view
from flux_adapter.emit.snapshot_check import SnapshotCheck
from flux_adapter.emit.stream_follower import StreamFollower
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.clock import MONOTONIC, SLEEP, Clock, Sleep, deadline
from flux_adapter.observe.heap import return_free_memory
from flux_adapter.observe.metrics import Metrics
from mapper import MAX_ENVELOPE_BYTES, Batch, Graph, GraphState, Keys

log = structlog.get_logger(__name__)

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
TRUSTED_RESYNC_INTERVAL = 1800.0
"""Seconds between backstop snapshot checks while the flow's stream is followed.

The numbers then tell every loss they can (a restart, a deleted flow, the
ring), each bringing a check at once, and a probe timed by the flow's
numbers finds a ring smaller than configured; what is left (another writer
overwriting this region's nodes) is bounded by this. Never shorter than
`RESYNC_INTERVAL` (`docs/design.md`, "When the snapshot is read").
"""


@dataclass(frozen=True, slots=True)
class Found:
    """What a snapshot read found, and where things stood when it began.

    `mark`: the flow's count; `asked`: the ledger's `mark()`, for keys
    acknowledged while the read was out; `ticket`: the suspicion it may decide
    (`LossEvidence.ticket`); `before`: the keys acknowledged then (empty
    when it decides none).
    """

    mark: Mark
    asked: int
    ticket: int | None
    before: Keys
    snapshot: Snapshot | None


class Emitter:
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
        ring_capacity: int | None = RING_CAPACITY,
        follow_stream: bool = True,
        clock: Clock = MONOTONIC,
        sleep: Sleep = SLEEP,
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
          "Sequence numbers and the ring"); it must match the server's. This
          region's keys are kept ahead of it, and a lost flow is re-sent at
          once. `None` where there is no ring (a dry run).
          `follow_stream`: learn the flow's numbers from its event stream
          too ("The event stream"), when the sink can follow it.
        - `clock`/`sleep`: time as the emitter reads and waits it (seconds,
          monotonic); a test passes a fake pair.

        Raises `ValueError` for a duration or size that is not positive, or
        a ring below `ring.MIN_CAPACITY`.
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
        self._clock = clock
        self._sleep = sleep
        self._emit_interval = emit_interval
        self._resync_interval = resync_interval
        self._shutdown_timeout = shutdown_timeout
        self._backoff = BackoffWait(backoff_start, backoff_cap)

        self._pending = Pending(emit_interval)
        self._ledger = Ledger(max_bytes, metrics)
        bad_answers = BadAnswers(metrics)
        self._poster = Poster(
            sink,
            fence=fence,
            post_timeout=post_timeout,
            metrics=metrics,
            clock=clock,
            sleep=sleep,
            bad_answers=bad_answers,
        )
        self._evidence = LossEvidence(clock=clock)
        self._check: SnapshotCheck[Found] = SnapshotCheck(
            self._read_snapshot,
            self._checked,
            backoff=ReconnectBackoff(
                initial=backoff_start,
                cap=max(backoff_start, min(backoff_cap, resync_interval)),
                clock=clock,
            ),
            metrics=metrics,
            clock=clock,
            done=self._wake_up,
        )
        self._keeper: Keeper = (
            NullKeeper() if ring_capacity is None else RingKeeper(ring_capacity, metrics)
        )
        self._follower: StreamFollower | None = None
        if ring_capacity is not None and follow_stream and isinstance(sink, Follows):
            self._follower = StreamFollower(
                sink,
                may_post=self._poster.may_post,
                mark=self._keeper.mark,
                heard=self._heard_on_stream,
                changed=self._stream_changed,
                open_timeout=post_timeout,
                backoff=ReconnectBackoff(
                    initial=backoff_start, cap=max(backoff_start, backoff_cap), clock=clock
                ),
                metrics=metrics,
                sleep=sleep,
                bad_answers=bad_answers,
            )

        self._wake = asyncio.Event()
        self._checked_at = 0.0
        self._reprobe_limit = True
        self._flushing = False
        self._flush_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def acknowledged(self) -> GraphState:
        """What the server is known to hold of this region (read it, do not change it)."""
        return self._ledger.acknowledged

    @property
    def flow_sequence(self) -> int:
        """The flow's newest sequence number this copy knows (0: none yet, or no ring)."""
        return self._keeper.latest

    @property
    def caught_up(self) -> bool:
        """Nothing is waiting to be sent: no dirty key, no check, no flush in flight."""
        return not (
            self._flushing or not self._pending.idle or self._check.wanted or self._check.running
        )

    def notify(self, keys: Keys) -> None:
        """Mark keys the desired graph changed; the watch layer calls this per applied change."""
        if not keys:
            return
        if self._pending.changed(keys, self._clock()):
            self._wake.set()
        self._metrics.pending_keys.set(self._pending.count())

    def request_resync(self) -> None:
        """Check the server's snapshot and send a full diff now (e.g. on gaining leadership).

        Sequence numbers known so far are forgotten: another copy may have
        posted meanwhile, so every key counts as the oldest until re-upserted.
        """
        self._keeper.forget()
        self._schedule_check()
        self._wake.set()

    async def run(self) -> None:
        """Keep the server in step until cancelled; starts with a snapshot check and the region.

        Raises `RuntimeError` when already running or stopped.
        """
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
        self._checked_at = self._clock()
        if self._follower is not None:
            self._follower.start()
        try:
            self._start_check_if_due()
            await self._flush()
            while True:
                now = self._clock()
                next_check = self._next_check(now)
                if self._check.wanted or self._check.running:
                    next_check = math.inf  # the check under way wakes the loop when it ends
                elif now >= next_check:
                    # The clock's check offers the full envelope size again; a
                    # probe only looks whether the oldest key is still held.
                    self._schedule_check(reprobe_limit=now >= self._backstop_at())
                    next_check = math.inf
                if self._evidence.ask(now):
                    self._check.want()
                self._start_check_if_due()
                if self._follower is not None:
                    self._follower.reap()
                refresh_at = self._refresh_at(now)
                if self._pending.due(now) or now >= refresh_at:
                    await self._flush()
                    continue
                window = self._pending.window
                wake_at = min(
                    next_check,
                    math.inf if window is None else window,
                    self._check.due_at(),
                    self._evidence.check_at(),
                    refresh_at,
                )
                self._wake.clear()
                await self._nap(max(0.0, wake_at - now))
        finally:
            self._task = None
            await self._check.stop()
            if self._follower is not None:
                await self._follower.stop()

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
            async with deadline(self._sleep, self._shutdown_timeout):
                await self._flush()
        except TimeoutError:
            log.warning(
                "shutdown_flush_incomplete",
                pending_keys=self._pending.count(),
                shutdown_timeout=self._shutdown_timeout,
            )
        finally:
            await self._sink.close()
        log.info("emitter_stopped", pending_keys=self._pending.count())

    async def _nap(self, seconds: float) -> None:
        """Wait until woken or `seconds` have passed."""
        if seconds == math.inf:
            await self._wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with deadline(self._sleep, seconds):
                await self._wake.wait()

    def _wake_up(self) -> None:
        self._wake.set()

    # The snapshot check.

    def _schedule_check(self, *, reprobe_limit: bool = True) -> None:
        self._check.want()
        self._checked_at = self._clock()
        self._reprobe_limit = reprobe_limit
        self._pending.everything()

    def _next_check(self, now: float) -> float:
        """When the next check is due: a clock backstop, or sooner a probe timed by the numbers.

        Without the stream every `resync_interval`; while it is followed the
        numbers say when something may be lost, so the clock only backs them
        up (`TRUSTED_RESYNC_INTERVAL`), and the ring keeper's probe looks
        whether the oldest key is still held before its refresh would hide a
        smaller ring than configured.
        """
        if not self._following:
            return self._backstop_at()
        return min(self._backstop_at(), self._keeper.probe_at(now, True))

    def _backstop_at(self) -> float:
        """When the clock asks for the next check (s): `resync_interval` after the last one,
        `TRUSTED_RESYNC_INTERVAL` while the stream is followed."""
        if not self._following:
            return self._checked_at + self._resync_interval
        return self._checked_at + max(self._resync_interval, TRUSTED_RESYNC_INTERVAL)

    def _doubt(self, reason: str, *, reprobe_limit: bool = True) -> None:
        """Something the numbers cannot vouch for happened: check the snapshot now.

        `reprobe_limit` false keeps a size limit just learned through the
        check (it would otherwise offer the full size again at once).
        """
        if self._stopped or self._check.wanted or self._check.running:
            return
        log.info("snapshot_check_wanted", reason=reason)
        self._schedule_check(reprobe_limit=reprobe_limit)
        self._wake.set()

    def _stream_changed(self, following: bool) -> None:
        """The stream ended: a restarted server or a deleted flow ends it, so look now.

        Every reconnection follows an end, whose check covers the gap; the
        reopened stream's numbers are checked against the count as usual.
        """
        if not following:
            self._doubt("stream ended")

    def _start_check_if_due(self) -> None:
        self._check.start_if_due(lambda: not self._stopped and self._poster.may_post())

    async def _read_snapshot(self) -> Found:
        mark, asked = self._keeper.mark(), self._ledger.mark()
        ticket = self._evidence.ticket()
        before = held(self._ledger.acknowledged) if ticket is not None else Keys()
        return Found(mark, asked, ticket, before, await self._poster.snapshot(self._region))

    def _checked(self, found: Found) -> None:
        """A snapshot check answered: what it found becomes what the server is known to hold.

        Keys acknowledged while the GET was out keep their acknowledged
        values: the snapshot may predate those POSTs. A check begun after a
        lower number was heard also decides whether the flow was lost
        (`LossEvidence`).
        """
        mark, ticket, before, snapshot = found.mark, found.ticket, found.before, found.snapshot
        asked = found.asked
        if self._keeper.lost_since(mark):
            # The server lost the flow while we looked: the snapshot may be
            # from before, and *acknowledged* was emptied already.
            log.info("snapshot_check_overtaken", reason="the server lost the flow meanwhile")
            self._evidence.settle(None, lost=False)
            return
        reprobe, self._reprobe_limit = self._reprobe_limit, True
        if snapshot is None:
            # The server holds nothing of the flow: its count starts again.
            self._keeper.forget()
            mark = self._keeper.mark()
        view = self._ledger.overlaid(own_view(snapshot, self._region), asked)
        lost = lost_keys(before, self._ledger.acknowledged, view)
        self._keeper.checked(self._ledger.acknowledged, view, mark)
        self._keeper.show(self._clock(), self._following)
        comparison = self._ledger.checked(
            view, empty=snapshot is None, since=asked, reprobe_limit=reprobe
        )
        self._pending.everything()
        self._metrics.resyncs.labels(outcome=comparison.outcome).inc()
        report = log.debug if comparison.outcome == "in_sync" else log.info
        report(
            "snapshot_checked",
            outcome=comparison.outcome,
            server_nodes=len(view.nodes),
            server_rels=len(view.rels),
            lost_nodes=comparison.lost_nodes,
            lost_rels=comparison.lost_rels,
        )
        settled = self._evidence.settle(ticket, lost=lost)
        if settled is not None:
            self._judged(*settled)

    # The flow's numbers.

    @property
    def _following(self) -> bool:
        return self._follower is not None and self._follower.following

    def _heard_on_stream(self, seq: int, at_least: int) -> None:
        now = self._clock()
        seen = self._keeper.latest
        if self._keeper.heard(seq, at_least, now):
            self._suspect("stream", seq, seen)
            return
        self._keeper.show(now, self._following)
        if min(self._keeper.refresh_at(now, self._following), self._next_check(now)) <= now:
            self._wake.set()

    def _suspect(self, source: str, seq: int, seen: int) -> None:
        """A number below one passed: the flow may be lost; a snapshot check will tell."""
        suspicion = self._evidence.suspect(source, seq, seen)
        if suspicion is None:
            return
        log.info(
            "flow_loss_suspected",
            source=source,
            seq=seq,
            seen=seen,
            check_in=round(max(0.0, self._evidence.check_at() - self._clock()), 3),
            action="checking the snapshot before re-sending anything",
        )
        self._wake.set()

    def _judged(self, suspicion: Suspicion, verdict: Verdict) -> None:
        self._metrics.flow_loss_suspicions.labels(
            source=suspicion.source, verdict=verdict.value
        ).inc()
        if verdict is Verdict.CONFIRMED:
            self._lost(suspicion)
            return
        log.info(
            "flow_loss_not_confirmed",
            source=suspicion.source,
            seq=suspicion.seq,
            seen=suspicion.seen,
            action="the snapshot holds what was acknowledged; the number is not believed",
        )

    def _lost(self, suspicion: Suspicion) -> None:
        """The server counts from 1 again and holds nothing of ours: send everything now."""
        log.warning(
            "flow_server_lost_the_flow",
            source=suspicion.source,
            seq=suspicion.seq,
            seen=suspicion.seen,
            held_nodes=len(self._ledger.acknowledged.nodes),
            held_rels=len(self._ledger.acknowledged.rels),
            action="re-sending everything now",
        )
        self._metrics.flow_restarts.labels(source=suspicion.source).inc()
        self._ledger.forget()
        self._keeper.lost(suspicion.seq, self._clock())
        self._pending.everything()
        self._wake.set()
        self._keeper.show(self._clock(), self._following)

    def _refresh_at(self, now: float) -> float:
        # The flush in `stop()` carries what changed, within its deadline; the
        # next leader counts every key as the oldest anyway.
        if self._stopped:
            return math.inf
        return self._keeper.refresh_at(now, self._following)

    # Flushing.

    async def _flush(self) -> None:
        """One flush, retried on transient failures until it goes through; never gives up."""
        self._pending.flush_started()
        self._flushing = True
        self._flush_bytes = 0
        held = planned = False
        try:
            async for attempt in AsyncRetrying(
                stop=stop_never,
                wait=self._backoff,
                retry=retry_if_exception_type(TransientError),
                before_sleep=self._before_retry,
                sleep=self._sleep,
                reraise=True,
            ):
                with attempt:
                    held, planned = await self._attempt()
        finally:
            self._flushing = False
            self._metrics.pending_keys.set(self._pending.count())
            self._metrics.nodes_held.set(len(self._desired.nodes))
            if self._flush_bytes >= TRIM_AFTER_BYTES:
                return_free_memory()
        now = self._clock()
        # Something held back waits on `ready` or the fence, which do not
        # wake us: look again after another window.
        if held and self._pending.open_window(now):
            self._wake.set()
        if held or planned:
            # A refresh that could not go (fenced, not ready, nothing it may
            # send) is tried again a window later, not in a loop.
            self._keeper.not_before(now, self._following, now + self._emit_interval)

    def _before_retry(self, state: RetryCallState) -> None:
        self._metrics.post_retries.inc()
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(error, TransientError):
            # A bad answer was logged once already, by `BadAnswers`.
            report = log.debug if isinstance(error, BadAnswerError) else log.warning
            report(
                "flow_server_unavailable",
                operation=error.operation,
                status=error.status,
                detail=error.detail,
                attempt=state.attempt_number,
                retry_in=round(wait, 3),
            )

    async def _attempt(self) -> tuple[bool, bool]:
        """Check if due, then diff and send.

        Answers whether something had to be held back, and whether a ring
        refresh was planned.
        """
        if not self._poster.may_post():
            return True, False
        self._start_check_if_due()
        await self._check.first()
        ready = self._ready()
        full = ready and self._pending.full
        mark = self._keeper.mark()
        refresh = None
        if ready and not self._stopped:
            refresh = self._keeper.plan(
                self._clock(),
                self._following,
                lambda key: self._ledger.holds_wanted(key, self._desired),
            )
        only: Keys | None
        if ready:
            taken = self._pending.take_all()
            only = None if full else taken
        else:
            taken = self._pending.take(Keys(nodes={self._region}))
            only = Keys(nodes={self._region})
        try:
            batches = self._ledger.plan(self._desired, only, region=self._region, resend=refresh)
            complete = await self._send(batches)
        except BaseException:
            self._pending.give_back(taken)
            raise
        if not complete:
            self._pending.give_back(taken)
            return True, refresh is not None
        self._pending.delivered()
        lost = self._keeper.lost_since(mark)
        if full and not lost:
            self._pending.full_sent()
        if refresh is not None and not lost:
            self._keeper.refreshed(refresh, self._clock(), self._following)
        if batches:
            log.debug("flushed", envelopes=len(batches), keys=len(taken), full=full)
        return not ready, refresh is not None

    async def _send(self, batches: list[Batch]) -> bool:
        """Post each batch in order; False when the fence closed before all were sent."""
        for index, batch in enumerate(batches):
            if not self._poster.may_post():
                log.info("posting_fenced", envelopes_left=len(batches) - index)
                return False
            if not await self._post(batch):
                return False
        return True

    async def _post(self, batch: Batch) -> bool:
        mark = self._keeper.mark()
        try:
            answer = await self._poster.post(batch)
        except TransientError:
            # An outage may have cost the server its memory: look before resending.
            self._check.want()
            raise
        values = sent_values(batch.envelope)
        match answer:
            case Fenced():
                log.info("posting_fenced", envelopes_left=1)
                return False
            case Rejected():
                self._ledger.rejected(batch)
                self._pending.settled(values)
                return True
            case TooLarge():
                limit = self._ledger.limit
                pieces = self._ledger.too_large(batch)
                if self._ledger.limit < limit:
                    self._doubt("a smaller envelope size limit learned", reprobe_limit=False)
                if not pieces:
                    self._pending.settled(values)
                    return True
                return await self._send(pieces)
            case Acknowledged(seq=seq):
                self._flush_bytes += len(batch.body)
                self._acknowledged(batch, values, seq, mark)
                return True

    def _acknowledged(
        self, batch: Batch, values: Mapping[Key, Value], seq: int | None, mark: Mark
    ) -> None:
        """The server accepted `batch` as `seq`, sent when the count stood at `mark`."""
        if self._keeper.lost_since(mark):
            # The server lost the flow while this was in flight: on which
            # side of the loss it landed is unknown, so it is not counted
            # as held. The full re-send that follows carries it again.
            log.info("post_answered_across_a_loss", seq=seq, envelope_type=batch.type)
            return
        if seq is not None and self._keeper.heard(seq, mark.latest + 1, self._clock()):
            self._suspect("post", seq, mark.latest)
        elif seq is None and self._following:
            self._doubt("a POST answered without a sequence number")
        nodes, rels = self._ledger.unchanged(values)
        if nodes:
            self._metrics.refreshed_keys.labels(kind="node").inc(nodes)
        if rels:
            self._metrics.refreshed_keys.labels(kind="edge").inc(rels)
        self._ledger.acknowledged_batch(batch)
        self._keeper.acknowledged(values, seq, mark)
        now = self._clock()
        self._keeper.show(now, self._following)
        for took in self._pending.acknowledged(values, now):
            self._metrics.change_latency.observe(took)
