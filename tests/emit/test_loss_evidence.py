"""A lower sequence number is a suspicion; only a snapshot begun after it confirms a lost flow."""

from __future__ import annotations

import itertools
import math
import random

from flux_adapter.emit.loss_evidence import (
    CHECK_CAP,
    LossEvidence,
    Verdict,
    held,
    lost_keys,
)
from flux_adapter.observe.backoff import ReconnectBackoff
from mapper import FlowNode, GraphState
from tests.support.clock import FakeClock


def evidence(clock: FakeClock) -> LossEvidence:
    backoff = ReconnectBackoff(initial=4.0, cap=CHECK_CAP, clock=clock, rng=random.Random(7))
    return LossEvidence(clock=clock, backoff=backoff)


def node(node_id: str) -> FlowNode:
    return FlowNode(id=node_id, flow_id="flow", label=node_id, status="running")


def state(*ids: str) -> GraphState:
    graph = GraphState()
    graph.nodes.update({node_id: node(node_id) for node_id in ids})
    return graph


def test_a_first_lower_number_is_checked_at_once() -> None:
    clock = FakeClock()
    found = evidence(clock)

    assert found.suspect("stream", 3, 900) is not None

    assert found.ask(clock())
    assert found.check_at() == math.inf


def test_more_lower_numbers_while_one_waits_are_the_same_question() -> None:
    clock = FakeClock()
    found = evidence(clock)
    first = found.suspect("stream", 3, 900)

    assert found.suspect("post", 1, 901) is None
    assert found.suspicion == first


def test_a_snapshot_that_lacks_acknowledged_keys_confirms_the_loss() -> None:
    clock = FakeClock()
    found = evidence(clock)
    suspicion = found.suspect("post", 1, 900)
    found.ask(clock())

    verdict = found.settle(found.ticket(), lost=True)

    assert verdict == (suspicion, Verdict.CONFIRMED)
    assert found.suspicion is None


def test_a_snapshot_that_holds_everything_does_not_confirm_it() -> None:
    clock = FakeClock()
    found = evidence(clock)
    suspicion = found.suspect("stream", 3, 900)
    found.ask(clock())

    assert found.settle(found.ticket(), lost=False) == (suspicion, Verdict.NOT_CONFIRMED)


def test_a_snapshot_begun_before_the_suspicion_decides_nothing_and_another_is_asked() -> None:
    clock = FakeClock()
    found = evidence(clock)
    before = found.ticket()
    found.suspect("stream", 3, 900)
    found.ask(clock())

    assert found.settle(before, lost=False) is None
    assert found.suspicion is not None
    assert found.ask(clock())


def test_checks_of_later_suspicions_are_spaced_but_never_past_the_cap() -> None:
    clock = FakeClock()
    found = evidence(clock)
    checked: list[float] = []
    # A suspicion every 50 ms for ten minutes, each judged at once.
    for _ in range(12_000):
        clock.now += 0.05
        found.suspect("stream", 3, 900)
        if found.ask(clock()):
            checked.append(clock())
            found.settle(found.ticket(), lost=False)

    gaps = [later - earlier for earlier, later in itertools.pairwise(checked)]
    assert max(gaps) <= CHECK_CAP + 0.05
    per_minute = [sum(1 for t in checked if start <= t < start + 60) for start in (1060, 1300)]
    assert max(per_minute) <= 6


def test_a_loss_is_a_key_acknowledged_before_the_read_and_since_that_the_view_lacks() -> None:
    before = held(state("eu", "eu/a"))
    assert lost_keys(before, state("eu", "eu/a"), state("eu"))
    assert not lost_keys(before, state("eu", "eu/a"), state("eu", "eu/a", "eu/b"))
    assert not lost_keys(held(GraphState()), GraphState(), GraphState())


def test_a_key_acknowledged_during_the_read_is_no_loss_when_the_view_lacks_it() -> None:
    assert not lost_keys(held(state("eu")), state("eu", "eu/new"), state("eu"))


def test_a_key_deleted_during_the_read_is_no_loss_when_the_view_lacks_it() -> None:
    assert not lost_keys(held(state("eu", "eu/gone")), state("eu"), state("eu"))
