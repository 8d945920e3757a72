"""Statuses as Flux means them, from a real kube-apiserver to the flow server.

The releases and charts are written the way Flux's controllers write them:
objects created, then their status through the `/status` subresource. The API
server sets `metadata.generation` itself, so a spec that is not applied yet is
produced the way it happens in a cluster: by editing the spec after the
status was written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from localcluster import HELMCHART, HELMRELEASE, helmchart
from tests.e2e.harness import wait_until
from tests.e2e.scene import Scene

pytestmark = pytest.mark.e2e

MISSING_VERSION = (
    "invalid chart reference: failed to get chart version for remote reference: no "
    "'hello-world' chart with version matching '0.1.0-missing-version' found"
)


def cond(
    ctype: str, status: str, reason: str, generation: int, message: str = ""
) -> dict[str, Any]:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message or reason,
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observedGeneration": generation,
    }


def generation(scene: Scene, name: str) -> int:
    found: int = scene.admin.get(HELMRELEASE, scene.namespace, name)["metadata"]["generation"]
    return found


def write_status(scene: Scene, name: str, conditions: list[dict[str, Any]], **more: Any) -> None:
    """What helm-controller writes at the end of a reconcile, for the current generation."""
    status = {"conditions": conditions, "observedGeneration": generation(scene, name), **more}
    scene.admin.patch_status(HELMRELEASE, scene.namespace, name, status)


def edit_spec(scene: Scene, name: str, change: dict[str, Any]) -> int:
    """A person's `kubectl edit`: the API server raises `metadata.generation`."""
    current = scene.admin.get(HELMRELEASE, scene.namespace, name)
    current["spec"].update(change)
    replaced = scene.admin.replace(current)
    raised: int = replaced["metadata"]["generation"]
    return raised


def chart_status(scene: Scene, name: str, conditions: list[dict[str, Any]], ns: str = "") -> None:
    scene.admin.patch_status(
        HELMCHART,
        ns or scene.namespace,
        name,
        {
            "artifact": {"revision": "6.5.0", "digest": "sha256:00", "path": "x", "url": "x"},
            "conditions": conditions,
            "observedGeneration": 1,
        },
    )


def chart_ref_release(scene: Scene, name: str, ref: dict[str, str]) -> None:
    scene.admin.create(
        {
            "apiVersion": HELMRELEASE.api_version,
            "kind": HELMRELEASE.kind,
            "metadata": {"name": name, "namespace": scene.namespace},
            "spec": {"interval": "10m", "chartRef": ref},
        }
    )


def shows(scene: Scene, expected: dict[str, str]) -> Callable[[], bool]:
    """Every release named shows the expected status on the flow server."""

    def check() -> bool:
        statuses = scene.statuses()
        return all(statuses.get(scene.node(name)) == status for name, status in expected.items())

    return check


def meta(scene: Scene, name: str) -> dict[str, Any]:
    found: dict[str, Any] = scene.graph()[0][scene.node(name)].get("meta", {})
    return found


