"""The ring keeper on its own: numbers heard, keys acknowledged, when a refresh is due and of what.

A ring of 16 envelopes keeps a margin of 4 and looks a horizon of 5 ahead
(`ring.py`): a key upserted by envelope 1 falls due when the flow reaches
1 + 16 - 1 - 4 = 12.
"""

from __future__ import annotations

import math

from flux_adapter.emit.rejections import Key
from flux_adapter.emit.ring_keeper import Mark, NullKeeper, RingKeeper
from flux_adapter.observe.metrics import Metrics
from mapper import FlowNode, GraphState, Resend

FOLLOWING = True
NOW = 50.0


def node(node_id: str) -> FlowNode:
    return FlowNode(id=node_id, flow_id="f", label=node_id, status="running")


def keeper_with(*keys: str, seq: int = 1) -> RingKeeper:
    """A keeper of a 16-envelope ring whose keys were upserted by envelope `seq`."""
    keeper = RingKeeper(16, Metrics())
    keeper.acknowledged(dict.fromkeys(keys, node("x")), seq, Mark(0, seq - 1))
    return keeper


def held(_: Key) -> bool:
    return True


def test_a_refresh_falls_due_when_the_oldest_key_is_down_to_the_margin() -> None:
    keeper = keeper_with("eu/a")

    keeper.heard(11, 0, NOW)
    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf
    keeper.heard(12, 11, NOW)
    assert keeper.refresh_at(NOW, FOLLOWING) == NOW


def test_a_refresh_re_upserts_the_due_keys_the_server_holds_as_wanted() -> None:
    keeper = keeper_with("eu/a", "eu/b")
    keeper.heard(12, 0, NOW)

    plan = keeper.plan(NOW, FOLLOWING, lambda key: key == "eu/a")

    assert plan == Resend(nodes=["eu/a"], rels=[], fill_nodes=[], fill_rels=[])


def test_a_due_key_not_held_as_wanted_stops_being_tracked() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(12, 0, NOW)

    keeper.plan(NOW, FOLLOWING, lambda key: False)

    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf


def test_nothing_is_planned_before_a_refresh_is_due() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(5, 0, NOW)

    assert keeper.plan(NOW, FOLLOWING, held) is None


def test_a_refresh_that_went_through_is_not_repeated_within_a_horizon() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(12, 0, NOW)
    refresh = keeper.plan(NOW, FOLLOWING, held)
    assert refresh is not None
    keeper.acknowledged({"eu/a": node("eu/a")}, 13, Mark(0, 12))

    keeper.refreshed(refresh, NOW, FOLLOWING)

    keeper.heard(17, 13, NOW)
    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf


def test_a_due_refresh_that_could_not_go_waits_until_the_time_given() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(12, 0, NOW)

    keeper.not_before(NOW, FOLLOWING, NOW + 0.2)

    assert keeper.refresh_at(NOW, FOLLOWING) == NOW + 0.2


def test_a_number_below_the_lowest_possible_is_told_apart_but_not_yet_believed() -> None:
    keeper = keeper_with("eu/a", seq=40)
    mark = keeper.mark()

    assert keeper.heard(3, 41, NOW)
    assert not keeper.lost_since(mark)
    assert keeper.latest == mark.latest


def test_a_loss_once_believed_starts_the_new_count() -> None:
    keeper = keeper_with("eu/a", seq=40)
    mark = keeper.mark()

    keeper.lost(3, NOW)

    assert keeper.lost_since(mark)
    assert keeper.latest == 3


def test_a_number_at_or_above_the_lowest_possible_is_not_a_loss() -> None:
    keeper = keeper_with("eu/a", seq=40)
    mark = keeper.mark()

    assert not keeper.heard(41, 41, NOW)
    assert not keeper.lost_since(mark)
    assert keeper.latest == 41


def test_after_a_lost_flow_no_key_is_kept_ahead() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(12, 0, NOW)

    keeper.lost(1, NOW)

    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf


def test_a_takeover_forgets_the_numbers() -> None:
    keeper = keeper_with("eu/a", seq=40)
    mark = keeper.mark()

    keeper.forget()

    assert keeper.latest == 0
    assert keeper.lost_since(mark)


def test_a_key_the_check_found_under_an_unknown_number_counts_as_the_oldest() -> None:
    keeper = RingKeeper(16, Metrics())
    keeper.heard(20, 0, NOW)

    keeper.checked(GraphState(), GraphState(nodes={"eu/b": node("eu/b")}), Mark(0, 20))

    # The oldest an envelope still held can be is 20 - 16 + 1 = 5: due at 16.
    assert keeper.refresh_at(NOW, FOLLOWING) == NOW
    assert keeper.plan(NOW, FOLLOWING, held) == Resend(
        nodes=["eu/b"], rels=[], fill_nodes=[], fill_rels=[]
    )


def test_a_key_the_check_found_as_acknowledged_keeps_its_number() -> None:
    keeper = keeper_with("eu/a", seq=10)
    keeper.heard(20, 0, NOW)
    acknowledged = GraphState(nodes={"eu/a": node("x")})

    keeper.checked(acknowledged, GraphState(nodes={"eu/a": node("x")}), Mark(0, 20))

    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf


def test_a_key_the_check_did_not_find_is_no_longer_kept_ahead() -> None:
    keeper = keeper_with("eu/a")
    keeper.heard(12, 0, NOW)

    keeper.checked(GraphState(nodes={"eu/a": node("x")}), GraphState(), Mark(0, 12))

    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf


def test_the_flows_number_and_the_oldest_keys_room_are_published() -> None:
    metrics = Metrics()
    keeper = RingKeeper(16, metrics)
    keeper.acknowledged({"eu/a": node("eu/a")}, 1, Mark(0, 0))
    keeper.heard(6, 0, NOW)

    keeper.show(NOW, FOLLOWING)

    assert metrics.value("flux_adapter_flow_sequence") == 6
    assert metrics.value("flux_adapter_ring_headroom_envelopes") == 1 + 16 - 1 - 6


def test_without_a_ring_nothing_is_ever_due_or_lost() -> None:
    keeper = NullKeeper()
    mark = keeper.mark()
    keeper.acknowledged({"eu/a": node("eu/a")}, None, mark)

    assert not keeper.heard(1, 1000, NOW)
    assert not keeper.lost_since(mark)
    assert keeper.refresh_at(NOW, FOLLOWING) == math.inf
    assert keeper.plan(NOW, FOLLOWING, held) is None
    assert keeper.latest == 0
