"""The chart installed for real: by the Helm CLI, and the GitOps way by Flux from `deploy/flux/`.

Helm (built from `helm.sh/helm/v4`) lints, templates and installs
`chart/flux-adapter` into the real API server; the adapter then runs with a
token of the ServiceAccount the chart created, so the RBAC the chart grants
is all it has. No kubelet runs here, so the DaemonSet's pods never start:
the image, the probes as a kubelet calls them, the downward-API variables
and the mounted token are not exercised (the adapter runs as a local
process with the environment the DaemonSet declares).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcluster import HELMRELEASE, HELMREPOSITORY
from localcluster.chartrepo import ChartRepository
from localcluster.helmcli import HelmCli
from tests.e2e.flux_scene import SHARD_LABEL, SHARD_VALUE, FluxScene
from tests.e2e.harness import REPO, AdapterProcess, wait_until
from tests.e2e.scene import Scene

pytestmark = pytest.mark.e2e

CHART = REPO / "chart" / "flux-adapter"
DEPLOY = REPO / "deploy" / "flux"
RELEASE = "flux-adapter"


def helm(scene: Scene) -> HelmCli:
    return HelmCli(scene.cluster.write_kubeconfig(scene.workdir / "helm-kubeconfig"), scene.workdir)


def values(scene: Scene) -> list[str]:
    """`--set` pairs for an install that watches the scene's namespace and posts to its flow."""
    pairs = {
        "flowServer.url": scene.flow.url,
        "flowId": scene.flow_id,
        "regionKey": scene.region,
        "namespaceFilter": scene.namespace,
        "leaderElection.leaseDuration": "4s",
        "leaderElection.renewDeadline": "3s",
        "leaderElection.retryPeriod": "1s",
    }
    return [arg for key, value in pairs.items() for arg in ("--set", f"{key}={value}")]


def service_account_kubeconfig(scene: Scene, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig holding a token the API server issued for `account` (TokenRequest)."""
    answer = scene.admin.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    config = scene.cluster.write_kubeconfig(path)
    config.write_text(
        config.read_text().replace(scene.cluster.admin_token, answer["status"]["token"])
    )
    return config


def daemonset_env(daemonset: dict[str, Any], namespace: str) -> dict[str, str]:
    """The installed container's environment, downward API filled in as a kubelet would."""
    container = daemonset["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"] if "value" in item}
    env["POD_NAMESPACE"] = namespace
    env["POD_NAME"] = "node-1"
    env.pop("HEALTH_LISTEN_ADDR", None)
    return env


def run_as_the_chart(scene: Scene, namespace: str) -> AdapterProcess:
    """The adapter with the installed DaemonSet's environment and its ServiceAccount's token."""
    daemonset = scene.admin.request(
        "GET", f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{RELEASE}"
    )
    account = daemonset["spec"]["template"]["spec"]["serviceAccountName"]
    kubeconfig = service_account_kubeconfig(scene, namespace, account, scene.workdir / "sa")
    return scene.adapter(daemonset_env(daemonset, namespace), kubeconfig=kubeconfig)


def test_helm_lints_and_templates_the_chart(scene: Scene) -> None:
    cli = helm(scene)
    linted = cli.run("lint", str(CHART), *values(scene))
    assert "0 chart(s) failed" in linted
    rendered = cli.run(
        "template", RELEASE, str(CHART), "--namespace", scene.namespace, *values(scene)
    )
    kinds = {doc["kind"] for doc in yaml.safe_load_all(rendered) if doc}
    assert {"DaemonSet", "ServiceAccount", "Role", "RoleBinding"} <= kinds


