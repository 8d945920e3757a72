"""The diff: ordered, minimal envelopes under the server's size limit."""

from __future__ import annotations

import json

from mapper.contract import FlowNode, Relationship
from mapper.diff import Resend, diff
from mapper.graph import Graph
from mapper.state import GraphState, Keys
from mapper.wire import MAX_ENVELOPE_BYTES, batches, split
from tests.fixtures import bootstrap_kit
from tests.mapper.server_fold import fold_bodies, server_view
from tests.support.objects import condition, helm_release

REGION = "eu-west-1"
NS = "flux-system"


def kit_graph() -> Graph:
    g = Graph(REGION, "bootstrap")
    for obj in bootstrap_kit():
        g.apply("HelmRelease", (NS, obj["metadata"]["name"]), obj)
    return g


def node(node_id: str, status: str = "pending") -> FlowNode:
    return FlowNode.model_validate(
        {"id": node_id, "flowId": "f", "label": node_id, "status": status}
    )


def test_an_unchanged_graph_yields_no_envelopes() -> None:
    g = kit_graph()
    assert diff(g.copy(), g) == []


def test_initial_sync_sends_region_first_then_nodes_then_edges() -> None:
    g = kit_graph()
    out = diff(GraphState(), g, region=REGION)
    assert [b.type for b in out] == ["upsert-nodes", "upsert-rels"]
    first = json.loads(out[0].body)
    assert first["nodes"][0]["id"] == REGION
    assert len(first["nodes"]) == 31
    assert len(json.loads(out[1].body)["relationships"]) == 76


def test_initial_sync_of_the_kit_folds_into_exactly_the_graph() -> None:
    g = kit_graph()
    assert fold_bodies(GraphState(), [b.body for b in diff(GraphState(), g)]) == server_view(g)


def test_a_deleted_release_sends_delete_rels_for_its_edges_then_delete_nodes() -> None:
    g = kit_graph()
    acked = g.copy()
    name = "bp-keycloak"
    g.apply("HelmRelease", (NS, name), None)
    out = diff(acked, g, region=REGION)
    assert [b.type for b in out] == ["delete-rels", "delete-nodes"]
    pairs = json.loads(out[0].body)["pairs"]
    assert {"fromId": f"{REGION}/{name}", "toId": REGION, "type": "contains"} in pairs
    assert all(f"{REGION}/{name}" in (p["fromId"], p["toId"]) for p in pairs)
    assert json.loads(out[1].body) == {"type": "delete-nodes", "ids": [f"{REGION}/{name}"]}


def test_order_is_upserts_then_deletes_when_all_four_are_needed() -> None:
    acked = GraphState(
        nodes={"old": node("old")},
        rels={("old", "x", "contains"): Relationship(from_id="old", to_id="x", type="contains")},
    )
    wanted = GraphState(
        nodes={"new": node("new")},
        rels={("new", "x", "contains"): Relationship(from_id="new", to_id="x", type="contains")},
    )
    assert [b.type for b in diff(acked, wanted)] == [
        "upsert-nodes",
        "upsert-rels",
        "delete-rels",
        "delete-nodes",
    ]


def test_changed_relationship_with_same_key_is_upserted_not_deleted() -> None:
    key = ("a", "b", "finish-to-start")
    acked = GraphState(rels={key: Relationship(from_id="a", to_id="b", type="finish-to-start")})
    wanted = GraphState(
        rels={
            key: Relationship(
                from_id="a", to_id="b", type="finish-to-start", condition="on-success"
            )
        }
    )
    assert [b.type for b in diff(acked, wanted)] == ["upsert-rels"]


def test_only_restricts_the_diff_to_the_given_keys() -> None:
    g = kit_graph()
    acked = g.copy()
    for name in ("bp-cilium", "bp-flux"):
        obj = helm_release(name, conditions=[condition("Ready", "True", "InstallSucceeded")])
        g.apply("HelmRelease", (NS, name), obj)
    out = diff(acked, g, only=Keys(nodes={f"{REGION}/bp-flux"}))
    assert [n["id"] for n in json.loads(out[0].body)["nodes"]] == [f"{REGION}/bp-flux"]


def test_only_with_a_key_equal_on_both_sides_sends_nothing() -> None:
    g = kit_graph()
    assert diff(g.copy(), g, only=Keys(nodes={REGION}, rels=set(g.rels))) == []


