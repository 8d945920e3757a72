"""What the server is known to hold: the batches planned from it, and what each answer changes."""

from __future__ import annotations

import json
from typing import Any

from structlog.testing import capture_logs

from flux_adapter.emit.ledger import Ledger
from flux_adapter.observe.metrics import Metrics
from mapper import (
    Batch,
    DeleteNodes,
    FlowNode,
    GraphState,
    Keys,
    Relationship,
    Resend,
    Status,
    UpsertNodes,
)

LIMIT = "flux_adapter_envelope_limit_bytes"


def node(node_id: str, status: Status = "running") -> FlowNode:
    return FlowNode(id=node_id, flow_id="f", label=node_id, status=status)


def rel(from_id: str, to_id: str) -> Relationship:
    return Relationship(from_id=from_id, to_id=to_id, type="finish-to-start", from_flow_id="f")


def graph(*nodes: FlowNode) -> GraphState:
    return GraphState(nodes={n.id: n for n in nodes})


def upsert(*nodes: FlowNode) -> Batch:
    envelope = UpsertNodes(nodes=list(nodes))
    return Batch(envelope, envelope.wire())


def sent(batches: list[Batch]) -> list[dict[str, Any]]:
    return [json.loads(batch.body) for batch in batches]


def upserted(batches: list[Batch]) -> list[str]:
    """The ids of the nodes the batches upsert, in order."""
    return [n["id"] for envelope in sent(batches) for n in envelope.get("nodes", [])]


def holding(*nodes: FlowNode, max_bytes: int = 1 << 20) -> tuple[Ledger, Metrics]:
    metrics = Metrics()
    ledger = Ledger(max_bytes, metrics)
    if nodes:
        ledger.acknowledged_batch(upsert(*nodes))
    return ledger, metrics


def test_a_plan_sends_only_what_differs_from_what_is_acknowledged() -> None:
    ledger, _ = holding(node("eu/a"))

    batches = ledger.plan(graph(node("eu/a"), node("eu/b", "failed")), None)

    assert upserted(batches) == ["eu/b"]


def test_a_plan_for_some_keys_looks_at_no_other() -> None:
    ledger, _ = holding()

    batches = ledger.plan(graph(node("eu/a"), node("eu/b")), Keys(nodes={"eu/b"}))

    assert upserted(batches) == ["eu/b"]


def test_a_plan_deletes_what_is_held_but_no_longer_wanted() -> None:
    ledger, _ = holding(node("eu"), node("eu/a"))

    assert sent(ledger.plan(graph(node("eu")), None)) == [{"type": "delete-nodes", "ids": ["eu/a"]}]


def test_an_acknowledged_envelope_is_held() -> None:
    ledger, _ = holding()

    ledger.acknowledged_batch(upsert(node("eu/a")))

    assert ledger.acknowledged == graph(node("eu/a"))
    assert ledger.plan(graph(node("eu/a")), None) == []


def test_a_refused_value_is_left_out_until_it_changes() -> None:
    ledger, _ = holding()
    ledger.rejected(upsert(node("eu/a")))

    assert ledger.plan(graph(node("eu/a")), None) == []
    assert len(ledger.plan(graph(node("eu/a", "failed")), None)) == 1


def test_a_refused_value_is_offered_again_after_a_check() -> None:
    ledger, _ = holding()
    ledger.rejected(upsert(node("eu/a")))

    ledger.checked(GraphState(), empty=True)

    assert len(ledger.plan(graph(node("eu/a")), None)) == 1


def test_a_refused_value_is_offered_again_after_a_lost_flow() -> None:
    ledger, _ = holding()
    ledger.rejected(upsert(node("eu/a")))

    ledger.forget()

    assert len(ledger.plan(graph(node("eu/a")), None)) == 1


def test_a_413_on_several_items_halves_the_limit_and_splits() -> None:
    ledger, metrics = holding()
    batch = upsert(node("eu/a"), node("eu/b"))

    pieces = ledger.too_large(batch)

    assert ledger.limit == batch.size // 2
    assert metrics.value(LIMIT) == batch.size // 2
    assert [p.envelope for p in pieces] == [
        UpsertNodes(nodes=[node("eu/a")]),
        UpsertNodes(nodes=[node("eu/b")]),
    ]


def test_later_plans_respect_the_limit_learned() -> None:
    ledger, _ = holding()
    ledger.too_large(upsert(node("eu/a"), node("eu/b")))

    batches = ledger.plan(graph(node("eu/a"), node("eu/b")), None)

    assert [len(envelope["nodes"]) for envelope in sent(batches)] == [1, 1]


