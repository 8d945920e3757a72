"""Exactly how long each of one region's nodes and edges was missing from a flow's snapshot.

A flow server keeps the envelopes with the last `capacity` sequence numbers
and folds them into its snapshot (`docs/contract.md`, "Sequence numbers and
the ring"). What the snapshot shows therefore changes only when an envelope
is accepted (it is added, and the oldest may be evicted) or when the flow is
lost. The stand-in calls `accepted` and `lost` at exactly those moments, so
the time a key spends missing is computed exactly, never sampled.

A key is *wanted* once some envelope upserted it, until an envelope deletes
it (whoever sent either, evicted or not): that is what the region's poster
means the canvas to show. It is *shown* while the newest envelope in the
ring that touches it upserts it. Missing means wanted and not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Json = dict[str, Any]
Kind = Literal["node", "edge"]
HoleKey = tuple[Kind, str] | tuple[Kind, str, str, str]


@dataclass(frozen=True)
class Figures:
    """What `Holes` measured, up to the moment it was asked."""

    node_seconds: float
    edge_seconds: float
    longest: float
    holes: int
    missing_now: int
    envelopes: int
    bytes: int


def _touches(envelope: Json) -> list[tuple[HoleKey, bool]]:
    """Each key an envelope touches, and whether it upserts (true) or deletes it."""
    kind = envelope.get("type")
    if kind == "upsert-nodes":
        return [(("node", node["id"]), True) for node in envelope["nodes"]]
    if kind == "delete-nodes":
        return [(("node", node_id), False) for node_id in envelope["ids"]]
    if kind in ("upsert-rels", "delete-rels"):
        listed = envelope["relationships"] if kind == "upsert-rels" else envelope["pairs"]
        upsert = kind == "upsert-rels"
        return [(("edge", rel["fromId"], rel["toId"], rel["type"]), upsert) for rel in listed]
    return []


class Holes:
    """Missing time of one region's keys in one flow, kept at every accepted envelope."""

    def __init__(self, region: str) -> None:
        self.region = region
        # Per key in the ring: the number of the newest envelope touching it, and
        # whether that envelope upserts it.
        self._newest: dict[HoleKey, tuple[int, bool]] = {}
        self._wanted: set[HoleKey] = set()
        self._missing_since: dict[HoleKey, float] = {}
        self._seconds: dict[Kind, float] = {"node": 0.0, "edge": 0.0}
        self._longest = 0.0
        self._holes = 0
        self._envelopes = 0
        self._bytes = 0

    def _ours(self, key: HoleKey) -> bool:
        # A node by its id, an edge by its target (`toId`), as an adapter owns them.
        owner = key[1] if len(key) == 2 else key[2]
        return owner == self.region or owner.startswith(self.region + "/")

    def accepted(
        self,
        seq: int,
        envelope: Json,
        evicted: tuple[int, Json] | None,
        now: float,
        size: int = 0,
    ) -> None:
        """Envelope `seq` was accepted at `now` (s), evicting `evicted` (its number and body)."""
        touched: set[HoleKey] = set()
        if evicted is not None:
            old_seq, old = evicted
            for key, _ in _touches(old):
                if self._ours(key) and self._newest.get(key, (None, False))[0] == old_seq:
                    del self._newest[key]
                    touched.add(key)
        mine = False
        for key, upsert in _touches(envelope):
            if not self._ours(key):
                continue
            mine = True
            self._newest[key] = (seq, upsert)
            if upsert:
                self._wanted.add(key)
            else:
                self._wanted.discard(key)
            touched.add(key)
        if mine:
            self._envelopes += 1
            self._bytes += size
        for key in touched:
            self._settle(key, now)

    def lost(self, now: float) -> None:
        """The flow was forgotten (restart or delete): nothing is shown any more."""
        touched = set(self._newest)
        self._newest.clear()
        for key in touched | self._wanted:
            self._settle(key, now)

    def _settle(self, key: HoleKey, now: float) -> None:
        newest = self._newest.get(key)
        missing = key in self._wanted and not (newest is not None and newest[1])
        since = self._missing_since.get(key)
        if missing and since is None:
            self._missing_since[key] = now
        elif not missing and since is not None:
            del self._missing_since[key]
            self._close(key[0], now - since)

    def _close(self, kind: Kind, seconds: float) -> None:
        self._seconds[kind] += seconds
        self._longest = max(self._longest, seconds)
        self._holes += 1

    def figures(self, now: float) -> Figures:
        """The totals at `now` (s), holes still open counted up to it."""
        seconds = dict(self._seconds)
        longest = self._longest
        for key, since in self._missing_since.items():
            seconds[key[0]] += now - since
            longest = max(longest, now - since)
        return Figures(
            node_seconds=seconds["node"],
            edge_seconds=seconds["edge"],
            longest=longest,
            holes=self._holes + len(self._missing_since),
            missing_now=len(self._missing_since),
            envelopes=self._envelopes,
            bytes=self._bytes,
        )
