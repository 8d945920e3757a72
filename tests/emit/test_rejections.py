"""Refused values stay out of diffs until the cluster changes them."""

from __future__ import annotations

from flux_adapter.emit.rejections import Rejections
from mapper import DeleteNodes, FlowNode, GraphState, Keys, Status, UpsertNodes


def node(status: Status) -> FlowNode:
    return FlowNode(id="eu/a", flow_id="f", label="a", status=status)


def test_a_refused_value_is_held_back_while_it_is_still_wanted() -> None:
    rejections = Rejections()
    rejections.record(UpsertNodes(nodes=[node("running")]))

    assert rejections.admit(
        Keys(nodes={"eu/a", "eu"}), GraphState(nodes={"eu/a": node("running")})
    ) == Keys(nodes={"eu"})


def test_a_refused_value_is_forgotten_once_the_wanted_value_moves_on() -> None:
    rejections = Rejections()
    rejections.record(UpsertNodes(nodes=[node("running")]))

    admitted = rejections.admit(Keys(nodes={"eu/a"}), GraphState(nodes={"eu/a": node("failed")}))

    assert admitted == Keys(nodes={"eu/a"})
    assert not rejections


def test_a_refused_delete_is_held_back_while_the_node_stays_gone() -> None:
    rejections = Rejections()
    rejections.record(DeleteNodes(ids=["eu/a"]))

    assert rejections.admit(Keys(nodes={"eu/a"}), GraphState()) == Keys()