def test_the_issue_examples_reach_the_flow_server_as_flux_means_them(scene: Scene) -> None:
    ns = scene.namespace
    # 1. Upgrade failed, rolled back: Ready copies Remediated's RollbackSucceeded.
    scene.release("bp-podinfo")
    gen = generation(scene, "bp-podinfo")
    write_status(
        scene,
        "bp-podinfo",
        [
            cond(
                "Ready",
                "False",
                "RollbackSucceeded",
                gen,
                f"Helm rollback to previous release {ns}/podinfo.v20 with chart podinfo@6.5.0 "
                "succeeded",
            ),
            cond("Released", "False", "UpgradeFailed", gen),
            cond("Remediated", "True", "RollbackSucceeded", gen),
        ],
        helmChart=f"{ns}/{ns}-bp-podinfo",
    )
    # 2. A chart version that does not exist: the release waits, its HelmChart is Stalled.
    scene.release("bp-hello-world")
    gen = generation(scene, "bp-hello-world")
    write_status(
        scene,
        "bp-hello-world",
        [
            cond("Ready", "False", "SourceNotReady", gen),
            cond("Reconciling", "True", "Progressing", gen),
        ],
        helmChart=f"{ns}/{ns}-bp-hello-world",
    )
    chart = helmchart(f"{ns}-bp-hello-world", ns, chart="hello-world", version="0.1.0-missing")
    chart["metadata"]["labels"] = {
        "helm.toolkit.fluxcd.io/name": "bp-hello-world",
        "helm.toolkit.fluxcd.io/namespace": ns,
    }
    scene.admin.create(chart)
    chart_status(
        scene,
        f"{ns}-bp-hello-world",
        [
            cond("Stalled", "True", "InvalidChartReference", 1, MISSING_VERSION),
            cond("Ready", "False", "InvalidChartReference", 1, MISSING_VERSION),
        ],
    )
    # 3. Ready=True, then a spec edit the controller has not reconciled yet.
    scene.release("bp-ingress-nginx")
    gen = generation(scene, "bp-ingress-nginx")
    write_status(scene, "bp-ingress-nginx", [cond("Ready", "True", "UpgradeSucceeded", gen)])

    scene.adapter()
    wait_until(
        shows(
            scene,
            {"bp-podinfo": "failed", "bp-hello-world": "failed", "bp-ingress-nginx": "succeeded"},
        ),
        "the examples as written",
    )
    hello = meta(scene, "bp-hello-world")["chart"]
    assert hello["reason"] == "InvalidChartReference"
    assert hello["message"] == MISSING_VERSION
    assert meta(scene, "bp-podinfo")["readyReason"] == "RollbackSucceeded"

    raised = edit_spec(scene, "bp-ingress-nginx", {"values": {"controller": {"replicaCount": 3}}})
    assert raised == gen + 1
    wait_until(shows(scene, {"bp-ingress-nginx": "running"}), "an unapplied spec is running")
    assert meta(scene, "bp-ingress-nginx")["generation"] == raised

    write_status(scene, "bp-ingress-nginx", [cond("Ready", "True", "UpgradeSucceeded", raised)])
    wait_until(shows(scene, {"bp-ingress-nginx": "succeeded"}), "applied: succeeded again")

    # Suspending is a spec edit too: the generation moves on, nothing will apply it.
    suspended = edit_spec(scene, "bp-ingress-nginx", {"suspend": True})
    wait_until(
        lambda: meta(scene, "bp-ingress-nginx").get("generation") == suspended,
        "the suspending edit seen",
    )
    assert scene.statuses()[scene.node("bp-ingress-nginx")] == "succeeded"
    assert meta(scene, "bp-ingress-nginx")["suspended"] is True

    # The chart recovers: the release is back to what it says itself.
    chart_status(
        scene,
        f"{ns}-bp-hello-world",
        [cond("Ready", "True", "ChartPullSucceeded", 1, "pulled 'hello-world' chart")],
    )
    wait_until(shows(scene, {"bp-hello-world": "running"}), "the chart no longer stalled")
    assert "message" not in meta(scene, "bp-hello-world")["chart"]
    assert scene.statuses()[scene.region] == "failed"  # bp-podinfo


def test_releases_sharing_a_chart_by_chart_ref_follow_it_both_ways(scene: Scene) -> None:
    ns = scene.namespace
    elsewhere = f"{ns}-sources"
    scene.admin.create_namespace(elsewhere)
    for where in (ns, elsewhere):
        scene.admin.create(helmchart("podinfo", where))
    chart_status(scene, "podinfo", [cond("Ready", "True", "ChartPullSucceeded", 1)])
    chart_status(
        scene,
        "podinfo",
        [cond("Stalled", "True", "InvalidChartReference", 1, "no such version")],
        ns=elsewhere,
    )
    refs = {
        "bp-a": {"kind": "HelmChart", "name": "podinfo"},
        "bp-b": {"kind": "HelmChart", "name": "podinfo", "namespace": ns},
        "bp-oci": {"kind": "OCIRepository", "name": "podinfo"},
        "bp-unwatched": {"kind": "HelmChart", "name": "podinfo", "namespace": elsewhere},
    }
    for name, ref in refs.items():
        chart_ref_release(scene, name, ref)
        write_status(scene, name, [cond("Ready", "True", "InstallSucceeded", 1)])

    scene.adapter()
    all_green = dict.fromkeys(refs, "succeeded")
    wait_until(shows(scene, all_green), "every release succeeded")
    wait_until(
        lambda: meta(scene, "bp-a").get("chart", {}).get("reason") == "ChartPullSucceeded",
        "the shared chart on bp-a",
    )
    assert meta(scene, "bp-b")["chart"]["ref"] == f"{ns}/podinfo"
    assert meta(scene, "bp-oci")["source"] == {
        "kind": "OCIRepository",
        "namespace": ns,
        "name": "podinfo",
    }
    assert "chart" not in meta(scene, "bp-unwatched")  # outside NAMESPACE_FILTER: invisible

    chart_status(
        scene,
        "podinfo",
        [
            cond("Stalled", "True", "InvalidChartReference", 1, "no 'podinfo' chart matching 9.9"),
            cond("Ready", "False", "InvalidChartReference", 1, "no 'podinfo' chart matching 9.9"),
        ],
    )
    wait_until(
        shows(scene, all_green | {"bp-a": "failed", "bp-b": "failed"}),
        "both users of the stalled chart failed, nothing else",
    )
    assert meta(scene, "bp-b")["chart"]["message"] == "no 'podinfo' chart matching 9.9"

    chart_status(scene, "podinfo", [cond("Ready", "True", "ChartPullSucceeded", 1)])
    wait_until(shows(scene, all_green), "both back once the chart recovers")
    assert scene.statuses()[scene.region] == "succeeded"
