"""Envelope bodies built from each item's cached bytes, split to fit the server's limit.

The server answers 413 above 1 MiB, so sizes are measured on the exact bytes
that will be sent, never estimated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from mapper.contract import (
    DeleteNodes,
    DeleteRels,
    FlowNode,
    Outbound,
    Relationship,
    RelPair,
    UpsertNodes,
    UpsertRels,
)

MAX_ENVELOPE_BYTES = 1_048_576

ListType = Literal["upsert-nodes", "upsert-rels", "delete-rels", "delete-nodes"]

_LIST_FIELD: dict[ListType, str] = {
    "upsert-nodes": "nodes",
    "upsert-rels": "relationships",
    "delete-rels": "pairs",
    "delete-nodes": "ids",
}


class OversizedItemError(ValueError):
    """One item alone is larger than an envelope may be."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One envelope and the exact body that carries it."""

    envelope: Outbound
    body: bytes

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def size(self) -> int:
        return len(self.body)


def _head(kind: ListType) -> bytes:
    return b'{"type":"' + kind.encode() + b'","' + _LIST_FIELD[kind].encode() + b'":['


def _item_bytes(item: FlowNode | Relationship | RelPair | str) -> bytes:
    if isinstance(item, str):
        return json.dumps(item, ensure_ascii=False).encode()
    return item.wire()


def _envelope(kind: ListType, items: list[FlowNode | Relationship | RelPair | str]) -> Outbound:
    if kind == "upsert-nodes":
        return UpsertNodes(nodes=[i for i in items if isinstance(i, FlowNode)])
    if kind == "upsert-rels":
        return UpsertRels(relationships=[i for i in items if isinstance(i, Relationship)])
    if kind == "delete-rels":
        return DeleteRels(pairs=[i for i in items if isinstance(i, RelPair)])
    return DeleteNodes(ids=[i for i in items if isinstance(i, str)])


def batches(
    kind: ListType,
    items: Iterable[FlowNode | Relationship | RelPair | str],
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> Iterator[Batch]:
    """Pack items in order into as few envelopes as fit under `max_bytes` each."""
    head = _head(kind)
    overhead = len(head) + len(b"]}")
    group: list[FlowNode | Relationship | RelPair | str] = []
    parts: list[bytes] = []
    size = overhead
    for item in items:
        raw = _item_bytes(item)
        if overhead + len(raw) > max_bytes:
            raise OversizedItemError(f"one {kind} item is {len(raw)} bytes, over {max_bytes}")
        extra = len(raw) + (1 if parts else 0)
        if parts and size + extra > max_bytes:
            yield Batch(_envelope(kind, group), head + b",".join(parts) + b"]}")
            group, parts, size = [], [], overhead
            extra = len(raw)
        group.append(item)
        parts.append(raw)
        size += extra
    if parts:
        yield Batch(_envelope(kind, group), head + b",".join(parts) + b"]}")


def encode(envelope: Outbound) -> bytes:
    """The body for a single envelope built elsewhere (e.g. `upsert-flow`)."""
    return envelope.wire()
