"""The flow server's folding rules, read independently of mapper.state, on raw JSON.

Property tests fold the diff's actual bodies through this, so they check the
bytes the server would receive, not the models that produced them.
"""

from __future__ import annotations

import json
from typing import Any

from mapper.state import GraphState


def server_view(state: GraphState) -> tuple[dict[str, Any], dict[tuple[str, str, str], Any]]:
    nodes = {node_id: json.loads(node.wire()) for node_id, node in state.nodes.items()}
    rels = {key: json.loads(rel.wire()) for key, rel in state.rels.items()}
    return nodes, rels


def fold_bodies(
    start: GraphState, bodies: list[bytes]
) -> tuple[dict[str, Any], dict[tuple[str, str, str], Any]]:
    nodes, rels = server_view(start)
    for body in bodies:
        envelope = json.loads(body)
        kind = envelope["type"]
        if kind == "upsert-nodes":
            for node in envelope["nodes"]:
                nodes[node["id"]] = node
        elif kind == "upsert-rels":
            for rel in envelope["relationships"]:
                rels[(rel["fromId"], rel["toId"], rel["type"])] = rel
        elif kind == "delete-rels":
            for pair in envelope["pairs"]:
                rels.pop((pair["fromId"], pair["toId"], pair["type"]), None)
        elif kind == "delete-nodes":
            for node_id in envelope["ids"]:
                nodes.pop(node_id, None)
        else:
            raise AssertionError(f"unexpected envelope type {kind}")
    return nodes, rels
