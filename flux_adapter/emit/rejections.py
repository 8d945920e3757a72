"""Remembering what the server refused, so a broken value is not sent every window.

A 4xx leaves the acknowledged graph as it was, so the key still differs
from the desired graph, and every later full diff (the periodic snapshot
check) would offer the same refused value again, forever. Instead, each
refused item is remembered with the value that was refused, and its key is
left out of diffs for as long as the desired value stays that same value.
The moment the cluster changes it, the key is offered again.
"""

from __future__ import annotations

from mapper import FlowNode, GraphState, Keys, Relationship, RelKey
from mapper.contract import DeleteNodes, DeleteRels, Outbound, UpsertNodes, UpsertRels

Key = str | RelKey
"""A node id or a relationship key: one dict can hold both, they never collide."""

Value = FlowNode | Relationship | None
"""What an envelope asked the server to hold under a key; `None` for a delete."""


def sent_values(envelope: Outbound) -> dict[Key, Value]:
    """Each key an envelope touches, with the value it asked for."""
    match envelope:
        case UpsertNodes(nodes=nodes):
            return {node.id: node for node in nodes}
        case UpsertRels(relationships=rels):
            return {rel.key: rel for rel in rels}
        case DeleteRels(pairs=pairs):
            return {pair.key: None for pair in pairs}
        case DeleteNodes(ids=ids):
            return dict.fromkeys(ids)
    return {}


class Rejections:
    def __init__(self) -> None:
        self._refused: dict[Key, Value] = {}

    def __bool__(self) -> bool:
        return bool(self._refused)

    def __len__(self) -> int:
        return len(self._refused)

    def clear(self) -> None:
        """Forget every refusal: each key is offered again (after a snapshot check)."""
        self._refused.clear()

    def record(self, envelope: Outbound) -> None:
        self._refused.update(sent_values(envelope))

    def admit(self, keys: Keys, desired: GraphState) -> Keys:
        """`keys` without those whose desired value is still the refused one.

        A key whose desired value moved on is forgotten here and admitted.
        """
        if not self._refused:
            return keys
        admitted = Keys()
        for node_id in keys.nodes:
            if not self._still_refused(node_id, desired.nodes.get(node_id)):
                admitted.nodes.add(node_id)
        for rel_key in keys.rels:
            if not self._still_refused(rel_key, desired.rels.get(rel_key)):
                admitted.rels.add(rel_key)
        return admitted

    def _still_refused(self, key: Key, wanted: Value) -> bool:
        if key not in self._refused:
            return False
        if self._refused[key] == wanted:
            return True
        del self._refused[key]
        return False
