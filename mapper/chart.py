"""What a release's HelmChart, or the source its `spec.chartRef` names, adds to its node."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from mapper.objects import HELM_CHART, ChartView, ObjectKey, ReleaseView

MESSAGE_LIMIT = 512
"""Longest message copied into `meta`: a Helm error can run to kilobytes."""


def chart_meta(chart: ChartView) -> dict[str, JsonValue]:
    """`meta.chart`: `spec.chart`, `status.artifact.revision` and `Ready` of the HelmChart.

    A chart that is `Stalled=True` shows the stall's reason and message (and
    `stalled: true`), since that is why its release is failed; a healthy
    chart's message is left out, it only repeats the version.
    """
    meta: dict[str, JsonValue] = {"ref": f"{chart.namespace}/{chart.name}"}
    if chart.chart is not None:
        meta["name"] = chart.chart
    if chart.version is not None:
        meta["version"] = chart.version
    if chart.ready_status is not None:
        meta["ready"] = chart.ready_status
    stalled = chart.stalled
    reason = chart.ready_reason if stalled is None else (stalled.reason or chart.ready_reason)
    if reason is not None:
        meta["reason"] = reason
    if stalled is not None:
        if stalled.message is not None:
            meta["message"] = stalled.message[:MESSAGE_LIMIT]
        meta["stalled"] = True
    return meta


def source_meta(release: ReleaseView) -> dict[str, JsonValue] | None:
    """`meta.source`: a `spec.chartRef` to an OCIRepository or ExternalArtifact (no HelmChart)."""
    ref = release.chart_ref
    if ref is None or ref.kind == HELM_CHART:
        return None
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def pick_chart(
    release: ReleaseView,
    charts: Mapping[ObjectKey, ChartView],
    labelled: set[ObjectKey] | frozenset[ObjectKey],
) -> ChartView | None:
    """The release's HelmChart, found every way Flux names it.

    `spec.chartRef` decides alone when it is set: the HelmChart it names
    (its namespace defaults to the release's), or none for another kind.
    Otherwise the chart `status.helmChart` names, else one carrying the
    owner labels `helm.toolkit.fluxcd.io/name` and `/namespace`. Several
    charts may carry a release's labels (a chart moved between source
    namespaces); Flux names its chart `<release namespace>-<release name>`, so
    that one is preferred, then the first by key, so the choice is stable.
    A chart the adapter never saw (outside the watched namespaces) is none.
    """
    if release.chart_ref is not None:
        key = release.chart_key
        return None if key is None else charts.get(key)
    if release.helm_chart is not None and release.helm_chart in charts:
        return charts[release.helm_chart]
    candidates = sorted(key for key in labelled if key in charts)
    if not candidates:
        return None
    conventional = f"{release.namespace}-{release.name}"
    for key in candidates:
        if key[1] == conventional:
            return charts[key]
    return charts[candidates[0]]
