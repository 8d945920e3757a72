"""Statuses as helm-controller and source-controller mean them, fed in as watch events.

Every object here is shaped as the API server returns it with Flux installed
(metadata noise, `observedGeneration` on each condition, `status.helmChart`,
`spec.chartRef`), and goes the way a watch event goes: `Store.upsert` or
`Store.delete`, slimming, `Graph.apply`, the change sink. A rule that only
held for the mapper's own input would fail here.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from flux_adapter.informer.store import Store
from flux_adapter.observe.metrics import Metrics
from mapper import Graph, Kind, Status
from tests.support import REGION, RecordingSink, node
from tests.support.objects import condition, helm_release

Obj = dict[str, Any]


def make_store() -> tuple[Store, RecordingSink]:
    sink = RecordingSink()
    return Store(Graph(REGION, "flow-1"), sink, Metrics()), sink


def helm_chart(
    name: str,
    namespace: str = "apps",
    *,
    owner: tuple[str, str] | None = None,
    conditions: list[Obj],
) -> Obj:
    """A HelmChart as source-controller leaves it; `owner` adds helm-controller's labels."""
    metadata: Obj = {
        "creationTimestamp": "2026-11-18T10:01:56Z",
        "generation": 1,
        "name": name,
        "namespace": namespace,
        "resourceVersion": "48190",
        "uid": f"00000000-0000-4000-9000-{zlib.crc32(name.encode()):012x}",
    }
    if owner is not None:
        metadata["labels"] = {
            "helm.toolkit.fluxcd.io/name": owner[1],
            "helm.toolkit.fluxcd.io/namespace": owner[0],
        }
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": metadata,
        "spec": {
            "chart": "podinfo",
            "interval": "1h",
            "reconcileStrategy": "ChartVersion",
            "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
            "version": "6.x",
        },
        "status": {
            "artifact": {"revision": "6.5.0", "digest": "sha256:00", "path": "x", "url": "x"},
            "conditions": conditions,
            "observedChartName": "podinfo",
            "observedGeneration": 1,
        },
    }


READY = [
    condition("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded"),
    condition("Released", "True", "UpgradeSucceeded", "Helm upgrade succeeded"),
]
WAITING_FOR_CHART = [
    condition("Ready", "False", "SourceNotReady", "HelmChart 'apps/apps-x' is not ready"),
    condition("Reconciling", "True", "Progressing", "Fulfilling prerequisites"),
]
CHART_READY = [
    condition("Ready", "True", "ChartPullSucceeded", "pulled 'podinfo' chart with version '6.5.0'"),
    condition("ArtifactInStorage", "True", "Succeeded", "stored artifact: revision '6.5.0'"),
]
CHART_NOT_READY = [
    condition(
        "Ready", "False", "ChartPullFailed", "failed to fetch https://charts.example/index.yaml"
    ),
    condition("Reconciling", "True", "ProgressingWithRetry", "retrying"),
]
MISSING_VERSION = (
    "invalid chart reference: failed to get chart version for remote reference: no "
    "'hello-world' chart with version matching '0.1.0-missing-version' found"
)
CHART_STALLED = [
    condition("Stalled", "True", "InvalidChartReference", MISSING_VERSION),
    condition("Ready", "False", "InvalidChartReference", MISSING_VERSION),
]


# The issue's three examples, as the API server returned them.

ROLLED_BACK: Obj = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {
        "creationTimestamp": "2026-10-02T08:11:40Z",
        "generation": 14,
        "managedFields": [{"manager": "helm-controller", "operation": "Update"}],
        "name": "bp-podinfo",
        "namespace": "apps",
        "resourceVersion": "902114",
        "uid": "5f0c7a52-9d5e-4d1b-8f6b-0d6c2f1b9a41",
    },
    "spec": {
        "chart": {
            "spec": {
                "chart": "podinfo",
                "version": "6.6.x",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
            }
        },
        "interval": "5m",
        "upgrade": {"remediation": {"retries": 1, "strategy": "rollback"}},
    },
    "status": {
        "conditions": [
            {
                "lastTransitionTime": "2026-11-20T10:02:13Z",
                "message": "Helm rollback to previous release apps/podinfo.v20 with chart "
                "podinfo@6.5.0 succeeded",
                "observedGeneration": 14,
                "reason": "RollbackSucceeded",
                "status": "False",
                "type": "Ready",
            },
            {
                "lastTransitionTime": "2026-11-20T10:01:58Z",
                "message": "Helm upgrade failed for release apps/podinfo with chart "
                "podinfo@6.6.0: context deadline exceeded",
                "observedGeneration": 14,
                "reason": "UpgradeFailed",
                "status": "False",
                "type": "Released",
            },
            {
                "lastTransitionTime": "2026-11-20T10:02:13Z",
                "message": "Helm rollback to previous release apps/podinfo.v20 with chart "
                "podinfo@6.5.0 succeeded",
                "observedGeneration": 14,
                "reason": "RollbackSucceeded",
                "status": "True",
                "type": "Remediated",
            },
        ],
        "failures": 1,
        "helmChart": "apps/apps-bp-podinfo",
        "lastAttemptedRevision": "6.6.0",
        "observedGeneration": 14,
        "upgradeFailures": 1,
    },
}

