"""The desired graph, kept current one Kubernetes object at a time.

A watch event costs work proportional to that object: the release is
re-mapped alone (a HelmChart re-maps the releases that use it, found by
index), the region roll-up moves by one count, and only the keys whose value
really changed are returned, so a resync of unchanged objects produces
nothing downstream.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mapper.chart import pick_chart
from mapper.objects import (
    ChartView,
    Kind,
    ObjectKey,
    ReleaseView,
    Unmappable,
    parse_chart,
    parse_release,
)
from mapper.region import RegionRollup
from mapper.release import MappedRelease, map_release, node_id
from mapper.state import GraphState, Keys


@dataclass(frozen=True, slots=True)
class Collision:
    """Two releases (in different namespaces) that map to one node id."""

    node_id: str
    kept: ObjectKey
    ignored: ObjectKey


Problem = Unmappable | Collision


@dataclass
class Applied:
    touched: Keys = field(default_factory=Keys)
    problems: list[Problem] = field(default_factory=list)


class Graph(GraphState):
    def __init__(self, region: str, flow_id: str) -> None:
        super().__init__()
        self.region = region
        self.flow_id = flow_id
        self._rollup = RegionRollup(region, flow_id)
        self.nodes[region] = self._rollup.node()
        self._releases: dict[ObjectKey, ReleaseView] = {}
        # Tuples, not sets: nearly every node has exactly one claimant, and a
        # one-element set costs 216 bytes where a tuple costs 48.
        self._claims: dict[str, tuple[ObjectKey, ...]] = {}
        self._rendered: dict[str, MappedRelease] = {}
        self._charts: dict[ObjectKey, ChartView] = {}
        # The two indexes that make a HelmChart event cost the releases using
        # that chart, not the cluster: release -> charts labelled for it, and
        # chart -> releases naming it (`spec.chartRef` of kind HelmChart, else
        # `status.helmChart`; a shared chart has several).
        self._labelled: dict[ObjectKey, set[ObjectKey]] = {}
        self._referrers: dict[ObjectKey, set[ObjectKey]] = {}
        self._reported: set[tuple[str, ObjectKey]] = set()

    @property
    def release_count(self) -> int:
        return len(self._rendered)

    def apply(self, kind: Kind, key: ObjectKey, obj: Mapping[str, Any] | None) -> Applied:
        """Replace one object's contribution; `None` means the object is gone.

        An object that cannot be mapped is reported and leaves the last good
        contribution in place: a garbled update must not erase a node.
        """
        if kind == "HelmRelease":
            return self._apply_release(key, obj)
        return self._apply_chart(key, obj)

    def _apply_release(self, key: ObjectKey, obj: Mapping[str, Any] | None) -> Applied:
        old = self._releases.get(key)
        view: ReleaseView | None = None
        if obj is not None:
            parsed = parse_release(obj)
            if isinstance(parsed, Unmappable):
                return Applied(problems=[parsed])
            if parsed.key != key:
                return Applied(problems=[Unmappable(f"HelmRelease {parsed.key} seen under {key}")])
            view = parsed
        current = view or old
        if current is None:
            return Applied()
        target = node_id(self.region, current.name)
        if old is not None and old.chart_key is not None:
            self._unindex(self._referrers, old.chart_key, key)
        if view is None:
            del self._releases[key]
            self._unclaim(target, key)
            self._reported.discard((target, key))
        else:
            self._releases[key] = view
            self._claim(target, key)
            if view.chart_key is not None:
                self._referrers.setdefault(view.chart_key, set()).add(key)
        applied = Applied()
        self._render(target, applied)
        return applied

    def _apply_chart(self, key: ObjectKey, obj: Mapping[str, Any] | None) -> Applied:
        view: ChartView | None = None
        if obj is not None:
            parsed = parse_chart(obj)
            if isinstance(parsed, Unmappable):
                return Applied(problems=[parsed])
            view = parsed
        old = self._charts.pop(key, None)
        affected: set[ObjectKey] = set(self._referrers.get(key, ()))
        if old is not None and old.owner is not None:
            self._unindex(self._labelled, old.owner, key)
            affected.add(old.owner)
        if view is not None:
            self._charts[key] = view
            if view.owner is not None:
                self._labelled.setdefault(view.owner, set()).add(key)
                affected.add(view.owner)
        applied = Applied()
        for release_key in sorted(affected):
            release = self._releases.get(release_key)
            if release is not None:
                self._render(node_id(self.region, release.name), applied)
        return applied

    def _claim(self, target: str, key: ObjectKey) -> None:
        held = self._claims.get(target, ())
        if key not in held:
            self._claims[target] = (*held, key)

    def _unclaim(self, target: str, key: ObjectKey) -> None:
        rest = tuple(k for k in self._claims.get(target, ()) if k != key)
        if rest:
            self._claims[target] = rest
        else:
            self._claims.pop(target, None)

    @staticmethod
    def _unindex(index: dict[Any, set[ObjectKey]], at: Any, key: ObjectKey) -> None:
        members = index.get(at)
        if members is not None:
            members.discard(key)
            if not members:
                del index[at]

    def _winner(self, target: str) -> ReleaseView | None:
        claimants = self._claims.get(target)
        if not claimants:
            return None

        def age(key: ObjectKey) -> tuple[int, str]:
            created = self._releases[key].metadata.created_ms
            return (sys.maxsize if created is None else created, key[0])

        return self._releases[min(claimants, key=age)]

    def _render(self, target: str, applied: Applied) -> None:
        winner = self._winner(target)
        fresh: MappedRelease | None = None
        if winner is not None:
            chart = pick_chart(winner, self._charts, self._labelled.get(winner.key, set()))
            fresh = map_release(winner, self.region, self.flow_id, chart)
            for loser in sorted(k for k in self._claims[target] if k != winner.key):
                if (target, loser) not in self._reported:
                    self._reported.add((target, loser))
                    applied.problems.append(Collision(target, winner.key, loser))
        stale = self._rendered.get(target)
        touched = applied.touched
        if fresh is None:
            self._rendered.pop(target, None)
            if self.nodes.pop(target, None) is not None:
                touched.nodes.add(target)
        else:
            self._rendered[target] = fresh
            if self.nodes.get(target) != fresh.node:
                self.nodes[target] = fresh.node
                touched.nodes.add(target)
        old_rels = {rel.key: rel for rel in stale.relationships} if stale else {}
        new_rels = {rel.key: rel for rel in fresh.relationships} if fresh else {}
        for rel_key in old_rels.keys() - new_rels.keys():
            del self.rels[rel_key]
            touched.rels.add(rel_key)
        for rel_key, rel in new_rels.items():
            if old_rels.get(rel_key) != rel:
                self.rels[rel_key] = rel
                touched.rels.add(rel_key)
        self._roll_up(stale, fresh, touched)

    def _roll_up(
        self, stale: MappedRelease | None, fresh: MappedRelease | None, touched: Keys
    ) -> None:
        if stale is not None:
            self._rollup.remove(stale.status)
        if fresh is not None:
            self._rollup.add(fresh.status)
        region = self._rollup.node()
        if self.nodes[self.region] != region:
            self.nodes[self.region] = region
            touched.nodes.add(self.region)
