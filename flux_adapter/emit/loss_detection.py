"""The snapshot check, in a task of its own: what the server really holds, and a lost flow.

A part of `Emitter` (`emitter.py`), which holds the state it works on.
"""

from __future__ import annotations

import asyncio
import math
import time

import structlog

from flux_adapter.emit.emitter_state import (
    EmitterState,
    FencedError,
    holds,
)
from flux_adapter.emit.rejections import Key
from flux_adapter.emit.sink import (
    RejectedError,
    Snapshot,
    TooLargeError,
    TransientError,
)
from flux_adapter.emit.snapshot import own_view
from mapper import GraphState

log = structlog.get_logger("flux_adapter.emit.emitter")


class LossDetection(EmitterState):
    @property
    def _checking(self) -> bool:
        return self._check_task is not None and not self._check_task.done()

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
        ring.ages.drop(key for key in ring.ages.tracked() if not holds(view, key))
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