HELLO_WORLD: Obj = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {
        "creationTimestamp": "2026-11-21T09:00:00Z",
        "generation": 1,
        "name": "bp-hello-world",
        "namespace": "default",
        "resourceVersion": "3310",
        "uid": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    },
    "spec": {
        "chart": {
            "spec": {
                "chart": "hello-world",
                "version": "0.1.0-missing-version",
                "sourceRef": {"kind": "HelmRepository", "name": "hello"},
            }
        },
        "interval": "1m",
    },
    "status": {
        "conditions": [
            {
                "lastTransitionTime": "2026-11-21T09:00:02Z",
                "message": "HelmChart 'default/default-bp-hello-world' is not ready: invalid "
                "chart reference",
                "observedGeneration": 1,
                "reason": "SourceNotReady",
                "status": "False",
                "type": "Ready",
            },
            {
                "lastTransitionTime": "2026-11-21T09:00:01Z",
                "message": "Fulfilling prerequisites",
                "observedGeneration": 1,
                "reason": "Progressing",
                "status": "True",
                "type": "Reconciling",
            },
        ],
        "helmChart": "default/default-bp-hello-world",
        "observedGeneration": 1,
    },
}

HELLO_WORLD_CHART: Obj = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "HelmChart",
    "metadata": {
        "creationTimestamp": "2026-11-21T09:00:01Z",
        "generation": 1,
        "labels": {
            "helm.toolkit.fluxcd.io/name": "bp-hello-world",
            "helm.toolkit.fluxcd.io/namespace": "default",
        },
        "name": "default-bp-hello-world",
        "namespace": "default",
        "resourceVersion": "3308",
        "uid": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    },
    "spec": {
        "chart": "hello-world",
        "interval": "1m",
        "reconcileStrategy": "ChartVersion",
        "sourceRef": {"kind": "HelmRepository", "name": "hello"},
        "version": "0.1.0-missing-version",
    },
    "status": {
        "conditions": [
            {
                "lastTransitionTime": "2026-11-21T09:00:02Z",
                "message": MISSING_VERSION,
                "observedGeneration": 1,
                "reason": "InvalidChartReference",
                "status": "True",
                "type": "Stalled",
            },
            {
                "lastTransitionTime": "2026-11-21T09:00:02Z",
                "message": MISSING_VERSION,
                "observedGeneration": 1,
                "reason": "InvalidChartReference",
                "status": "False",
                "type": "Ready",
            },
        ],
        "observedGeneration": 1,
    },
}

UNAPPLIED_SPEC: Obj = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {
        "creationTimestamp": "2026-09-14T12:30:00Z",
        "generation": 12,
        "name": "bp-ingress-nginx",
        "namespace": "apps",
        "resourceVersion": "771002",
        "uid": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
    },
    "spec": {
        "chart": {
            "spec": {
                "chart": "ingress-nginx",
                "version": "4.11.x",
                "sourceRef": {"kind": "HelmRepository", "name": "ingress-nginx"},
            }
        },
        "interval": "10m",
        "values": {"controller": {"replicaCount": 3}},
    },
    "status": {
        "conditions": [
            {
                "lastTransitionTime": "2026-11-19T16:40:02Z",
                "message": "Helm upgrade succeeded for release apps/ingress-nginx.v7 with chart "
                "ingress-nginx@4.11.2",
                "observedGeneration": 11,
                "reason": "UpgradeSucceeded",
                "status": "True",
                "type": "Ready",
            },
            {
                "lastTransitionTime": "2026-11-19T16:40:02Z",
                "message": "Helm upgrade succeeded for release apps/ingress-nginx.v7 with chart "
                "ingress-nginx@4.11.2",
                "observedGeneration": 11,
                "reason": "UpgradeSucceeded",
                "status": "True",
                "type": "Released",
            },
        ],
        "helmChart": "apps/apps-bp-ingress-nginx",
        "lastAttemptedGeneration": 11,
        "observedGeneration": 11,
    },
}


