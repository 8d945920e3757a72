"""Staying ahead of the flow server's ring: the numbers of this region's keys, and when to refresh.

`ring.py` holds the arithmetic; the keeper applies it to the emitter's
traffic (`docs/design.md`, "Staying ahead of the ring"). It learns the
flow's sequence numbers from POST answers and from the event stream, keeps
the number that last upserted each acknowledged key, says when the oldest
is about to be evicted and which keys a refresh re-upserts, and tells a
number that went down (the server lost the flow) from one that went up.

Where there is no ring (a dry run prints to stdout) the emitter holds a
`NullKeeper`, which knows no numbers and never asks for a refresh.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from flux_adapter.emit.rejections import Key, Value
from flux_adapter.emit.ring import MIN_CAPACITY, Ring, learned_capacity
from flux_adapter.observe.metrics import Metrics
from mapper import GraphState, Resend

log = structlog.get_logger("flux_adapter.emit.emitter")


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the flow's count stood when a request was sent: which count, and its newest number."""

    epoch: int
    latest: int


def _holds(state: GraphState, key: Key) -> bool:
    return key in state.nodes if isinstance(key, str) else key in state.rels


class Keeper(Protocol):
    """What the emitter asks of a ring keeper; `RingKeeper` and `NullKeeper` answer it."""

    @property
    def latest(self) -> int:
        """The flow's newest sequence number known (0: none yet)."""
        ...

    def mark(self) -> Mark:
        """The count and newest number now, to pass back with what a request returns."""
        ...

    def lost_since(self, mark: Mark) -> bool:
        """The server lost the flow after `mark` was taken."""
        ...

    def heard(self, seq: int, at_least: int, now: float) -> bool:
        """Take a number the server gave at `now`; true, and nothing taken, below `at_least`.

        A lower number only says the flow may have been lost (`lost` believes it).
        """
        ...

    def acknowledged(self, values: Mapping[Key, Value], seq: int | None, mark: Mark) -> None:
        """An envelope carrying `values` was accepted as `seq`, sent at `mark`."""
        ...

    def checked(self, previous: GraphState, view: GraphState, mark: Mark) -> None:
        """A snapshot check taken at `mark` found `view`, where `previous` was acknowledged."""
        ...

    def lost(self, seq: int, now: float) -> None:
        """The server lost the flow and counts again, `seq` heard at `now`: none of our keys
        is held any more."""
        ...

    def forget(self) -> None:
        """Trust no number known so far (a takeover: another copy may have posted)."""
        ...

    def refresh_at(self, now: float, following: bool) -> float:
        """When the next refresh is due (s); infinity when nothing says."""
        ...

    def probe_at(self, now: float, following: bool) -> float:
        """When a snapshot check should look whether the oldest key is still held (s)."""
        ...

    def plan(
        self, now: float, following: bool, holds_wanted: Callable[[Key], bool]
    ) -> Resend | None:
        """The keys to upsert again now, or `None` when no refresh is due."""
        ...

    def refreshed(self, refresh: Resend, now: float, following: bool) -> None:
        """A planned refresh went through."""
        ...

    def not_before(self, now: float, following: bool, later: float) -> None:
        """A due refresh could not go: ask again at `later` (s), not in a loop."""
        ...

    def show(self, now: float, following: bool) -> None:
        """Publish the flow's number and the oldest key's room as metrics."""
        ...


