"""Re-upserting what the flow server's ring is about to evict, before it does.

A part of `Emitter` (`emitter.py`), which holds the state it works on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import structlog

from flux_adapter.emit.emitter_state import (
    EmitterState,
)
from flux_adapter.emit.rejections import Key, Value
from mapper import Resend

log = structlog.get_logger("flux_adapter.emit.emitter")


class RingRefresh(EmitterState):
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
