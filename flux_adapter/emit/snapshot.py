"""This adapter's share of the server's snapshot, as an acknowledged graph.

Several adapters (one per cluster) post into one flow, so the snapshot holds
other regions too; only what this adapter owns is taken: the region node,
nodes under `<region>/`, and edges pointing at one of those. Setting the
emitter's acknowledged graph to this view makes the next diff send exactly
what the server lost, and delete exactly what it holds but should not.

The server stores nodes as they came, so an entry may not be a valid
`FlowNode`. Such an entry is kept as a placeholder that equals no valid
node: the diff then overwrites it when the node is wanted and deletes it when
it is not, instead of leaving an invisible stale entry behind.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from flux_adapter.emit.sink import Snapshot
from mapper import FlowNode, GraphState, Relationship, RelPair


def _entries(snapshot: Snapshot, field: str) -> list[Mapping[str, object]]:
    found = snapshot.get(field)
    if not isinstance(found, list):
        return []
    return [entry for entry in found if isinstance(entry, Mapping)]


def _unreadable_node(node_id: str) -> FlowNode:
    # An empty flowId is refused by validation, so no desired node can equal this.
    return FlowNode.model_construct(id=node_id, flow_id="", label="", status="pending")


def _unreadable_rel(pair: RelPair) -> Relationship:
    # As above: an empty fromFlowId never validates, so this differs from any wanted edge.
    return Relationship.model_construct(
        from_id=pair.from_id, to_id=pair.to_id, type=pair.type, from_flow_id=""
    )


def own_view(snapshot: Snapshot | None, region: str) -> GraphState:
    """What the server holds of this region; an absent snapshot means nothing."""
    view = GraphState()
    if snapshot is None:
        return view
    prefix = region + "/"

    def ours(node_id: object) -> bool:
        return isinstance(node_id, str) and (node_id == region or node_id.startswith(prefix))

    for raw in _entries(snapshot, "nodes"):
        node_id = raw.get("id")
        if not isinstance(node_id, str) or not ours(node_id):
            continue
        try:
            view.nodes[node_id] = FlowNode.model_validate(dict(raw))
        except ValidationError:
            view.nodes[node_id] = _unreadable_node(node_id)

    for raw in _entries(snapshot, "relationships"):
        if not ours(raw.get("toId")):
            continue
        try:
            rel = Relationship.model_validate(dict(raw))
        except ValidationError:
            try:
                pair = RelPair.model_validate(
                    {"fromId": raw.get("fromId"), "toId": raw.get("toId"), "type": raw.get("type")}
                )
            except ValidationError:
                # Without a valid key it cannot even be named in a delete-rels.
                continue
            rel = _unreadable_rel(pair)
        view.rels[rel.key] = rel
    return view
