"""The chart's own RBAC, applied to a real kube-apiserver, is all the adapter needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localcluster import KubeClient
from tests.chart.rendering import Manifest, render
from tests.e2e.harness import wait_until
from tests.e2e.scene import Scene

pytestmark = pytest.mark.e2e

RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


def chart_install(scene: Scene) -> list[Manifest]:
    return render(
        {
            "flowServer": {"url": scene.flow.url},
            "flowId": scene.flow_id,
            "regionKey": scene.region,
            "namespaceFilter": scene.namespace,
            "leaderElection": {"leaseDuration": "4s", "renewDeadline": "3s", "retryPeriod": "1s"},
        },
        namespace=scene.namespace,
    )


def apply(
    admin: KubeClient, manifests: list[Manifest], *, skip: frozenset[str] = frozenset()
) -> None:
    for kind in RBAC_KINDS:
        for manifest in manifests:
            if manifest["kind"] == kind and manifest["metadata"]["name"] not in skip:
                admin.create(manifest)


def service_account_kubeconfig(scene: Scene, account: str, path: Path) -> Path:
    """A kubeconfig holding a token the apiserver issued for the chart's ServiceAccount."""
    answer = scene.admin.request(
        "POST",
        f"/api/v1/namespaces/{scene.namespace}/serviceaccounts/{account}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    token = answer["status"]["token"]
    admin_config = scene.cluster.write_kubeconfig(path)
    admin_config.write_text(admin_config.read_text().replace(scene.cluster.admin_token, token))
    return admin_config


def daemonset_env(manifests: list[Manifest], scene: Scene) -> dict[str, str]:
    """The adapter container's environment as the chart sets it, downward API filled in."""
    daemonset = next(m for m in manifests if m["kind"] == "DaemonSet")
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
    env["POD_NAMESPACE"] = scene.namespace
    env["POD_NAME"] = "node-1"
    env.pop("HEALTH_LISTEN_ADDR", None)
    return env


def service_account(manifests: list[Manifest]) -> str:
    name: Any = next(m for m in manifests if m["kind"] == "ServiceAccount")["metadata"]["name"]
    return str(name)


def test_the_charts_rbac_is_enough_for_the_adapter(scene: Scene) -> None:
    scene.release("a")
    manifests = chart_install(scene)
    apply(scene.admin, manifests)
    account = service_account(manifests)
    kubeconfig = service_account_kubeconfig(scene, account, scene.workdir / "sa")
    adapter = scene.adapter(daemonset_env(manifests, scene), kubeconfig=kubeconfig)
    wait_until(lambda: adapter.probe("/readyz") == 200, "ready as the chart's service account")
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a posted by the leader")
    assert adapter.metric("flux_adapter_leader") == 1
    denied = [e for e in adapter.log_events() if e.get("event") == "rbac_denied"]
    assert denied == []


def test_without_the_watch_binding_the_adapter_says_what_is_missing(scene: Scene) -> None:
    manifests = chart_install(scene)
    watch_roles = {
        m["metadata"]["name"]
        for m in manifests
        if m["kind"] == "Role"
        and any("helmreleases" in rule.get("resources", []) for rule in m["rules"])
    }
    watch_bindings = frozenset(
        m["metadata"]["name"]
        for m in manifests
        if m["kind"] == "RoleBinding" and m["roleRef"]["name"] in watch_roles
    )
    assert len(watch_bindings) == 1
    apply(scene.admin, manifests, skip=watch_bindings)
    kubeconfig = service_account_kubeconfig(scene, service_account(manifests), scene.workdir / "sa")
    adapter = scene.adapter(daemonset_env(manifests, scene), kubeconfig=kubeconfig)
    denied = wait_until(
        lambda: [e for e in adapter.log_events() if e.get("event") == "rbac_denied"],
        "rbac_denied logged",
    )
    assert {e["missing"] for e in denied} <= {
        "list helmreleases.helm.toolkit.fluxcd.io",
        "list helmcharts.source.toolkit.fluxcd.io",
    }
    assert adapter.probe("/readyz") == 503
    assert adapter.probe("/healthz") == 200
