"""The wire types refuse what the server would silently store and serialise to its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from mapper.contract import (
    DeleteNodes,
    DeleteRels,
    Envelope,
    FlowInstance,
    FlowNode,
    Relationship,
    RelPair,
    UpsertFlow,
    UpsertNodes,
    UpsertRels,
)

GOOD_NODE: dict[str, Any] = {"id": "r/a", "flowId": "f", "label": "a", "status": "running"}


@pytest.mark.parametrize("missing", ["id", "flowId", "label", "status"])
def test_node_without_a_required_field_is_refused(missing: str) -> None:
    fields = {k: v for k, v in GOOD_NODE.items() if k != missing}
    with pytest.raises(ValidationError, match=missing):
        FlowNode.model_validate(fields)


@pytest.mark.parametrize("field", ["id", "flowId", "label"])
def test_node_with_an_empty_identity_field_is_refused(field: str) -> None:
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {field: ""})


def test_node_status_outside_the_adapter_vocabulary_is_refused() -> None:
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {"status": "green"})


def test_node_timestamps_are_integer_millis_only() -> None:
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {"startedAt": "2026-11-20T09:00:00Z"})
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {"startedAt": 1.5})
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {"endedAt": -1})


def test_node_serialises_camel_case_and_omits_absent_fields() -> None:
    node = FlowNode(id="r/a", flow_id="f", label="a", status="succeeded", started_at=1, ended_at=2)
    assert json.loads(node.wire()) == {
        "id": "r/a",
        "flowId": "f",
        "label": "a",
        "status": "succeeded",
        "startedAt": 1,
        "endedAt": 2,
    }


def test_unknown_node_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        FlowNode.model_validate(GOOD_NODE | {"colour": "red"})


@pytest.mark.parametrize("rel_type", ["contains", "finish-to-start", "triggers", "start-to-finish"])
def test_relationship_types_of_the_contract_are_accepted(rel_type: str) -> None:
    rel = Relationship.model_validate({"fromId": "a", "toId": "b", "type": rel_type})
    assert rel.key == ("a", "b", rel_type)


def test_relationship_type_and_condition_outside_the_vocabulary_are_refused() -> None:
    with pytest.raises(ValidationError):
        Relationship.model_validate({"fromId": "a", "toId": "b", "type": "depends-on"})
    with pytest.raises(ValidationError):
        Relationship.model_validate(
            {"fromId": "a", "toId": "b", "type": "contains", "condition": "sometimes"}
        )


def test_relationship_serialises_without_cross_flow_fields_by_default() -> None:
    rel = Relationship(from_id="a", to_id="b", type="finish-to-start", condition="on-success")
    assert json.loads(rel.wire()) == {
        "fromId": "a",
        "toId": "b",
        "type": "finish-to-start",
        "condition": "on-success",
    }
    assert rel.pair() == RelPair(from_id="a", to_id="b", type="finish-to-start")


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "upsert-nodes", "nodes": []},
        {"type": "upsert-rels", "relationships": []},
        {"type": "delete-rels", "pairs": []},
        {"type": "delete-nodes", "ids": []},
        {"type": "delete-nodes", "ids": [""]},
        {"type": "upsert-flow"},
        {"type": "snapshot", "nodes": []},
    ],
)
def test_envelopes_refuse_empty_lists_and_unknown_types(envelope: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Envelope).validate_python(envelope)


def test_each_envelope_serialises_to_the_contract_shape() -> None:
    node = FlowNode.model_validate(GOOD_NODE)
    rel = Relationship(from_id="a", to_id="b", type="contains")
    flow = FlowInstance(id="f", status="running", started_at=5)
    assert json.loads(UpsertNodes(nodes=[node]).wire()) == {
        "type": "upsert-nodes",
        "nodes": [GOOD_NODE],
    }
    assert json.loads(UpsertRels(relationships=[rel]).wire()) == {
        "type": "upsert-rels",
        "relationships": [{"fromId": "a", "toId": "b", "type": "contains"}],
    }
    assert json.loads(DeleteRels(pairs=[rel.pair()]).wire()) == {
        "type": "delete-rels",
        "pairs": [{"fromId": "a", "toId": "b", "type": "contains"}],
    }
    assert json.loads(DeleteNodes(ids=["r/a"]).wire()) == {"type": "delete-nodes", "ids": ["r/a"]}
    assert json.loads(UpsertFlow(flow=flow).wire()) == {
        "type": "upsert-flow",
        "flow": {"id": "f", "status": "running", "startedAt": 5},
    }


def test_a_node_round_trips_through_its_json() -> None:
    node = FlowNode.model_validate(GOOD_NODE | {"meta": {"chart": {"version": "1"}}})
    assert FlowNode.model_validate_json(node.wire()) == node


NODE_FIELDS = {"id", "flow_id", "label", "status"}


def test_models_that_set_the_same_fields_share_one_fields_set() -> None:
    a = FlowNode.model_validate(GOOD_NODE)
    b = FlowNode.model_validate(GOOD_NODE | {"id": "r/b"})

    assert a.model_fields_set == NODE_FIELDS
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    with_family = FlowNode.model_validate(GOOD_NODE | {"family": "x"})
    assert with_family.model_fields_set == NODE_FIELDS | {"family"}


def test_a_copy_with_updates_leaves_the_shared_fields_set_alone() -> None:
    a = FlowNode.model_validate(GOOD_NODE)
    b = FlowNode.model_validate(GOOD_NODE | {"id": "r/b"})

    copied = a.model_copy(update={"family": "x"})

    assert "family" in copied.model_fields_set
    assert a.model_fields_set == NODE_FIELDS
    assert b.model_fields_set == NODE_FIELDS
    assert FlowNode.model_validate(GOOD_NODE).model_fields_set == NODE_FIELDS
