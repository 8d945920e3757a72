"""The flow server's snapshot read back into regions, releases and dependencies.

Both pictures (the live terminal tree and the Graphviz file) draw the same
thing, so the reading is done once, here, without I/O. It relies only on
``docs/contract.md``, not on the adapter's code: a region is whatever a ``contains``
edge points to, and ``finish-to-start`` edges are the dependencies. Edges to
nodes the snapshot no longer holds are dropped, as canvases hide them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

STATUSES = ("failed", "running", "pending", "succeeded")
"""The adapter's vocabulary, worst first (the order a region rolls up in)."""


@dataclass(frozen=True)
class Release:
    id: str
    label: str
    status: str
    family: str | None
    chart: str | None
    reason: str | None
    needs: tuple[str, ...]
    """Labels of the releases this one waits for."""
    depth: int
    """Longest chain of dependencies below this release (0 for a root)."""


@dataclass(frozen=True)
class Region:
    id: str
    label: str
    status: str
    releases: tuple[Release, ...]


@dataclass(frozen=True)
class FlowGraph:
    regions: tuple[Region, ...]
    loose: tuple[Release, ...]
    """Releases no region contains (none, while the adapter does its job)."""
    edges: tuple[tuple[str, str], ...]
    """``finish-to-start`` edges as (dependency id, dependent id), both present."""

    def statuses(self) -> dict[str, str]:
        """Every node's status by id, regions included."""
        found = {region.id: region.status for region in self.regions}
        for release in self.releases():
            found[release.id] = release.status
        return found

    def releases(self) -> list[Release]:
        return [r for region in self.regions for r in region.releases] + list(self.loose)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any] | None) -> FlowGraph:
        """Read a snapshot envelope; ``None`` (the server's 404) is the empty graph."""
        if snapshot is None:
            return cls(regions=(), loose=(), edges=())
        nodes = {str(n["id"]): n for n in snapshot.get("nodes", []) if "id" in n}
        parent: dict[str, str] = {}
        needs: dict[str, list[str]] = {}
        edges: list[tuple[str, str]] = []
        for rel in snapshot.get("relationships", []):
            src, dst = str(rel.get("fromId")), str(rel.get("toId"))
            if src not in nodes or dst not in nodes:
                continue
            if rel.get("type") == "contains":
                parent.setdefault(src, dst)
            elif rel.get("type") == "finish-to-start":
                edges.append((src, dst))
                needs.setdefault(dst, []).append(src)
        region_ids = set(parent.values())
        release_ids = [i for i in nodes if i not in region_ids]
        depth = _depths(release_ids, needs)
        order = _display_order(release_ids, edges, depth, nodes)

        def release(node_id: str) -> Release:
            node = nodes[node_id]
            return Release(
                id=node_id,
                label=_label(node),
                status=str(node.get("status", "")),
                family=_opt_str(node.get("family")),
                chart=_chart(node.get("meta")),
                reason=_opt_str(_meta(node).get("readyReason")),
                needs=tuple(sorted(_label(nodes[d]) for d in needs.get(node_id, []))),
                depth=depth[node_id],
            )

        regions = tuple(
            Region(
                id=rid,
                label=_label(nodes[rid]),
                status=str(nodes[rid].get("status", "")),
                releases=tuple(release(i) for i in order if parent.get(i) == rid),
            )
            for rid in sorted(region_ids)
        )
        loose = tuple(release(i) for i in order if i not in parent)
        return cls(regions=regions, loose=loose, edges=tuple(sorted(edges)))


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _label(node: Mapping[str, Any]) -> str:
    return _opt_str(node.get("label")) or str(node["id"])


def _meta(node: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = node.get("meta")
    return meta if isinstance(meta, Mapping) else {}


def _chart(meta: object) -> str | None:
    chart = meta.get("chart") if isinstance(meta, Mapping) else None
    if not isinstance(chart, Mapping):
        return None
    parts = [p for p in (_opt_str(chart.get("name")), _opt_str(chart.get("version"))) if p]
    return " ".join(parts) or None


def _depths(ids: Iterable[str], needs: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest path to a root; a cycle (which Flux would refuse) counts as a root."""
    depth: dict[str, int] = {}
    on_path: set[str] = set()

    def walk(node_id: str) -> int:
        if node_id in depth:
            return depth[node_id]
        if node_id in on_path:
            return -1
        on_path.add(node_id)
        found = 1 + max((walk(d) for d in needs.get(node_id, [])), default=-1)
        on_path.discard(node_id)
        depth[node_id] = found
        return found

    for node_id in ids:
        walk(node_id)
    return depth


def _display_order(
    ids: list[str],
    edges: list[tuple[str, str]],
    depth: Mapping[str, int],
    nodes: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Chains together (by their first root's name), each layer by layer, names in order."""
    group = {i: i for i in ids}

    def find(i: str) -> str:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for src, dst in edges:
        if src in group and dst in group:
            group[find(src)] = find(dst)
    first_root: dict[str, str] = {}
    for i in ids:
        key = find(i)
        label = _label(nodes[i])
        if depth[i] == 0 and (key not in first_root or label < first_root[key]):
            first_root[key] = label
    return sorted(
        ids,
        key=lambda i: (first_root.get(find(i), ""), find(i), depth[i], _label(nodes[i]), i),
    )