def failed_action(ready_reason: str, released: str, remediated: tuple[str, str] | None) -> Obj:
    """Ready copies the newest of Released and Remediated, as helm-controller summarises."""
    conditions = [
        condition("Ready", "False", ready_reason),
        condition("Released", "False", released),
    ]
    if remediated is not None:
        conditions.append(condition("Remediated", remediated[0], remediated[1]))
    return helm_release("bp-x", "apps", conditions=conditions)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(ROLLED_BACK, "failed", id="example-1-upgrade-failed-rolled-back"),
        pytest.param(UNAPPLIED_SPEC, "running", id="example-3-ready-for-an-older-generation"),
        pytest.param(helm_release("bp-x", "apps", conditions=READY), "succeeded", id="ready"),
        pytest.param(failed_action("InstallFailed", "InstallFailed", None), "failed", id="install"),
        pytest.param(failed_action("UpgradeFailed", "UpgradeFailed", None), "failed", id="upgrade"),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                conditions=[
                    condition("Ready", "False", "TestFailed"),
                    condition("Released", "True", "InstallSucceeded"),
                    condition("TestSuccess", "False", "TestFailed"),
                ],
            ),
            "failed",
            id="test-failed",
        ),
        pytest.param(
            failed_action("RollbackFailed", "UpgradeFailed", ("False", "RollbackFailed")),
            "failed",
            id="rollback-failed",
        ),
        pytest.param(
            failed_action("UninstallSucceeded", "InstallFailed", ("True", "UninstallSucceeded")),
            "failed",
            id="uninstall-succeeded",
        ),
        pytest.param(
            failed_action("UninstallFailed", "InstallFailed", ("False", "UninstallFailed")),
            "failed",
            id="uninstall-failed",
        ),
        pytest.param(
            helm_release(
                "bp-x", "apps", conditions=[condition("Ready", "False", "RetriesExhausted")]
            ),
            "failed",
            id="retries-exhausted",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                conditions=[
                    condition(
                        "Stalled", "True", "RetriesExceeded", "Failed to upgrade after 4 attempts"
                    ),
                    condition("Ready", "Unknown", "Progressing"),
                ],
            ),
            "failed",
            id="stalled-retries-exceeded",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                conditions=[
                    condition("Stalled", "True", "MissingRollbackTarget"),
                    condition("Ready", "False", "MissingRollbackTarget"),
                ],
            ),
            "failed",
            id="stalled-missing-rollback-target",
        ),
        pytest.param(
            helm_release("bp-x", "apps", conditions=WAITING_FOR_CHART),
            "running",
            id="source-not-ready",
        ),
        pytest.param(
            helm_release(
                "bp-x", "apps", conditions=[condition("Ready", "False", "DependencyNotReady")]
            ),
            "running",
            id="dependency-not-ready",
        ),
        pytest.param(
            helm_release(
                "bp-x", "apps", conditions=[condition("Ready", "False", "ArtifactFailed")]
            ),
            "running",
            id="artifact-failed-is-retried",
        ),
        pytest.param(
            helm_release("bp-x", "apps", conditions=[condition("Ready", "False", "InitFailed")]),
            "running",
            id="init-failed-is-retried",
        ),
        pytest.param(
            helm_release("bp-x", "apps", conditions=[condition("Ready", "Unknown", "Progressing")]),
            "running",
            id="progressing",
        ),
        pytest.param(helm_release("bp-x", "apps", conditions=[]), "pending", id="not-reconciled"),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=11,
                conditions=[condition("Ready", "True", "X", "", 12)],
            ),
            "succeeded",
            id="condition-current-while-status-lags",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=12,
                conditions=[condition("Ready", "True", "X", "", 11)],
            ),
            "running",
            id="condition-older-while-status-current",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=11,
                conditions=[condition("Ready", "True", "X", "", None)],
            ),
            "running",
            id="no-condition-generation-status-older",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=11,
                conditions=[condition("Ready", "False", "UpgradeFailed", "", 11)],
            ),
            "failed",
            id="failure-for-an-older-generation-stays-failed",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=11,
                conditions=[condition("Ready", "True", "X", "", 11)],
                suspend=True,
            ),
            "succeeded",
            id="suspended-with-a-pending-generation",
        ),
        pytest.param(
            helm_release(
                "bp-x",
                "apps",
                generation=12,
                observed=11,
                conditions=[condition("Ready", "False", "UpgradeFailed", "", 11)],
                suspend=True,
            ),
            "failed",
            id="suspended-keeps-its-failure",
        ),
    ],
)
def test_a_release_event_shows_the_status_flux_means(obj: Obj, expected: Status) -> None:
    store, _ = make_store()
    store.upsert("HelmRelease", obj)

    assert store.graph.nodes[node(obj["metadata"]["name"])].status == expected


