"""HelmRelease objects shaped like the ones a real kube-apiserver returns with Flux installed.

The emitter tests build the desired graph through `Graph.apply`, exactly as
the watch layer will, so the objects carry what real ones carry (metadata
noise, chart spec, several conditions, history) and not only the fields the
mapper happens to read.
"""

from __future__ import annotations

import zlib
from typing import Any

from tests.fixtures import bootstrap_kit

NAMESPACE = "flux-system"

Condition = tuple[str, str]
"""The Ready condition as (status, reason)."""

SUCCEEDED: Condition = ("True", "UpgradeSucceeded")
PROGRESSING: Condition = ("Unknown", "Progressing")
UPGRADE_FAILED: Condition = ("False", "UpgradeFailed")

BOOTSTRAP_KIT: tuple[tuple[str, str | None, tuple[str, ...]], ...] = tuple(
    (
        doc["metadata"]["name"],
        doc["metadata"].get("labels", {}).get("catalyst.openova.io/family"),
        tuple(dep["name"] for dep in doc["spec"].get("dependsOn", [])),
    )
    for doc in bootstrap_kit()
)
"""The 30 releases and 46 dependsOn edges of a real bootstrap, as (name, family, dependsOn)."""


def _condition(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "lastTransitionTime": "2026-11-20T09:19:41Z",
        "message": message,
        "observedGeneration": 1,
        "reason": reason,
        "status": status,
        "type": ctype,
    }


def helm_release(
    name: str,
    *,
    depends_on: tuple[str, ...] = (),
    ready: Condition | None = SUCCEEDED,
    family: str | None = None,
    message: str = "Helm upgrade succeeded",
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """A HelmRelease as the API returns it; `ready=None` is one Flux has not reconciled yet."""
    component = name.removeprefix("bp-")
    labels = {"app.kubernetes.io/part-of": "bootstrap-kit", "catalyst.openova.io/slot": "7"}
    if family is not None:
        labels["catalyst.openova.io/family"] = family
    release: dict[str, Any] = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-20T09:14:03Z"},
            "creationTimestamp": "2026-11-18T10:01:55Z",
            "generation": 1,
            "labels": labels,
            "managedFields": [{"manager": "kustomize-controller", "operation": "Apply"}],
            "name": name,
            "namespace": namespace,
            "resourceVersion": "48213",
            "uid": f"00000000-0000-4000-8000-{zlib.crc32(name.encode()):012x}",
        },
        "spec": {
            "chart": {
                "spec": {
                    "chart": component,
                    "interval": "1h",
                    "sourceRef": {"kind": "HelmRepository", "name": "bootstrap-kit"},
                    "version": "*",
                }
            },
            "dependsOn": [{"name": dep} for dep in depends_on],
            "install": {"createNamespace": True, "remediation": {"retries": 3}},
            "interval": "10m",
            "releaseName": component,
            "values": {"replicaCount": 2, "resources": {"requests": {"cpu": "100m"}}},
        },
        "status": {
            "conditions": [],
            "helmChart": f"{namespace}/{namespace}-{name}",
            "history": [{"chartName": component, "chartVersion": "1.2.3", "status": "deployed"}],
            "lastAttemptedRevision": "1.2.3",
            "observedGeneration": 1,
        },
    }
    if ready is not None:
        status, reason = ready
        release["status"]["conditions"] = [
            _condition("Ready", status, reason, message),
            _condition("Released", status, reason, message),
        ]
    return release
