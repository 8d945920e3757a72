"""A graph as the flow server folds it: nodes by id, relationships by key."""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper.contract import (
    DeleteNodes,
    DeleteRels,
    FlowNode,
    Relationship,
    RelKey,
    UpsertFlow,
    UpsertNodes,
    UpsertRels,
)


@dataclass
class Keys:
    """Node ids and relationship keys: what a change touched, what a flush must look at."""

    nodes: set[str] = field(default_factory=set)
    rels: set[RelKey] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.nodes or self.rels)

    def __len__(self) -> int:
        return len(self.nodes) + len(self.rels)

    def update(self, other: Keys) -> None:
        self.nodes |= other.nodes
        self.rels |= other.rels


@dataclass
class GraphState:
    nodes: dict[str, FlowNode] = field(default_factory=dict)
    rels: dict[RelKey, Relationship] = field(default_factory=dict)

    def fold(
        self, envelope: UpsertNodes | UpsertRels | DeleteRels | DeleteNodes | UpsertFlow
    ) -> None:
        """Apply one envelope with the server's rules: replace by key; delete-nodes keeps edges."""
        match envelope:
            case UpsertNodes(nodes=nodes):
                for node in nodes:
                    self.nodes[node.id] = node
            case UpsertRels(relationships=rels):
                for rel in rels:
                    self.rels[rel.key] = rel
            case DeleteRels(pairs=pairs):
                for pair in pairs:
                    self.rels.pop(pair.key, None)
            case DeleteNodes(ids=ids):
                for node_id in ids:
                    self.nodes.pop(node_id, None)
            case UpsertFlow():
                pass

    def copy(self) -> GraphState:
        return GraphState(nodes=dict(self.nodes), rels=dict(self.rels))
