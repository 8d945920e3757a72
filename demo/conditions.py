"""Statuses as helm-controller and source-controller write them, phase by phase.

The demo stands in for Flux's controllers, so what it writes has to look like
theirs: the adapter reads ``Ready``, ``Stalled`` and the generation each
describes (and a HelmChart's ``Stalled``), but a newcomer who runs
``kubectl get hr -o yaml`` against the demo cluster should see the
conditions, reasons and messages a real cluster shows. A condition's
``lastTransitionTime`` moves only when its status changes, as in Kubernetes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final, Literal

from demo.bootstrap import NAMESPACE, Sample

Json = dict[str, Any]

Phase = Literal["progressing", "failed", "retrying", "succeeded"]

TIMEOUT: Final = "10m0s"
FAILURE: Final = "context deadline exceeded"
GENERATION: Final = 1


def _condition(ctype: str, status: str, reason: str, message: str, now: str) -> Json:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
        "observedGeneration": GENERATION,
    }


def _keep_transition_times(conditions: list[Json], previous: Mapping[str, Json]) -> list[Json]:
    for cond in conditions:
        before = previous.get(cond["type"])
        if before is not None and before.get("status") == cond["status"]:
            cond["lastTransitionTime"] = before["lastTransitionTime"]
    return conditions


def release_status(sample: Sample, phase: Phase, now: str, previous: Mapping[str, Json]) -> Json:
    """The ``status`` helm-controller writes for ``sample`` in ``phase``.

    ``previous`` is the release's conditions by type as last written, so
    unchanged conditions keep their transition time. Failure counters are
    nulled on success because a merge patch only removes what it names.
    """
    target = f"{sample.target_namespace}/{sample.release_name}"
    chart = f"{sample.chart}@{sample.version}"
    running = f"Running 'install' action with timeout of {TIMEOUT}"
    failed = f"Helm install failed for release {target} with chart {chart}: {FAILURE}"
    conditions: list[Json]
    counters: Json
    if phase in ("progressing", "retrying"):
        conditions = [
            _condition("Reconciling", "True", "Progressing", running, now),
            _condition("Ready", "Unknown", "Progressing", running, now),
        ]
        if phase == "retrying":
            conditions.append(_condition("Released", "False", "InstallFailed", failed, now))
        counters = {}
    elif phase == "failed":
        retry = "Detected failure for current release, retrying install (1 of 3)"
        conditions = [
            _condition("Reconciling", "True", "ProgressingWithRetry", retry, now),
            _condition("Ready", "False", "InstallFailed", failed, now),
            _condition("Released", "False", "InstallFailed", failed, now),
        ]
        counters = {"failures": 1, "installFailures": 1, "observedGeneration": GENERATION}
    else:
        done = f"Helm install succeeded for release {target}.v1 with chart {chart}"
        conditions = [
            _condition("Ready", "True", "InstallSucceeded", done, now),
            _condition("Released", "True", "InstallSucceeded", done, now),
        ]
        counters = {
            "failures": None,
            "installFailures": None,
            "observedGeneration": GENERATION,
            "history": [
                {
                    "name": sample.release_name,
                    "namespace": sample.target_namespace,
                    "version": 1,
                    "status": "deployed",
                    "chartName": sample.chart,
                    "chartVersion": sample.version.removeprefix("v"),
                    "firstDeployed": now,
                    "lastDeployed": now,
                    "digest": f"sha256:{hashlib.sha256(chart.encode()).hexdigest()}",
                    "configDigest": f"sha256:{hashlib.sha256(b'{}').hexdigest()}",
                }
            ],
        }
    return {
        "conditions": _keep_transition_times(conditions, previous),
        "helmChart": f"{NAMESPACE}/{sample.chart_object_name}",
        "lastAttemptedGeneration": GENERATION,
        "lastAttemptedReleaseAction": "install",
        "lastAttemptedRevision": sample.version,
        "storageNamespace": sample.target_namespace,
        **counters,
    }


def chart_status(sample: Sample, now: str) -> Json:
    """The ``status`` source-controller writes once it has pulled the chart."""
    pulled = f"pulled '{sample.chart}' chart with version '{sample.version}'"
    return {
        "conditions": [
            _condition("Ready", "True", "ChartPullSucceeded", pulled, now),
            _condition("ArtifactInStorage", "True", "ChartPullSucceeded", pulled, now),
        ],
        "observedChartName": sample.chart,
        "observedGeneration": GENERATION,
        "artifact": {
            "path": f"helmchart/{NAMESPACE}/{sample.chart_object_name}/"
            f"{sample.chart}-{sample.version}.tgz",
            "revision": sample.version,
            "lastUpdateTime": now,
            "digest": f"sha256:{hashlib.sha256(pulled.encode()).hexdigest()}",
            "url": f"http://127.0.0.1/helmchart/{NAMESPACE}/{sample.chart_object_name}/"
            f"{sample.chart}-{sample.version}.tgz",
        },
    }
