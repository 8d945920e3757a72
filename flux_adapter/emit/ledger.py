"""What the flow server is known to hold of this region, what it refused, and how much it takes.

The *acknowledged* graph advances only with 2xx answers, so a failed POST
leaves it behind and the next diff sends the then-current values. Values
the server called invalid (400) and items too large for the path on their
own (413) are held back (`rejections.py`) until the next snapshot check or
a change to them. A 413 on an envelope of several items teaches a smaller
size limit; each snapshot check offers the largest size again, so a lifted
limit is noticed (`docs/design.md`, "Delivery through faults").

The ledger plans the batches of a flush from these and takes their
outcomes; it does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from flux_adapter.emit.rejections import Key, Rejections, Value, sent_values
from flux_adapter.observe.metrics import Metrics
from mapper import Batch, GraphState, Keys, Resend, diff, split

log = structlog.get_logger("flux_adapter.emit.emitter")


def shown_key(key: Key) -> str:
    """A key as a log shows it: a node id, or a relationship's three parts."""
    return key if isinstance(key, str) else " ".join(key)


@dataclass(frozen=True, slots=True)
class Comparison:
    """How a snapshot check's view differed from what was acknowledged.

    `outcome`: `empty` (the server holds nothing of the flow), `in_sync` or
    `differed`; `lost_nodes`/`lost_rels`: acknowledged entries the view
    lacks or holds with another value.
    """

    outcome: str
    lost_nodes: int
    lost_rels: int


