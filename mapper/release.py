"""One HelmRelease to its node and edges (`docs/contract.md`, "What the adapter sends")."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pydantic import JsonValue

from mapper.chart import MESSAGE_LIMIT, chart_meta, source_meta
from mapper.contract import FlowNode, Relationship, Status
from mapper.objects import ChartView, ReleaseView
from mapper.status import fold_status, is_true


def node_id(region: str, name: str) -> str:
    """The node's id, interned: the graph keeps it as a key, in its node and in every edge."""
    return sys.intern(f"{region}/{name}")


def family_of(release: ReleaseView) -> str:
    label = (release.metadata.labels.family or "").strip()
    if label:
        return label
    return release.name.removeprefix("bp-")


@dataclass(frozen=True, slots=True)
class MappedRelease:
    node: FlowNode
    relationships: tuple[Relationship, ...]

    @property
    def status(self) -> Status:
        return self.node.status


def _meta(release: ReleaseView, chart: ChartView | None) -> dict[str, JsonValue]:
    meta: dict[str, JsonValue] = {"namespace": release.namespace}
    ready = release.condition("Ready")
    if ready is not None:
        if ready.reason is not None:
            meta["readyReason"] = ready.reason
        if ready.message is not None:
            meta["readyMessage"] = ready.message[:MESSAGE_LIMIT]
    if release.metadata.generation is not None:
        meta["generation"] = release.metadata.generation
    if release.status.observed_generation is not None:
        meta["observedGeneration"] = release.status.observed_generation
    if release.spec.suspend:
        meta["suspended"] = True
    if release.status.last_attempted_revision is not None:
        meta["lastAttemptedRevision"] = release.status.last_attempted_revision
    labels = release.metadata.labels
    if labels.slot is not None:
        meta["slot"] = labels.slot
    if labels.component is not None:
        meta["component"] = labels.component
    if chart is not None:
        meta["chart"] = chart_meta(chart)
    source = source_meta(release)
    if source is not None:
        meta["source"] = source
    return meta


def _ended_at(release: ReleaseView, chart: ChartView | None, status: Status) -> int | None:
    if status not in ("succeeded", "failed"):
        return None
    if (
        status == "failed"
        and not is_true(release.status.conditions, "Stalled")
        and chart is not None
        and chart.stalled is not None
        and chart.stalled.last_transition_ms is not None
    ):
        return chart.stalled.last_transition_ms  # failed since its chart gave up
    for ctype in ("Ready", "Stalled"):
        cond = release.condition(ctype)
        if cond is not None and cond.last_transition_ms is not None:
            return cond.last_transition_ms
    return None


def map_release(
    release: ReleaseView, region: str, flow_id: str, chart: ChartView | None = None
) -> MappedRelease:
    status = fold_status(release, chart)
    own_id = node_id(region, release.name)
    node = FlowNode(
        id=own_id,
        flow_id=flow_id,
        label=release.name,
        status=status,
        family=family_of(release),
        region=region,
        started_at=release.metadata.created_ms,
        ended_at=_ended_at(release, chart, status),
        meta=_meta(release, chart),
    )
    edges: dict[tuple[str, str, str], Relationship] = {}
    contains = Relationship(from_id=own_id, to_id=region, type="contains")
    edges[contains.key] = contains
    for dep in release.spec.depends_on:
        if not dep.name:
            continue
        edge = Relationship(
            from_id=node_id(region, dep.name),
            to_id=own_id,
            type="finish-to-start",
            condition="on-success",
        )
        edges.setdefault(edge.key, edge)
    return MappedRelease(node=node, relationships=tuple(edges.values()))
