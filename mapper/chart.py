"""What a release's HelmChart adds to its node: the chart actually fetched."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from mapper.objects import ChartView


def chart_meta(chart: ChartView) -> dict[str, JsonValue]:
    meta: dict[str, JsonValue] = {"ref": f"{chart.namespace}/{chart.name}"}
    if chart.chart is not None:
        meta["name"] = chart.chart
    if chart.version is not None:
        meta["version"] = chart.version
    if chart.ready_status is not None:
        meta["ready"] = chart.ready_status
    if chart.ready_reason is not None:
        meta["reason"] = chart.ready_reason
    return meta


def pick_chart(
    release_ref: tuple[str, str] | None,
    release_key: tuple[str, str],
    charts: Mapping[tuple[str, str], ChartView],
    labelled: set[tuple[str, str]] | frozenset[tuple[str, str]],
) -> ChartView | None:
    """The release's chart: the one its status names, else the one labelled for it.

    Several charts may carry a release's labels (a chart moved between source
    namespaces); Flux names its chart `<release namespace>-<release name>`, so
    that one is preferred, then the first by key, so the choice is stable.
    """
    if release_ref is not None and release_ref in charts:
        return charts[release_ref]
    candidates = sorted(key for key in labelled if key in charts)
    if not candidates:
        return None
    conventional = f"{release_key[0]}-{release_key[1]}"
    for key in candidates:
        if key[1] == conventional:
            return charts[key]
    return charts[candidates[0]]
