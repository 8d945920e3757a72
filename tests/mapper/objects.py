"""Literal HelmCharts for mapper tests; HelmReleases come from `tests.support.objects`."""

from __future__ import annotations

from typing import Any

from tests.support.objects import condition


def chart(
    name: str,
    namespace: str = "flux-system",
    *,
    owner: tuple[str, str] | None = None,
    chart_name: str = "podinfo",
    version: str = "6.5.0",
    ready: tuple[str, str] | None = ("True", "ChartPullSucceeded"),
    stalled: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A HelmChart; `stalled=(reason, message)` adds source-controller's `Stalled=True`."""
    obj: dict[str, Any] = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"chart": chart_name, "version": "6.x"},
        "status": {"artifact": {"revision": version}},
    }
    if owner is not None:
        obj["metadata"]["labels"] = {
            "helm.toolkit.fluxcd.io/namespace": owner[0],
            "helm.toolkit.fluxcd.io/name": owner[1],
        }
    conditions = []
    if stalled is not None:
        conditions.append(condition("Stalled", "True", stalled[0], stalled[1], generation=1))
    if ready is not None:
        conditions.append(condition("Ready", ready[0], ready[1], generation=1))
    if conditions:
        obj["status"]["conditions"] = conditions
    return obj