def test_a_suspended_release_with_a_pending_generation_says_it_is_suspended() -> None:
    store, _ = make_store()
    store.upsert(
        "HelmRelease",
        helm_release(
            "bp-x",
            "apps",
            generation=12,
            observed=11,
            conditions=[condition("Ready", "True", "X", "", 11)],
            suspend=True,
        ),
    )

    shown = store.graph.nodes[node("bp-x")]
    assert shown.status == "succeeded"
    assert (shown.meta or {})["suspended"] is True


def test_resuming_a_suspended_release_with_a_pending_generation_shows_it_running() -> None:
    store, _ = make_store()
    lagging = [condition("Ready", "True", "UpgradeSucceeded", "", 11)]
    store.upsert(
        "HelmRelease",
        helm_release("bp-x", "apps", generation=12, observed=11, conditions=lagging, suspend=True),
    )

    store.upsert(
        "HelmRelease",
        helm_release("bp-x", "apps", generation=13, observed=11, conditions=lagging, suspend=False),
    )

    assert store.graph.nodes[node("bp-x")].status == "running"


Op = Literal["upsert", "delete"]


@dataclass(frozen=True)
class Step:
    """One watch event and the statuses the canvas must show after it."""

    op: Op
    kind: Kind
    obj: Obj
    shows: dict[str, Status]
    touches: frozenset[str] | None = None
    """Release nodes this event must (re)send, when the step pins it down."""


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    """For each release at the end: meta entries that must be present (`None`: absent)."""


def upsert(kind: Kind, obj: Obj, touches: tuple[str, ...] | None = None, **shows: Status) -> Step:
    return Step("upsert", kind, obj, _names(shows), None if touches is None else frozenset(touches))


def delete(kind: Kind, obj: Obj, **shows: Status) -> Step:
    return Step("delete", kind, obj, _names(shows))


def _names(shows: dict[str, Status]) -> dict[str, Status]:
    return {name.replace("_", "-"): status for name, status in shows.items()}


HELMCHART_REF = {"kind": "HelmChart", "name": "podinfo", "namespace": "flux-system"}
SHARED_STALLED = helm_chart("podinfo", "flux-system", conditions=CHART_STALLED)
SHARED_READY = helm_chart("podinfo", "flux-system", conditions=CHART_READY)