def test_twenty_thousand_nodes_split_into_envelopes_under_one_mebibyte() -> None:
    g = Graph(REGION, "bootstrap")
    for i in range(20_000):
        name = f"bp-release-{i:05d}"
        obj = helm_release(
            name,
            labels={"catalyst.openova.io/family": "family", "catalyst.openova.io/slot": str(i)},
            depends_on=[{"name": f"bp-release-{i - 1:05d}"}] if i else (),
            conditions=[condition("Ready", "False", "InstallFailed", "boom " * 100)],
        )
        g.apply("HelmRelease", (NS, name), obj)
    out = diff(GraphState(), g, region=REGION)
    assert len(out) > 2
    assert all(b.size <= MAX_ENVELOPE_BYTES for b in out)
    sent = [n for b in out if b.type == "upsert-nodes" for n in json.loads(b.body)["nodes"]]
    assert len(sent) == 20_001
    assert sent[0]["id"] == REGION
    full = [b for b in out if b.type == "upsert-nodes"][:-1]
    assert all(b.size > MAX_ENVELOPE_BYTES - 1_000 for b in full)


def test_batch_body_is_exactly_the_envelope_json() -> None:
    for batch in diff(GraphState(), kit_graph(), max_bytes=2_000):
        assert batch.size <= 2_000
        assert json.loads(batch.body) == batch.envelope.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        assert batch.body == batch.envelope.wire()


def test_an_item_larger_than_the_limit_goes_alone_in_its_own_envelope() -> None:
    sent = list(batches("delete-nodes", ["a", "x" * 100, "b"], max_bytes=50))
    assert [batch.items() for batch in sent] == [["a"], ["x" * 100], ["b"]]
    assert [batch.size > 50 for batch in sent] == [False, True, False]


def test_a_batch_splits_into_pieces_under_a_smaller_limit_in_order() -> None:
    [whole] = batches("delete-nodes", [f"node-{i}" for i in range(10)])
    pieces = split(whole, 60)
    assert len(pieces) > 1
    assert all(piece.size <= 60 for piece in pieces)
    assert [i for piece in pieces for i in piece.items()] == whole.items()


def test_a_batch_that_cannot_shrink_under_the_limit_splits_into_single_items() -> None:
    [whole] = batches("delete-nodes", ["x" * 40, "y" * 40])
    assert [piece.items() for piece in split(whole, 10)] == [["x" * 40], ["y" * 40]]


def test_non_ascii_is_measured_in_bytes() -> None:
    ids = ["ü" * 10] * 10
    for batch in batches("delete-nodes", ids, max_bytes=100):
        assert len(batch.body) <= 100


def test_filler_goes_only_where_the_last_envelope_has_room() -> None:
    # `{"type":"delete-nodes","ids":["a"]}` is 35 bytes; each further id adds 4.
    sent = list(batches("delete-nodes", ["a", "b"], max_bytes=43, filler=["c", "d", "e"]))
    assert [batch.items() for batch in sent] == [["a", "b", "c"]]
    assert sent[0].size == 43
    assert list(batches("delete-nodes", [], filler=["c"])) == []


def test_filler_stops_at_the_first_item_that_does_not_fit() -> None:
    [batch] = batches("delete-nodes", ["a"], max_bytes=40, filler=["b", "x" * 20, "c"])
    assert batch.items() == ["a", "b"]


def test_resend_upserts_held_values_after_the_changes() -> None:
    g = kit_graph()
    acked = g.copy()
    obj = helm_release("bp-flux", conditions=[condition("Ready", "True", "InstallSucceeded")])
    g.apply("HelmRelease", (NS, "bp-flux"), obj)
    cilium = f"{REGION}/bp-cilium"
    edge = (cilium, REGION, "contains")
    again = Resend(nodes=[cilium, f"{REGION}/bp-flux", f"{REGION}/gone"], rels=[edge])
    out = diff(acked, g, only=Keys(nodes={f"{REGION}/bp-flux"}), resend=again)
    assert [b.type for b in out] == ["upsert-nodes", "upsert-rels"]
    assert [n["id"] for n in json.loads(out[0].body)["nodes"]] == [f"{REGION}/bp-flux", cilium]
    assert json.loads(out[1].body)["relationships"] == [json.loads(g.rels[edge].wire())]


def test_resend_fills_the_last_envelope_and_opens_none_of_its_own() -> None:
    g = kit_graph()
    acked = g.copy()
    oldest_first = sorted(g.nodes)
    again = Resend(nodes=oldest_first[:1], fill_nodes=oldest_first[1:], fill_rels=sorted(g.rels))
    out = diff(acked, g, resend=again, max_bytes=5_000)
    assert all(b.type == "upsert-nodes" for b in out)
    [batch] = out
    sent = [n["id"] for n in json.loads(batch.body)["nodes"]]
    assert sent == oldest_first[: len(sent)]
    assert 1 < len(sent) < len(oldest_first)
    assert batch.size <= 5_000
