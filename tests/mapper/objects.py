"""Literal HelmRelease and HelmChart builders for mapper tests."""

from __future__ import annotations

from typing import Any


def condition(
    ctype: str,
    status: str,
    reason: str | None = None,
    message: str | None = None,
    at: str = "2026-11-20T09:00:00Z",
    generation: int | None = None,
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastTransitionTime": at}
    if generation is not None:
        cond["observedGeneration"] = generation
    if reason is not None:
        cond["reason"] = reason
    if message is not None:
        cond["message"] = message
    return cond


def release(
    name: str,
    namespace: str = "flux-system",
    *,
    created: str = "2026-11-20T08:00:00Z",
    labels: dict[str, str] | None = None,
    depends_on: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    helm_chart: str | None = None,
    chart_ref: dict[str, Any] | None = None,
    generation: int = 1,
    suspend: bool | None = None,
    **status: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "generation": generation,
        },
        "spec": {"interval": "10m"},
    }
    if chart_ref is not None:
        obj["spec"]["chartRef"] = chart_ref
    if suspend is not None:
        obj["spec"]["suspend"] = suspend
    if labels is not None:
        obj["metadata"]["labels"] = labels
    if depends_on is not None:
        obj["spec"]["dependsOn"] = depends_on
    obj_status: dict[str, Any] = dict(status)
    if conditions is not None:
        obj_status["conditions"] = conditions
    if helm_chart is not None:
        obj_status["helmChart"] = helm_chart
    if obj_status:
        obj["status"] = obj_status
    return obj


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