def test_helm_install_runs_the_adapter_with_only_the_rbac_the_chart_grants(scene: Scene) -> None:
    scene.release("bp-cilium")
    cli = helm(scene)
    cli.run("install", RELEASE, str(CHART), "--namespace", scene.namespace, *values(scene))
    listed = json.loads(cli.run("list", "--namespace", scene.namespace, "--output", "json"))
    assert [(r["name"], r["status"]) for r in listed] == [(RELEASE, "deployed")]

    adapter = run_as_the_chart(scene, scene.namespace)
    wait_until(lambda: adapter.probe("/readyz") == 200, "ready as the chart's ServiceAccount")
    wait_until(lambda: scene.node("bp-cilium") in scene.graph()[0], "the release posted")
    lease = scene.admin.request(
        "GET",
        f"/apis/coordination.k8s.io/v1/namespaces/{scene.namespace}/leases/{RELEASE}",
    )
    assert lease["spec"]["holderIdentity"] == "node-1"
    assert adapter.metric("flux_adapter_leader") == 1
    assert [e for e in adapter.log_events() if e.get("event") == "rbac_denied"] == []


def test_a_verb_the_chart_does_not_grant_is_a_clear_error(scene: Scene) -> None:
    cli = helm(scene)
    cli.run("install", RELEASE, str(CHART), "--namespace", scene.namespace, *values(scene))
    bindings = scene.admin.list("RoleBinding", scene.namespace)["items"]
    roles = {r["metadata"]["name"]: r for r in scene.admin.list("Role", scene.namespace)["items"]}
    (watch_binding,) = [
        b
        for b in bindings
        if any(
            "helmreleases" in rule.get("resources", [])
            for rule in roles[b["roleRef"]["name"]]["rules"]
        )
    ]
    scene.admin.delete("RoleBinding", scene.namespace, watch_binding["metadata"]["name"])

    adapter = run_as_the_chart(scene, scene.namespace)
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


def gitops_objects(flux: FluxScene, repository_url: str, target: str) -> list[dict[str, Any]]:
    """`deploy/flux/` as a kustomization would patch it for this scene's namespace and flow."""
    scene = flux.scene
    objects = [
        yaml.safe_load((DEPLOY / name).read_text())
        for name in ("helmrepository.yaml", "helmrelease.yaml")
    ]
    for obj in objects:
        obj["metadata"]["namespace"] = scene.namespace
        obj["metadata"].setdefault("labels", {})[SHARD_LABEL] = SHARD_VALUE
    repository, release = objects
    repository["spec"]["url"] = repository_url
    spec = release["spec"]
    spec["targetNamespace"] = target
    spec["chart"]["metadata"] = {"labels": {SHARD_LABEL: SHARD_VALUE}}
    spec["install"]["disableWait"] = True  # no kubelet: the DaemonSet's pods never run
    spec["values"].update(
        {
            "flowServer": {"url": scene.flow.url},
            "flowId": scene.flow_id,
            "regionKey": scene.region,
            "namespaceFilter": scene.namespace,
        }
    )
    return objects


def test_flux_installs_the_adapter_from_deploy_flux_and_it_draws_its_own_release(
    flux: FluxScene, tmp_path: Path
) -> None:
    with ChartRepository(tmp_path / "adapter-charts") as published:
        chart = published.publish(
            CHART, version=yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
        )
        target = f"{flux.namespace}-fa"
        for obj in gitops_objects(flux, published.url, target):
            flux.scene.admin.create(obj)
        flux.mark()

        def installed() -> bool:
            ready = flux.condition(RELEASE)
            return ready is not None and ready["status"] == "True"

        wait_until(installed, "helm-controller installs flux-adapter", timeout=180.0)
        flux.took("deploy/flux applied → flux-adapter installed by helm-controller")
        assert flux.get(HELMREPOSITORY, RELEASE)["status"]["artifact"]["revision"]
        history = flux.get(HELMRELEASE, RELEASE)["status"]["history"]
        assert history[0]["chartVersion"] == chart.version

        adapter = run_as_the_chart(flux.scene, target)
        flux.wait_status(RELEASE, "succeeded", "the adapter draws its own release")
        meta = flux.meta(RELEASE)
        assert meta["chart"]["name"] == "flux-adapter"
        assert adapter.metric("flux_adapter_leader") == 1