SCENARIOS = {
    "example-2-chart-stalled-after-the-release": Scenario(
        steps=(
            upsert("HelmRelease", HELLO_WORLD, bp_hello_world="running"),
            upsert("HelmChart", HELLO_WORLD_CHART, ("bp-hello-world",), bp_hello_world="failed"),
        ),
        meta={
            "bp-hello-world": {
                "chart": {
                    "ref": "default/default-bp-hello-world",
                    "name": "hello-world",
                    "version": "0.1.0-missing-version",
                    "ready": "False",
                    "reason": "InvalidChartReference",
                    "message": MISSING_VERSION,
                    "stalled": True,
                },
                "readyReason": "SourceNotReady",
            }
        },
    ),
    "example-2-chart-stalled-before-the-release": Scenario(
        steps=(
            upsert("HelmChart", HELLO_WORLD_CHART),
            upsert("HelmRelease", HELLO_WORLD, bp_hello_world="failed"),
        ),
    ),
    "chart-only-not-ready-changes-nothing": Scenario(
        steps=(
            upsert("HelmRelease", helm_release("bp-a", "apps", conditions=READY), bp_a="succeeded"),
            upsert(
                "HelmRelease",
                helm_release("bp-b", "apps", conditions=WAITING_FOR_CHART),
                bp_b="running",
            ),
            upsert(
                "HelmChart", helm_chart("apps-bp-a", conditions=CHART_NOT_READY), bp_a="succeeded"
            ),
            upsert(
                "HelmChart", helm_chart("apps-bp-b", conditions=CHART_NOT_READY), bp_b="running"
            ),
        ),
        meta={
            "bp-b": {
                "chart": {
                    "ref": "apps/apps-bp-b",
                    "name": "podinfo",
                    "version": "6.5.0",
                    "ready": "False",
                    "reason": "ChartPullFailed",
                }
            }
        },
    ),
    "chart-turns-stalled-and-back": Scenario(
        steps=(
            upsert("HelmRelease", helm_release("bp-a", "apps", conditions=READY), bp_a="succeeded"),
            upsert("HelmChart", helm_chart("apps-bp-a", conditions=CHART_READY), bp_a="succeeded"),
            upsert(
                "HelmChart",
                helm_chart("apps-bp-a", conditions=CHART_STALLED),
                ("bp-a",),
                bp_a="failed",
            ),
            upsert(
                "HelmChart",
                helm_chart("apps-bp-a", conditions=CHART_READY),
                ("bp-a",),
                bp_a="succeeded",
            ),
            upsert(
                "HelmChart",
                helm_chart("apps-bp-a", conditions=CHART_STALLED),
                ("bp-a",),
                bp_a="failed",
            ),
            delete(
                "HelmChart", helm_chart("apps-bp-a", conditions=CHART_STALLED), bp_a="succeeded"
            ),
        ),
        meta={"bp-a": {"chart": None}},
    ),
    "shared-chart-by-spec-chart-ref-in-another-namespace": Scenario(
        steps=(
            upsert("HelmChart", SHARED_READY),
            upsert(
                "HelmRelease",
                helm_release("bp-a", "apps", chart_ref=HELMCHART_REF, conditions=READY),
                bp_a="succeeded",
            ),
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-b", "team-b", chart_ref=HELMCHART_REF, conditions=WAITING_FOR_CHART
                ),
                bp_b="running",
            ),
            upsert("HelmChart", SHARED_STALLED, ("bp-a", "bp-b"), bp_a="failed", bp_b="failed"),
            upsert("HelmChart", SHARED_READY, ("bp-a", "bp-b"), bp_a="succeeded", bp_b="running"),
        ),
        meta={
            "bp-a": {
                "chart": {
                    "ref": "flux-system/podinfo",
                    "name": "podinfo",
                    "version": "6.5.0",
                    "ready": "True",
                    "reason": "ChartPullSucceeded",
                },
                "source": None,
            },
            "bp-b": {
                "chart": {
                    "ref": "flux-system/podinfo",
                    "name": "podinfo",
                    "version": "6.5.0",
                    "ready": "True",
                    "reason": "ChartPullSucceeded",
                }
            },
        },
    ),
    "chart-ref-without-namespace-is-in-the-release-namespace": Scenario(
        steps=(
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    chart_ref={"kind": "HelmChart", "name": "podinfo"},
                    conditions=READY,
                ),
                bp_a="succeeded",
            ),
            upsert(
                "HelmChart",
                helm_chart("podinfo", "flux-system", conditions=CHART_STALLED),
                bp_a="succeeded",
            ),
            upsert(
                "HelmChart",
                helm_chart("podinfo", "apps", conditions=CHART_STALLED),
                ("bp-a",),
                bp_a="failed",
            ),
        ),
    ),
    "chart-found-by-owner-labels-alone": Scenario(
        steps=(
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    helm_chart=False,
                    conditions=[condition("Ready", "Unknown", "Progressing")],
                ),
                bp_a="running",
            ),
            upsert(
                "HelmChart",
                helm_chart("apps-bp-a", owner=("apps", "bp-a"), conditions=CHART_STALLED),
                ("bp-a",),
                bp_a="failed",
            ),
        ),
    ),
    "a-release-that-moves-to-another-chart-leaves-the-stalled-one": Scenario(
        steps=(
            upsert("HelmChart", helm_chart("apps-bp-a", conditions=CHART_STALLED)),
            upsert("HelmChart", SHARED_READY),
            upsert("HelmRelease", helm_release("bp-a", "apps", conditions=READY), bp_a="failed"),
            upsert(
                "HelmRelease",
                helm_release("bp-a", "apps", chart_ref=HELMCHART_REF, conditions=READY),
                bp_a="succeeded",
            ),
            upsert("HelmChart", helm_chart("apps-bp-a", conditions=CHART_READY), bp_a="succeeded"),
            upsert(
                "HelmChart", helm_chart("apps-bp-a", conditions=CHART_STALLED), bp_a="succeeded"
            ),
        ),
    ),
    "oci-repository-chart-ref-is-a-source-not-a-helm-chart": Scenario(
        steps=(
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    chart_ref={"kind": "OCIRepository", "name": "podinfo"},
                    conditions=READY,
                ),
                bp_a="succeeded",
            ),
            # the HelmChart its former spec.chart template left behind is not its chart
            upsert(
                "HelmChart",
                helm_chart("apps-bp-a", owner=("apps", "bp-a"), conditions=CHART_STALLED),
                bp_a="succeeded",
            ),
        ),
        meta={
            "bp-a": {
                "source": {"kind": "OCIRepository", "namespace": "apps", "name": "podinfo"},
                "chart": None,
            }
        },
    ),
    "external-artifact-chart-ref-is-a-source": Scenario(
        steps=(
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    chart_ref={"kind": "ExternalArtifact", "name": "podinfo", "namespace": "ci"},
                    conditions=WAITING_FOR_CHART,
                ),
                bp_a="running",
            ),
        ),
        meta={
            "bp-a": {"source": {"kind": "ExternalArtifact", "namespace": "ci", "name": "podinfo"}}
        },
    ),
    "a-chart-never-seen-changes-nothing": Scenario(
        steps=(
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    chart_ref={"kind": "HelmChart", "name": "podinfo", "namespace": "unwatched"},
                    conditions=READY,
                ),
                bp_a="succeeded",
            ),
        ),
        meta={"bp-a": {"chart": None, "source": None}},
    ),
    "own-stall-wins-over-a-healthy-chart": Scenario(
        steps=(
            upsert("HelmChart", helm_chart("apps-bp-a", conditions=CHART_READY)),
            upsert(
                "HelmRelease",
                helm_release(
                    "bp-a",
                    "apps",
                    conditions=[
                        condition("Stalled", "True", "RetriesExceeded"),
                        condition("Ready", "False", "UpgradeFailed"),
                    ],
                ),
                bp_a="failed",
            ),
        ),
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_watch_events_fold_release_and_chart_as_flux_means(scenario: Scenario) -> None:
    store, sink = make_store()
    for index, step in enumerate(scenario.steps):
        calls = len(sink.calls)
        if step.op == "upsert":
            store.upsert(step.kind, step.obj)
        else:
            store.delete(step.kind, step.obj)
        shown = {
            name: store.graph.nodes[node(name)].status
            for name in step.shows
            if node(name) in store.graph.nodes
        }
        assert shown == step.shows, f"after step {index}"
        if step.touches is not None:
            sent = set().union(*(keys.nodes for keys in sink.calls[calls:]))
            releases = {n.removeprefix(f"{REGION}/") for n in sent if n != REGION}
            assert releases == set(step.touches), f"nodes re-sent by step {index}"
    for name, wanted in scenario.meta.items():
        meta = store.graph.nodes[node(name)].meta or {}
        for key, value in wanted.items():
            assert meta.get(key) == value, f"{name}: meta.{key}"


def test_a_shared_chart_event_re_sends_every_release_using_it_in_one_notification() -> None:
    store, sink = make_store()
    store.upsert("HelmChart", SHARED_READY)
    for name, namespace in (("bp-a", "apps"), ("bp-b", "team-b"), ("bp-c", "apps")):
        ref = HELMCHART_REF if name != "bp-c" else None
        store.upsert("HelmRelease", helm_release(name, namespace, chart_ref=ref, conditions=READY))
    calls = len(sink.calls)

    store.upsert("HelmChart", SHARED_STALLED)

    assert len(sink.calls) == calls + 1
    assert sink.calls[-1].nodes == {node("bp-a"), node("bp-b"), REGION}
    assert store.graph.nodes[REGION].status == "failed"
    assert store.graph.nodes[node("bp-c")].status == "succeeded"
