"""Reading this adapter's share out of the server's snapshot."""

from __future__ import annotations

from flux_adapter.emit.snapshot import own_view
from mapper import FlowNode, GraphState, Relationship, diff

REGION = "eu"


def node(node_id: str, status: str = "running") -> dict[str, object]:
    return {"id": node_id, "flowId": "f", "label": node_id, "status": status}


def test_no_snapshot_means_the_server_holds_nothing() -> None:
    assert own_view(None, REGION) == GraphState()


def test_only_this_regions_nodes_and_the_edges_into_them_are_taken() -> None:
    snapshot = {
        "type": "snapshot",
        "nodes": [node("eu"), node("eu/a"), node("eu-west/b"), node("us"), node("us/c")],
        "relationships": [
            {"fromId": "eu/a", "toId": "eu", "type": "contains"},
            {"fromId": "us/c", "toId": "eu/a", "type": "triggers"},
            {"fromId": "eu/a", "toId": "us/c", "type": "finish-to-start"},
        ],
    }

    view = own_view(snapshot, REGION)

    assert sorted(view.nodes) == ["eu", "eu/a"]
    assert sorted(view.rels) == [("eu/a", "eu", "contains"), ("us/c", "eu/a", "triggers")]


def test_an_invalid_node_is_overwritten_when_wanted_and_deleted_when_not() -> None:
    snapshot = {"type": "snapshot", "nodes": [{"id": "eu/a"}, {"id": "eu/ghost", "status": 3}]}
    desired = GraphState(
        nodes={"eu/a": FlowNode(id="eu/a", flow_id="f", label="a", status="pending")}
    )

    envelopes = [
        batch.envelope.model_dump(by_alias=True)
        for batch in diff(own_view(snapshot, REGION), desired)
    ]

    assert envelopes == [
        {"type": "upsert-nodes", "nodes": [desired.nodes["eu/a"].model_dump(by_alias=True)]},
        {"type": "delete-nodes", "ids": ["eu/ghost"]},
    ]


def test_an_invalid_edge_with_a_valid_key_is_replaced() -> None:
    wanted = Relationship(
        from_id="eu/a", to_id="eu/b", type="finish-to-start", condition="on-success"
    )
    snapshot = {
        "type": "snapshot",
        "relationships": [
            {"fromId": "eu/a", "toId": "eu/b", "type": "finish-to-start", "condition": "maybe"}
        ],
    }
    desired = GraphState(rels={wanted.key: wanted})

    [batch] = diff(own_view(snapshot, REGION), desired)

    assert batch.envelope.type == "upsert-rels"


def test_an_edge_that_cannot_be_named_is_skipped() -> None:
    snapshot = {
        "type": "snapshot",
        "relationships": [{"fromId": "eu/a", "toId": "eu", "type": "owns"}],
    }

    assert own_view(snapshot, REGION).rels == {}


def test_missing_or_malformed_lists_read_as_empty() -> None:
    assert (
        own_view({"type": "snapshot", "nodes": "many", "relationships": [1, None]}, REGION)
        == GraphState()
    )
