"""Literal HelmRelease and HelmChart builders for mapper tests."""

from __future__ import annotations

from typing import Any


def condition(
    ctype: str,
    status: str,
    reason: str | None = None,
    message: str | None = None,
    at: str = "2026-11-20T09:00:00Z",
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastTransitionTime": at}
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
    **status: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created,
            "generation": 1,
        },
        "spec": {"interval": "10m"},
    }
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
) -> dict[str, Any]:
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
    if ready is not None:
        obj["status"]["conditions"] = [condition("Ready", ready[0], ready[1])]
    return obj
