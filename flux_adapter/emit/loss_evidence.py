"""Whether the flow server really lost the flow: a lower number is a suspicion, a snapshot decides.

A sequence number below one the server already passed says the server
counted from 1 again (`docs/contract.md`, "Sequence numbers and the ring"),
but a broken or hostile server can say it at every event. Believed at once,
each would empty *acknowledged* and re-send the whole region into the ring
every region shares. So a lower number only raises a *suspicion*; a
snapshot check begun after it decides: the loss is confirmed when the
server no longer holds keys it acknowledged, and only then is everything
sent again. Checks for suspicions are spaced by a backoff that grows with
each one (`CHECK_START` to `CHECK_CAP`, forgotten after `QUIET`), so
neither the checks nor the re-sends they may confirm can come faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.clock import Clock
from mapper import GraphState, Keys

CHECK_START = 4.0
"""Seconds before a second suspicion may be checked; doubled for each one after it."""

CHECK_CAP = 20.0
"""The most seconds between two checks of suspicions.

With the jitter (each wait is drawn from its upper half) that is at most
eight checks in the first minute and six in each after, and so as many full
re-sends, however often lower numbers come; and a real restart among false
alarms is still believed within it.
"""

QUIET = 600.0
"""Seconds without a suspicion after which the spacing starts again at `CHECK_START`."""


@dataclass(frozen=True, slots=True)
class Suspicion:
    """A number lower than one passed: where it was heard, the number, the newest known then."""

    ticket: int
    source: str
    seq: int
    seen: int


class Verdict(Enum):
    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not_confirmed"


def held(acknowledged: GraphState) -> Keys:
    """The keys acknowledged now, to hand to `lost_keys` once a snapshot read answers."""
    return Keys(nodes=set(acknowledged.nodes), rels=set(acknowledged.rels))


def lost_keys(before: Keys, acknowledged: GraphState, view: GraphState) -> bool:
    """The snapshot `view` lacks a node or edge acknowledged both `before` it was read and now.

    A key acknowledged while the read was under way may be missing from a
    snapshot taken before it landed, and one deleted meanwhile may be gone
    from it: neither says anything of a loss.
    """
    return any(key in acknowledged.nodes and key not in view.nodes for key in before.nodes) or any(
        key in acknowledged.rels and key not in view.rels for key in before.rels
    )


class LossEvidence:
    def __init__(self, *, clock: Clock, backoff: ReconnectBackoff | None = None) -> None:
        """`clock` times the spacing (s, monotonic); `backoff` overrides it (tests)."""
        self._clock = clock
        self._backoff = backoff or ReconnectBackoff(
            initial=CHECK_START, cap=CHECK_CAP, reset_after=QUIET, clock=clock
        )
        self._suspicion: Suspicion | None = None
        self._tickets = 0
        self._asked = False
        self._check_at = 0.0

    @property
    def suspicion(self) -> Suspicion | None:
        """The suspicion waiting for a check, if any."""
        return self._suspicion

    def suspect(self, source: str, seq: int, seen: int) -> Suspicion | None:
        """A number `seq` below `seen` was heard from `source`; the new suspicion, if it is one.

        While a suspicion waits for its check, further ones are the same
        question and answer `None`.
        """
        if self._suspicion is not None:
            return None
        self._tickets += 1
        self._suspicion = Suspicion(self._tickets, source, seq, seen)
        self._asked = False
        return self._suspicion

    def check_at(self) -> float:
        """When a check for the waiting suspicion may be asked for (s); infinity if none waits."""
        if self._suspicion is None or self._asked:
            return math.inf
        return self._check_at

    def ask(self, now: float) -> bool:
        """Whether a check should be asked for now; true once per suspicion when due."""
        if self.check_at() > now:
            return False
        self._asked = True
        return True

    def ticket(self) -> int | None:
        """What a snapshot read beginning now carries, for `settle` to tell when it began."""
        return None if self._suspicion is None else self._suspicion.ticket

    def settle(self, ticket: int | None, lost: bool) -> tuple[Suspicion, Verdict] | None:
        """A snapshot read that began at `ticket` answered; `lost`: it lacks acknowledged keys.

        Answers the suspicion it decides and how, or `None` when it decides
        nothing (no suspicion, or the read began before it: then a check is
        asked for again).
        """
        suspicion = self._suspicion
        if suspicion is None:
            return None
        if ticket != suspicion.ticket:
            self._asked = False
            return None
        self._suspicion = None
        self._check_at = self._clock() + self._backoff.failure()
        return suspicion, Verdict.CONFIRMED if lost else Verdict.NOT_CONFIRMED
