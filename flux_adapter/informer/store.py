"""The current Flux objects, slimmed, and the one door through which they change the graph.

Every change (a watch event, or the difference a LIST makes) goes through
`Graph.apply` for exactly one object, and the keys it touched go to the
change sink, so the emitter's work is proportional to what changed. An
object equal to the one already held is not applied at all: a relist of an
unchanged cluster costs a comparison per object and sends nothing.

Each held object is kept as its compact JSON, not as the dict: the graph
already keeps what it mapped, and the store needs only to compare. Ten
thousand slim dicts cost about 25 MB of small objects; their bytes cost a
quarter of that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from flux_adapter.kube.resources import WATCHED
from flux_adapter.observe.metrics import Metrics
from mapper import Applied, Collision, Graph, Keys, Kind, ObjectKey, Unmappable, slim

log = structlog.get_logger(__name__)

KINDS: tuple[Kind, ...] = tuple(resource.kind for resource in WATCHED)
"""The kinds the store holds: exactly those the reflectors watch (`kube.resources.WATCHED`)."""


class ChangeSink(Protocol):
    """Whoever turns touched graph keys into work downstream (the emitter)."""

    def notify(self, keys: Keys) -> None: ...


def object_key(obj: Mapping[str, Any]) -> ObjectKey | None:
    """(namespace, name), or None when the object does not say who it is."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    name = meta.get("name")
    namespace = meta.get("namespace", "")
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        return None
    return (namespace, name)


class Relist:
    """One LIST being received page by page; it replaces the store only when complete.

    Items are slimmed and packed as each page arrives, so a list of ten
    thousand releases never holds their `spec.values` all at once, nor ten
    thousand slim dicts whose freed memory would stay scattered among the
    graph's objects; a list that fails halfway leaves the store as it was.
    """

    def __init__(self, store: Store, kind: Kind) -> None:
        self._store = store
        self._kind = kind
        self._objects: dict[ObjectKey, bytes] = {}

    def add(self, obj: object) -> None:
        admitted = self._store.admit(self._kind, obj)
        if admitted is not None:
            key, value = admitted
            self._objects[key] = _pack(value)

    def commit(self) -> None:
        self._store.replace(self._kind, self._objects)


class Store:
    def __init__(self, graph: Graph, sink: ChangeSink, metrics: Metrics) -> None:
        self.graph = graph
        self._sink = sink
        self._metrics = metrics
        self._objects: dict[Kind, dict[ObjectKey, bytes]] = {kind: {} for kind in KINDS}
        self._synced: set[Kind] = set()

    def synced(self, kind: Kind) -> bool:
        """Whether a complete LIST of `kind` has been applied (readiness waits for it)."""
        return kind in self._synced

    def all_synced(self) -> bool:
        return all(kind in self._synced for kind in KINDS)

    def get(self, kind: Kind, key: ObjectKey) -> dict[str, Any] | None:
        """The slimmed object held under `key` (a fresh copy), or None."""
        held = self._objects[kind].get(key)
        if held is None:
            return None
        value: dict[str, Any] = json.loads(held)
        return value

    def keys(self, kind: Kind) -> set[ObjectKey]:
        return set(self._objects[kind])

    def count(self, kind: Kind) -> int:
        return len(self._objects[kind])

    def relist(self, kind: Kind) -> Relist:
        return Relist(self, kind)

    def upsert(self, kind: Kind, obj: object) -> None:
        """An ADDED or MODIFIED object."""
        admitted = self.admit(kind, obj)
        if admitted is None:
            return
        key, value = admitted
        touched = Keys()
        self._put(kind, key, _pack(value), touched, value)
        self._notify(touched)

    def delete(self, kind: Kind, obj: object) -> None:
        """A DELETED object; the last state the server sends is only read for its key."""
        key = self._identify(kind, obj)
        if key is None:
            return
        touched = Keys()
        self._remove(kind, key, touched)
        self._notify(touched)

    def replace(self, kind: Kind, objects: Mapping[ObjectKey, bytes]) -> None:
        """Make `kind` hold exactly `objects` (admitted and packed), as after a LIST.

        Whatever vanished is deleted here, once: it leaves the store, so no
        later LIST can report it again.
        """
        touched = Keys()
        for key in sorted(self._objects[kind].keys() - objects.keys()):
            self._remove(kind, key, touched)
        for key, packed in objects.items():
            self._put(kind, key, packed, touched)
        self._synced.add(kind)
        self._notify(touched)

    def admit(self, kind: Kind, obj: object) -> tuple[ObjectKey, dict[str, Any]] | None:
        """The object's key and slimmed form, or None (logged and counted) when it has no key."""
        key = self._identify(kind, obj)
        if key is None or not isinstance(obj, Mapping):
            return None
        return key, slim(kind, obj)

    def _identify(self, kind: Kind, obj: object) -> ObjectKey | None:
        key = object_key(obj) if isinstance(obj, Mapping) else None
        if key is None:
            self._metrics.skipped_objects.labels(resource=kind).inc()
            log.warning("object_without_key", kind=kind, type=type(obj).__name__)
        return key

    def _put(
        self,
        kind: Kind,
        key: ObjectKey,
        packed: bytes,
        touched: Keys,
        value: dict[str, Any] | None = None,
    ) -> None:
        """Hold `packed` and apply it; `value` is its unpacked form when the caller has it."""
        held = self._objects[kind]
        if held.get(key) == packed:
            return
        held[key] = packed
        obj = value if value is not None else json.loads(packed)
        self._absorb(kind, key, self.graph.apply(kind, key, obj), touched)

    def _remove(self, kind: Kind, key: ObjectKey, touched: Keys) -> None:
        if self._objects[kind].pop(key, None) is None:
            return
        self._absorb(kind, key, self.graph.apply(kind, key, None), touched)

    def _absorb(self, kind: Kind, key: ObjectKey, applied: Applied, touched: Keys) -> None:
        touched.update(applied.touched)
        for problem in applied.problems:
            self._metrics.skipped_objects.labels(resource=kind).inc()
            if isinstance(problem, Unmappable):
                log.warning(
                    "object_unmappable",
                    kind=kind,
                    namespace=key[0],
                    name=key[1],
                    reason=problem.reason,
                )
            elif isinstance(problem, Collision):
                log.warning(
                    "node_id_collision",
                    kind=kind,
                    node_id=problem.node_id,
                    kept="/".join(problem.kept),
                    ignored="/".join(problem.ignored),
                )

    def _notify(self, touched: Keys) -> None:
        if touched:
            self._sink.notify(touched)


def _pack(value: Mapping[str, Any]) -> bytes:
    """Equal objects pack to equal bytes: keys sorted, no spaces.

    Objects come from JSON, so everything serialises; `repr` covers a value
    that does not, at worst making an unchanged object look changed, which
    costs one needless (and harmless) `Graph.apply`.
    """
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
    )
    return text.encode()