def test_a_413_on_a_lone_item_holds_it_back_and_logs_why() -> None:
    ledger, _ = holding()
    with capture_logs() as logs:
        assert ledger.too_large(upsert(node("eu/a"))) == []

    assert ledger.plan(graph(node("eu/a")), None) == []
    [entry] = logs
    assert (entry["event"], entry["keys"]) == ("envelope_item_too_large", ["eu/a"])


def test_a_check_offers_the_full_size_again() -> None:
    ledger, metrics = holding(max_bytes=4096)
    ledger.too_large(upsert(node("eu/a"), node("eu/b")))

    ledger.checked(GraphState(), empty=False)

    assert ledger.limit == 4096
    assert metrics.value(LIMIT) == 4096


def test_a_check_that_finds_what_is_held_is_in_sync() -> None:
    ledger, _ = holding(node("eu/a"))

    comparison = ledger.checked(graph(node("eu/a")), empty=False)

    assert (comparison.outcome, comparison.lost_nodes, comparison.lost_rels) == ("in_sync", 0, 0)


def test_a_check_counts_what_the_server_lost_and_takes_its_view() -> None:
    ledger, _ = holding(node("eu/a"), node("eu/b"))

    comparison = ledger.checked(graph(node("eu/a", "failed")), empty=False)

    assert (comparison.outcome, comparison.lost_nodes) == ("differed", 2)
    assert ledger.acknowledged == graph(node("eu/a", "failed"))


def test_a_check_of_an_absent_flow_is_empty() -> None:
    ledger, _ = holding(node("eu/a"))

    assert ledger.checked(GraphState(), empty=True).outcome == "empty"


def test_a_lost_flow_leaves_nothing_acknowledged() -> None:
    ledger, _ = holding(node("eu/a"))

    ledger.forget()

    assert ledger.acknowledged == GraphState()


def test_only_a_key_held_with_the_wanted_value_counts_as_held() -> None:
    ledger, _ = holding(node("eu/a"), node("eu/b"))
    wanted = graph(node("eu/a"), node("eu/b", "failed"))

    assert ledger.holds_wanted("eu/a", wanted)
    assert not ledger.holds_wanted("eu/b", wanted)
    assert not ledger.holds_wanted(("eu/a", "eu/b", "finish-to-start"), wanted)


def test_upserts_of_values_already_held_are_counted_by_kind() -> None:
    ledger, _ = holding(node("eu/a"))
    edge = rel("eu/a", "eu/b")

    unchanged = ledger.unchanged({"eu/a": node("eu/a"), "eu/b": node("eu/b"), edge.key: edge})

    assert unchanged == (1, 0)


def test_a_refresh_resends_values_already_held() -> None:
    ledger, _ = holding(node("eu/a"))

    batches = ledger.plan(graph(node("eu/a")), Keys(), resend=Resend(nodes=["eu/a"]))

    assert upserted(batches) == ["eu/a"]


def test_a_post_acknowledged_while_a_check_was_in_flight_is_not_counted_lost() -> None:
    ledger, _ = holding(node("eu/a"))
    asked = ledger.mark()
    ledger.acknowledged_batch(upsert(node("eu/a", "failed")))  # answered while the GET was out

    comparison = ledger.checked(graph(node("eu/a")), empty=False, since=asked)

    assert (comparison.outcome, comparison.lost_nodes) == ("in_sync", 0)
    assert ledger.acknowledged.nodes["eu/a"] == node("eu/a", "failed")


def test_a_key_acknowledged_before_the_check_was_asked_takes_the_snapshots_word() -> None:
    ledger, _ = holding(node("eu/a", "failed"))
    asked = ledger.mark()

    comparison = ledger.checked(GraphState(), empty=False, since=asked)

    assert (comparison.outcome, comparison.lost_nodes) == ("differed", 1)
    assert "eu/a" not in ledger.acknowledged.nodes


def test_a_delete_acknowledged_while_a_check_was_in_flight_stays_deleted() -> None:
    ledger, _ = holding(node("eu/a"), node("eu/b"))
    asked = ledger.mark()
    envelope = DeleteNodes(ids=["eu/b"])
    ledger.acknowledged_batch(Batch(envelope, envelope.wire()))

    comparison = ledger.checked(graph(node("eu/a"), node("eu/b")), empty=False, since=asked)

    assert comparison.outcome == "in_sync"
    assert set(ledger.acknowledged.nodes) == {"eu/a"}