class Ledger:
    def __init__(self, max_bytes: int, metrics: Metrics) -> None:
        """`max_bytes`: the most an envelope may carry (bytes); no limit learned exceeds it."""
        self._max_bytes = max_bytes
        self._limit = max_bytes
        self._metrics = metrics
        self._acked = GraphState()
        self._refused = Rejections()
        self._oversized = Rejections()
        # Acknowledgements counted, and the count at each key's latest one, so
        # a snapshot check can tell what was acknowledged after it was asked.
        self._acks = 0
        self._acked_at: dict[Key, int] = {}
        metrics.envelope_limit.set(max_bytes)

    @property
    def acknowledged(self) -> GraphState:
        """What the server is known to hold of this region (read it, do not change it)."""
        return self._acked

    @property
    def limit(self) -> int:
        """The envelope size limit now in force, in bytes."""
        return self._limit

    def plan(
        self,
        desired: GraphState,
        only: Keys | None,
        *,
        region: str | None = None,
        resend: Resend | None = None,
    ) -> list[Batch]:
        """The envelopes that make the server hold `desired` for `only` (`None`: every key).

        `region` names the node sent before all others. Keys whose desired
        value is still one the server refused, or one too large on its own,
        are left out; `resend` adds unchanged keys to upsert again (a ring
        refresh). Batches respect the limit learned.
        """
        for held in (self._refused, self._oversized):
            if held:
                only = held.admit(only if only is not None else self._every_key(desired), desired)
        return diff(
            self._acked,
            desired,
            only=only,
            region=region,
            max_bytes=self._limit,
            resend=resend,
        )

    def _every_key(self, desired: GraphState) -> Keys:
        return Keys(
            nodes=set(self._acked.nodes) | set(desired.nodes),
            rels=set(self._acked.rels) | set(desired.rels),
        )

    def acknowledged_batch(self, batch: Batch) -> None:
        """The server accepted this envelope: it holds what the envelope asked."""
        self._acked.fold(batch.envelope)
        self._acks += 1
        for key in sent_values(batch.envelope):
            self._acked_at[key] = self._acks

    def mark(self) -> int:
        """A token for "now", taken when a snapshot GET is sent and handed back to `checked`."""
        return self._acks

    def rejected(self, batch: Batch) -> None:
        """The server called this envelope invalid: hold its values until a check or a change."""
        self._refused.record(batch.envelope)

    def too_large(self, batch: Batch) -> list[Batch]:
        """A 413: the envelope in pieces under a smaller limit learned, or `[]` for a lone item.

        A lone item is held back, like a refused value, until the next check.
        """
        if len(batch.items()) <= 1:
            self._oversized.record(batch.envelope)
            log.error(
                "envelope_item_too_large",
                keys=[shown_key(key) for key in sent_values(batch.envelope)],
                envelope_type=batch.type,
                envelope_bytes=batch.size,
                limit_bytes=self._limit,
                retry="at each snapshot check",
            )
            return []
        limit = max(1, batch.size // 2)
        if limit < self._limit:
            self._limit = limit
            self._metrics.envelope_limit.set(limit)
            log.warning("envelope_limit_learned", limit_bytes=limit, refused_bytes=batch.size)
        return split(batch, min(limit, self._limit))

    def holds_wanted(self, key: Key, desired: GraphState) -> bool:
        """The server holds this key with the value `desired` wants now."""
        if isinstance(key, str):
            node = desired.nodes.get(key)
            return node is not None and self._acked.nodes.get(key) == node
        rel = desired.rels.get(key)
        return rel is not None and self._acked.rels.get(key) == rel

    def unchanged(self, values: Mapping[Key, Value]) -> tuple[int, int]:
        """How many of these upserts carry the value already held: (nodes, relationships)."""
        nodes = rels = 0
        for key, value in values.items():
            if value is None:
                continue
            if isinstance(key, str):
                nodes += self._acked.nodes.get(key) == value
            else:
                rels += self._acked.rels.get(key) == value
        return nodes, rels

    def checked(
        self,
        view: GraphState,
        *,
        empty: bool,
        since: int | None = None,
        reprobe_limit: bool = True,
    ) -> Comparison:
        """A snapshot check found `view`: it becomes what is acknowledged.

        `empty`: the server held nothing of the flow at all. `since`: the
        `mark()` taken when the GET was sent; a key acknowledged after it
        keeps its acknowledged value (or absence), since the POST may have
        been answered after the server wrote the snapshot, and the ack is the
        newer word (`docs/design.md`, "When the snapshot is read").
        Whatever was held back gets another chance, and (unless
        `reprobe_limit` is false: a check the learning itself asked for) the
        full size limit is offered again, so a lifted limit is noticed.
        """
        if since is not None:
            view = self.overlaid(view, since)
        lost_nodes = sum(1 for k, v in self._acked.nodes.items() if view.nodes.get(k) != v)
        lost_rels = sum(1 for k, v in self._acked.rels.items() if view.rels.get(k) != v)
        if empty:
            outcome = "empty"
        elif view.nodes == self._acked.nodes and view.rels == self._acked.rels:
            outcome = "in_sync"
        else:
            outcome = "differed"
        self._acked = view
        self._acked_at = {
            k: n for k, n in self._acked_at.items() if since is not None and n > since
        }
        self._refused.clear()
        self._oversized.clear()
        if reprobe_limit and self._limit < self._max_bytes:
            log.info("envelope_limit_probe", limit_bytes=self._limit, probe_bytes=self._max_bytes)
            self._limit = self._max_bytes
            self._metrics.envelope_limit.set(self._max_bytes)
        return Comparison(outcome, lost_nodes, lost_rels)

    def overlaid(self, view: GraphState, since: int) -> GraphState:
        """`view` with every key acknowledged after the `mark()` `since` as the ledger holds it."""
        merged = view.copy()
        for key, count in self._acked_at.items():
            if count <= since:
                continue
            if isinstance(key, str):
                node = self._acked.nodes.get(key)
                if node is None:
                    merged.nodes.pop(key, None)
                else:
                    merged.nodes[key] = node
            else:
                rel = self._acked.rels.get(key)
                if rel is None:
                    merged.rels.pop(key, None)
                else:
                    merged.rels[key] = rel
        return merged

    def forget(self) -> None:
        """The server lost the flow: it holds nothing, and what it refused before may go now."""
        self._acked = GraphState()
        self._acked_at.clear()
        self._refused.clear()
        self._oversized.clear()
