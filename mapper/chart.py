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
    if chart.spec.chart is not None:
        meta["name"] = chart.spec.chart
    if chart.version is not None:
        meta["version"] = chart.version
    ready = chart.ready
    if ready is not None:
        meta["ready"] = ready.status
    ready_reason = None if ready is None else ready.reason
    stalled = chart.stalled
    reason = ready_reason if stalled is None else (stalled.reason or ready_reason)
    if reason is not None:
        meta["reason"] = reason
    if stalled is not None:
        if stalled.message is not None:
            meta["message"] = stalled.message[:MESSAGE_LIMIT]
        meta["stalled"] = True
    return meta


def source_meta(release: ReleaseView) -> dict[str, JsonValue] | None:
    """`meta.source`: a `spec.chartRef` to an OCIRepository or ExternalArtifact (no HelmChart)."""
    source = release.source
    if source is None or source[0] == HELM_CHART:
        return None
    kind, (namespace, name) = source
    return {"kind": kind, "namespace": namespace, "name": name}


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
    if release.spec.chart_ref is not None:
        key = release.chart_key
        return None if key is None else charts.get(key)
    helm_chart = release.status.helm_chart
    if helm_chart is not None and helm_chart in charts:
        return charts[helm_chart]
    candidates = sorted(key for key in labelled if key in charts)
    if not candidates:
        return None
    conventional = f"{release.namespace}-{release.name}"
    for key in candidates:
        if key[1] == conventional:
            return charts[key]
    return charts[candidates[0]]
