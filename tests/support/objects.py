"""HelmReleases and their conditions, built the way a kube-apiserver with Flux returns them.

This is the tests' one HelmRelease builder. It writes a field the mapper
reads only when a test asks for it, and always the noise a real object
carries (annotations, managedFields, the chart template, values, history),
so a rule that held only for minimal literals fails here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.fixtures import bootstrap_kit

Obj = dict[str, Any]

NAMESPACE = "flux-system"
CREATED = "2026-11-20T08:00:00Z"
"""Every release's `metadata.creationTimestamp` unless a test gives one."""
TRANSITION = "2026-11-20T09:00:00Z"
"""Every condition's `lastTransitionTime` unless a test gives one."""

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


def condition(
    ctype: str,
    status: str,
    reason: str | None = None,
    message: str | None = None,
    generation: int | None = 1,
    *,
    at: str = TRANSITION,
) -> Obj:
    """One `status.conditions[]` entry as Flux's controllers write it; `None` leaves a field out.

    `generation` is the condition's `observedGeneration`.
    """
    written: Obj = {"lastTransitionTime": at, "status": status, "type": ctype}
    if reason is not None:
        written["reason"] = reason
    if message is not None:
        written["message"] = message
    if generation is not None:
        written["observedGeneration"] = generation
    return written


def _spec(
    name: str, depends_on: Sequence[str | Obj], suspend: bool | None, chart_ref: Obj | None
) -> Obj:
    spec: Obj = {
        "interval": "10m",
        "install": {"createNamespace": True, "remediation": {"retries": 3}},
        "upgrade": {"remediation": {"retries": 3, "remediateLastFailure": True}},
        "values": {"replicaCount": 2, "resources": {"requests": {"cpu": "100m"}}},
    }
    if chart_ref is not None:
        spec["chartRef"] = chart_ref
    else:
        spec["chart"] = {
            "spec": {
                "chart": name.removeprefix("bp-"),
                "interval": "1h",
                "sourceRef": {"kind": "HelmRepository", "name": "bootstrap-kit"},
                "version": "*",
            }
        }
    if depends_on:
        spec["dependsOn"] = [{"name": dep} if isinstance(dep, str) else dep for dep in depends_on]
    if suspend is not None:
        spec["suspend"] = suspend
    return spec


def helm_release(
    name: str,
    namespace: str = NAMESPACE,
    *,
    labels: Mapping[str, str] | None = None,
    created: str | None = CREATED,
    generation: int = 1,
    depends_on: Sequence[str | Obj] = (),
    suspend: bool | None = None,
    chart_ref: Obj | None = None,
    ready: Condition | None = None,
    message: str | None = None,
    conditions: Sequence[Obj] | None = None,
    observed: int | None = None,
    revision: str | None = None,
    helm_chart: str | bool = True,
) -> Obj:
    """A HelmRelease as the API returns it.

    `depends_on` takes names or whole `dependsOn` entries. `ready` writes
    `Ready` and `Released` as helm-controller does (`message` defaults to the
    reason); `conditions` come after them. A release with conditions has been
    reconciled: its `status.observedGeneration` is `observed`, else its
    generation, and `helm_chart=True` names the HelmChart helm-controller makes
    for `spec.chart` (`<ns>/<ns>-<name>`); a string names another, `False`
    none. Without conditions, `status` holds only what is given.
    """
    metadata: Obj = {
        "annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-20T09:14:03Z"},
        "finalizers": ["finalizers.fluxcd.io"],
        "generation": generation,
        "labels": {"kustomize.toolkit.fluxcd.io/name": "apps", **(labels or {})},
        "managedFields": [{"manager": "kustomize-controller", "operation": "Apply"}],
        "name": name,
        "namespace": namespace,
    }
    if created is not None:
        metadata["creationTimestamp"] = created
    written: list[Obj] = []
    if ready is not None:
        status, reason = ready
        text = reason if message is None else message
        written += [
            condition(ctype, status, reason, text, generation) for ctype in ("Ready", "Released")
        ]
    reconciled = ready is not None or conditions is not None
    release_status: Obj = {}
    if reconciled:
        release_status["conditions"] = [*written, *(conditions or ())]
        release_status["history"] = [{"chartName": name, "chartVersion": "1.2.3"}]
        release_status["lastAttemptedGeneration"] = generation
        release_status["lastAttemptedReleaseAction"] = "upgrade"
        release_status["observedGeneration"] = generation
        release_status["storageNamespace"] = namespace
    if observed is not None:
        release_status["observedGeneration"] = observed
    if revision is not None:
        release_status["lastAttemptedRevision"] = revision
    if isinstance(helm_chart, str):
        release_status["helmChart"] = helm_chart
    elif helm_chart and reconciled and chart_ref is None:
        release_status["helmChart"] = f"{namespace}/{namespace}-{name}"
    obj: Obj = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": metadata,
        "spec": _spec(name, depends_on, suspend, chart_ref),
    }
    if release_status:
        obj["status"] = release_status
    return obj
