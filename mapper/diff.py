"""What to send so the server's graph becomes the desired one.

Order matters to a canvas watching live: new nodes before the edges that
point at them, and edges deleted before their nodes (the server never prunes
edges of a deleted node, so they must be named).

The server's ring forgets what is not upserted again (`docs/contract.md`,
"Sequence numbers and the ring"), so a diff can also carry values the server
already holds: those that must be re-upserted now, after the changes, and
others that ride along in the room left in the last envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mapper.contract import FlowNode, Relationship, RelKey, RelPair
from mapper.state import GraphState, Keys
from mapper.wire import MAX_ENVELOPE_BYTES, Batch, batches


@dataclass(frozen=True)
class Resend:
    """Keys to upsert again with their desired values although the server holds them.

    `nodes` and `rels` go in any case, after the changes of their kind;
    `fill_nodes` and `fill_rels` only where they fit in the last envelope of
    their kind, in the order given, never in an envelope of their own. Keys
    not in the desired graph are left out.
    """

    nodes: Sequence[str] = ()
    rels: Sequence[RelKey] = ()
    fill_nodes: Sequence[str] = ()
    fill_rels: Sequence[RelKey] = ()

    def __len__(self) -> int:
        return len(self.nodes) + len(self.rels) + len(self.fill_nodes) + len(self.fill_rels)


KeyT = TypeVar("KeyT", str, RelKey)
ValueT = TypeVar("ValueT", FlowNode, Relationship)


def _again(keys: Sequence[KeyT], wanted: Mapping[KeyT, ValueT], taken: set[KeyT]) -> list[ValueT]:
    """The wanted values of `keys` not yet in `taken` (which then holds them too)."""
    out: list[ValueT] = []
    for key in keys:
        value = wanted.get(key)
        if value is not None and key not in taken:
            taken.add(key)
            out.append(value)
    return out


def _node_order(ids: Iterable[str], region: str | None) -> list[str]:
    return sorted(ids, key=lambda node_id: (node_id != region, node_id))


def diff(
    acknowledged: GraphState,
    desired: GraphState,
    only: Keys | None = None,
    *,
    region: str | None = None,
    max_bytes: int = MAX_ENVELOPE_BYTES,
    resend: Resend | None = None,
) -> list[Batch]:
    """Envelopes that turn `acknowledged` into `desired`, looking only at `only` when given.

    `region` names a node to send before all others (the region container, so
    a canvas can group children as they arrive). `resend` adds values the
    server holds but must be sent again; `max_bytes` bounds each body (bytes).
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

    again = resend or Resend()
    nodes_taken = {node.id for node in upsert_nodes}
    rels_taken = {rel.key for rel in upsert_rels}
    upsert_nodes += _again(again.nodes, desired.nodes, nodes_taken)
    upsert_rels += _again(again.rels, desired.rels, rels_taken)
    fill_nodes = _again(again.fill_nodes, desired.nodes, nodes_taken)
    fill_rels = _again(again.fill_rels, desired.rels, rels_taken)

    return [
        *batches("upsert-nodes", upsert_nodes, max_bytes, fill_nodes),
        *batches("upsert-rels", upsert_rels, max_bytes, fill_rels),
        *batches("delete-rels", delete_rels, max_bytes),
        *batches("delete-nodes", delete_nodes, max_bytes),
    ]
