"""What to send so the server's graph becomes the desired one.

Order matters to a canvas watching live: new nodes before the edges that
point at them, and edges deleted before their nodes (the server never prunes
edges of a deleted node, so they must be named).
"""

from __future__ import annotations

from collections.abc import Iterable

from mapper.contract import FlowNode, Relationship, RelKey, RelPair
from mapper.state import GraphState, Keys
from mapper.wire import MAX_ENVELOPE_BYTES, Batch, batches


def _node_order(ids: Iterable[str], region: str | None) -> list[str]:
    return sorted(ids, key=lambda node_id: (node_id != region, node_id))


def diff(
    acknowledged: GraphState,
    desired: GraphState,
    only: Keys | None = None,
    *,
    region: str | None = None,
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> list[Batch]:
    """Envelopes that turn `acknowledged` into `desired`, looking only at `only` when given.

    `region` names a node to send before all others (the region container, so
    a canvas can group children as they arrive).
    """
    if only is None:
        node_ids: set[str] = acknowledged.nodes.keys() | desired.nodes.keys()
        rel_keys: set[RelKey] = acknowledged.rels.keys() | desired.rels.keys()
    else:
        node_ids, rel_keys = only.nodes, only.rels

    upsert_nodes: list[FlowNode] = []
    delete_nodes: list[str] = []
    for node_id in _node_order(node_ids, region):
        want = desired.nodes.get(node_id)
        if want is None:
            if node_id in acknowledged.nodes:
                delete_nodes.append(node_id)
        elif acknowledged.nodes.get(node_id) != want:
            upsert_nodes.append(want)

    upsert_rels: list[Relationship] = []
    delete_rels: list[RelPair] = []
    for key in sorted(rel_keys):
        want_rel = desired.rels.get(key)
        if want_rel is None:
            if key in acknowledged.rels:
                delete_rels.append(acknowledged.rels[key].pair())
        elif acknowledged.rels.get(key) != want_rel:
            upsert_rels.append(want_rel)

    return [
        *batches("upsert-nodes", upsert_nodes, max_bytes),
        *batches("upsert-rels", upsert_rels, max_bytes),
        *batches("delete-rels", delete_rels, max_bytes),
        *batches("delete-nodes", delete_nodes, max_bytes),
    ]
