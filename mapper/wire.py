"""Envelope bodies built from each item's cached bytes, split to fit a size limit.

The server answers 413 above 1 MiB, and a proxy in front of it may refuse
less, so sizes are measured on the exact bytes that will be sent, never
estimated. An item too large for the limit on its own still goes out, alone
in its envelope: only the path can say whether it fits, and the caller
decides what to do when it does not (`docs/contract.md`, "Endpoints").
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


Item = FlowNode | Relationship | RelPair | str
"""What a list envelope carries: nodes, relationships, pairs to delete, or node ids."""


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

    def items(self) -> list[Item]:
        """The list the envelope carries, in order (empty for an envelope without one)."""
        listed = _listed(self.envelope)
        return [] if listed is None else listed[1]


def _listed(envelope: Outbound) -> tuple[ListType, list[Item]] | None:
    match envelope:
        case UpsertNodes(nodes=nodes):
            return "upsert-nodes", list(nodes)
        case UpsertRels(relationships=rels):
            return "upsert-rels", list(rels)
        case DeleteRels(pairs=pairs):
            return "delete-rels", list(pairs)
        case DeleteNodes(ids=ids):
            return "delete-nodes", list(ids)
    return None


def _head(kind: ListType) -> bytes:
    return b'{"type":"' + kind.encode() + b'","' + _LIST_FIELD[kind].encode() + b'":['


def _item_bytes(item: Item) -> bytes:
    if isinstance(item, str):
        return json.dumps(item, ensure_ascii=False).encode()
    return item.wire()


def _envelope(kind: ListType, items: list[Item]) -> Outbound:
    if kind == "upsert-nodes":
        return UpsertNodes(nodes=[i for i in items if isinstance(i, FlowNode)])
    if kind == "upsert-rels":
        return UpsertRels(relationships=[i for i in items if isinstance(i, Relationship)])
    if kind == "delete-rels":
        return DeleteRels(pairs=[i for i in items if isinstance(i, RelPair)])
    return DeleteNodes(ids=[i for i in items if isinstance(i, str)])


def batches(
    kind: ListType,
    items: Iterable[Item],
    max_bytes: int = MAX_ENVELOPE_BYTES,
    filler: Iterable[Item] = (),
) -> Iterator[Batch]:
    """Pack items in order into as few envelopes as fit under `max_bytes` each.

    An item that does not fit under `max_bytes` even alone gets an envelope of
    its own, larger than the limit. `filler` items are then added, in order,
    to the last envelope while they fit: never an envelope of their own, and
    none at all when `items` is empty.
    """
    head = _head(kind)
    overhead = len(head) + len(b"]}")
    group: list[Item] = []
    parts: list[bytes] = []
    size = overhead
    for item in items:
        raw = _item_bytes(item)
        extra = len(raw) + (1 if parts else 0)
        if parts and size + extra > max_bytes:
            yield Batch(_envelope(kind, group), head + b",".join(parts) + b"]}")
            group, parts, size = [], [], overhead
            extra = len(raw)
        group.append(item)
        parts.append(raw)
        size += extra
    if parts:
        for item in filler:
            raw = _item_bytes(item)
            if size + len(raw) + 1 > max_bytes:
                break
            group.append(item)
            parts.append(raw)
            size += len(raw) + 1
        yield Batch(_envelope(kind, group), head + b",".join(parts) + b"]}")


def split(batch: Batch, max_bytes: int) -> list[Batch]:
    """The batch's items packed again under `max_bytes`; each item alone if that gains nothing.

    Raises `ValueError` for an envelope that carries no list (`upsert-flow`).
    """
    listed = _listed(batch.envelope)
    if listed is None:
        raise ValueError(f"a {batch.type} envelope carries no list to split")
    kind, items = listed
    pieces = list(batches(kind, items, max_bytes))
    if len(pieces) == 1 and len(items) > 1:
        pieces = [next(batches(kind, [item], max_bytes)) for item in items]
    return pieces


def encode(envelope: Outbound) -> bytes:
    """The body for a single envelope built elsewhere (e.g. `upsert-flow`)."""
    return envelope.wire()