class RingKeeper:
    def __init__(self, capacity: int, metrics: Metrics) -> None:
        """`capacity`: the server's ring (`FLOW_SERVER_RING_CAPACITY`), in envelopes.

        Raises `ValueError` below `ring.MIN_CAPACITY`.
        """
        self._ring: Ring[Key] = Ring(capacity)
        self._metrics = metrics
        self._not_before = 0.0
        self._configured = capacity
        metrics.ring_capacity.set(capacity)

    @property
    def latest(self) -> int:
        return self._ring.numbers.latest

    def mark(self) -> Mark:
        return Mark(self._ring.numbers.epoch, self._ring.numbers.latest)

    def lost_since(self, mark: Mark) -> bool:
        return self._ring.numbers.epoch != mark.epoch

    def heard(self, seq: int, at_least: int, now: float) -> bool:
        return self._ring.numbers.heard(seq, at_least, now)

    def acknowledged(self, values: Mapping[Key, Value], seq: int | None, mark: Mark) -> None:
        self._ring.acknowledged(
            [key for key, value in values.items() if value is not None],
            [key for key, value in values.items() if value is None],
            seq,
            mark.latest,
        )

    def checked(self, previous: GraphState, view: GraphState, mark: Mark) -> None:
        """Carry known numbers over to the checked view; what it adds counts as the oldest.

        A key the server holds with the value this copy acknowledged keeps
        the number of the envelope that sent it (a later envelope can only
        have numbered it higher). Any other key it holds came from an
        envelope not known here: it counts as the oldest still held
        (`docs/contract.md`, "Sequence numbers and the ring").
        """
        self._ring.probed()
        self._learn(previous, view)
        ages = self._ring.ages
        unknown: list[Key] = [
            key
            for key, node in view.nodes.items()
            if key not in ages or previous.nodes.get(key) != node
        ]
        unknown += [
            key
            for key, rel in view.rels.items()
            if key not in ages or previous.rels.get(key) != rel
        ]
        ages.drop(key for key in ages.tracked() if not _holds(view, key))
        self._ring.unknown(unknown, mark.latest)

    def _learn(self, previous: GraphState, view: GraphState) -> None:
        """Acknowledged, numbered keys gone from `view` bound the server's ring.

        Like the envelope size limit a 413 teaches, the bound is taken, said
        once with both numbers, and refreshed by from then on.
        """
        ages = self._ring.ages
        missing: list[int] = []
        held: list[int] = []
        for key in ages.tracked():
            seq = ages.get(key)
            if seq is None or not _holds(previous, key):
                continue
            (held if _holds(view, key) else missing).append(seq)
        latest = self._ring.numbers.latest
        if held and not missing:
            self._ring.held_at(latest - min(held))
        bound = learned_capacity(latest, missing, held)
        if bound is None or bound >= self._ring.capacity or bound < MIN_CAPACITY:
            return
        log.warning(
            "ring_capacity_learned",
            configured=self._configured,
            was=self._ring.capacity,
            learned=bound,
            flow_sequence=latest,
            hint="FLOW_SERVER_RING_CAPACITY is larger than the server's ring: "
            "keys went missing before their number said they would",
        )
        self._ring.shrink(bound)
        self._metrics.ring_capacity.set(bound)

    def lost(self, seq: int, now: float) -> None:
        self._ring.numbers.restart(seq, now)
        self._ring.lost()

    def forget(self) -> None:
        self._ring.forget()

    def refresh_at(self, now: float, following: bool) -> float:
        return max(self._ring.due_at(now, following), self._not_before)

    def probe_at(self, now: float, following: bool) -> float:
        return self._ring.probe_at(now, following)

    def plan(
        self, now: float, following: bool, holds_wanted: Callable[[Key], bool]
    ) -> Resend | None:
        """Due keys the server holds as wanted; `holds_wanted` tells those from the rest.

        Urgent keys holding another value than the wanted one (a change
        being sent now, a value refused) are the diff's business; they stop
        being tracked until their next acknowledgement.
        """
        ring = self._ring
        if not ring.due(now, following):
            return None
        plan = ring.plan(now, following)
        urgent = [key for key in plan.urgent if holds_wanted(key)]
        filler = [key for key in plan.filler if holds_wanted(key)]
        if len(urgent) < len(plan.urgent):
            ring.ages.drop(key for key in plan.urgent if not holds_wanted(key))
        log.info(
            "ring_refresh",
            keys=len(urgent),
            may_ride_along=len(filler),
            flow_sequence=ring.numbers.latest,
            headroom=ring.headroom(now, following),
            margin=ring.margin,
            following_stream=following,
        )
        return Resend(
            nodes=[key for key in urgent if isinstance(key, str)],
            rels=[key for key in urgent if not isinstance(key, str)],
            fill_nodes=[key for key in filler if isinstance(key, str)],
            fill_rels=[key for key in filler if not isinstance(key, str)],
        )

    def refreshed(self, refresh: Resend, now: float, following: bool) -> None:
        ring = self._ring
        ring.refreshed(ring.numbers.latest)
        headroom = ring.headroom(now, following)
        if headroom is not None and headroom <= ring.margin and len(refresh):
            log.warning(
                "ring_too_small_for_the_graph",
                capacity=ring.capacity,
                headroom=headroom,
                margin=ring.margin,
                hint="FLOW_SERVER_RING_CAPACITY must match the server's; "
                "the graph needs more envelopes than the ring keeps",
            )

    def not_before(self, now: float, following: bool, later: float) -> None:
        if self._ring.due(now, following):
            self._not_before = later

    def show(self, now: float, following: bool) -> None:
        self._metrics.flow_sequence.set(self._ring.numbers.latest)
        headroom = self._ring.headroom(now, following)
        self._metrics.ring_headroom.set(math.nan if headroom is None else headroom)


class NullKeeper:
    """The keeper where there is no ring: no numbers, no refresh, never a lost flow."""

    @property
    def latest(self) -> int:
        return 0

    def mark(self) -> Mark:
        return Mark(0, 0)

    def lost_since(self, mark: Mark) -> bool:
        return False

    def heard(self, seq: int, at_least: int, now: float) -> bool:
        return False

    def acknowledged(self, values: Mapping[Key, Value], seq: int | None, mark: Mark) -> None:
        pass

    def checked(self, previous: GraphState, view: GraphState, mark: Mark) -> None:
        pass

    def lost(self, seq: int, now: float) -> None:
        pass

    def forget(self) -> None:
        pass

    def refresh_at(self, now: float, following: bool) -> float:
        return math.inf

    def probe_at(self, now: float, following: bool) -> float:
        return math.inf

    def plan(
        self, now: float, following: bool, holds_wanted: Callable[[Key], bool]
    ) -> Resend | None:
        return None

    def refreshed(self, refresh: Resend, now: float, following: bool) -> None:
        pass

    def not_before(self, now: float, following: bool, later: float) -> None:
        pass

    def show(self, now: float, following: bool) -> None:
        pass
