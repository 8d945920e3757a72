"""Real Flux controllers make every state; the adapter's node shows what an operator expects.

Each scene installs charts from the chart repository on 127.0.0.1 through
a HelmRepository and HelmReleases, lets the controllers act, and reads the
adapter's node from the flow server. The expected statuses are literals; the
seconds each transition took are printed at the end of the session.
"""

from __future__ import annotations

import pytest

from localcluster import HELMCHART, HELMRELEASE
from tests.e2e.flux_scene import FluxScene, Observation
from tests.e2e.harness import wait_until

pytestmark = pytest.mark.e2e


def test_an_install_that_succeeds_shows_succeeded(flux: FluxScene) -> None:
    flux.publish("settings", name="install-ok", version="1.0.0")
    flux.scene.adapter()
    flux.mark()
    flux.release(
        "cilium",
        chart="install-ok",
        version="1.0.0",
        labels={"catalyst.openova.io/family": "network"},
    )
    flux.wait_status("cilium", "succeeded", "install succeeded → succeeded")
    node = flux.scene.graph()[0][flux.scene.node("cilium")]
    assert node["family"] == "network"
    assert isinstance(node["endedAt"], int)
    ready = flux.condition("cilium")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("True", "InstallSucceeded")
    meta = flux.meta("cilium")
    assert meta["readyReason"] == "InstallSucceeded"
    assert meta["chart"]["version"] == "1.0.0"
    assert flux.scene.statuses()[flux.scene.region] == "succeeded"
    flux.record("install-succeeded", "cilium", charts=(f"{flux.namespace}-cilium",))


def test_a_failing_install_is_failed_through_its_remediations_and_once_stalled(
    flux: FluxScene,
) -> None:
    flux.publish("rejected", name="install-bad", version="1.0.0")
    flux.scene.adapter()
    flux.mark()
    flux.release(
        "openbao", chart="install-bad", version="1.0.0", install={"remediation": {"retries": 2}}
    )
    flux.wait_status("openbao", "failed", "the first install failure → failed")
    first = flux.observe("openbao")
    seen: list[Observation] = [first]

    def stalled_and_failed() -> bool:
        seen.append(flux.observe("openbao"))
        return seen[-1].stalled and seen[-1].status == "failed"

    wait_until(stalled_and_failed, "helm-controller gives up (Stalled)", timeout=180.0)
    flux.took("three failed installs, two uninstalls, Stalled → still failed")
    statuses = {o.status for o in seen}
    assert statuses == {"failed"}, [(o.at, o.status, o.ready) for o in seen]
    stalled = flux.condition("openbao", "Stalled")
    assert stalled is not None
    assert stalled["reason"] == "RetriesExceeded"
    assert seen[-1].install_failures == 3
    # Every status the adapter posted from the first failure on, retries included.
    posted = flux.scene.flow.posted_statuses(flux.scene.flow_id, flux.scene.node("openbao"))
    assert set(posted[posted.index("failed") :]) == {"failed"}, posted
    flux.record("install-failed-stalled", "openbao")


def test_an_upgrade_rolled_back_is_failed_until_a_new_chart_version_fixes_it(
    flux: FluxScene,
) -> None:
    flux.publish("settings", name="upgrade", version="1.0.0")
    flux.publish("rejected", name="upgrade", version="2.0.0")
    flux.scene.adapter()
    flux.release(
        "keycloak", chart="upgrade", version="1.0.0", upgrade={"remediation": {"retries": 1}}
    )
    flux.wait_status("keycloak", "succeeded", "installed 1.0.0")

    flux.mark()
    flux.edit("keycloak", {"chart": {"spec": {"version": "2.0.0"}}})
    flux.wait_status("keycloak", "failed", "upgrade to 2.0.0 fails → failed")

    def rolled_back() -> bool:
        remediated = flux.condition("keycloak", "Remediated")
        return remediated is not None and remediated["reason"] == "RollbackSucceeded"

    wait_until(rolled_back, "helm-controller rolls back")
    flux.took("rolled back (RollbackSucceeded) → failed")
    assert flux.status("keycloak") == "failed"
    flux.record("upgrade-rolled-back", "keycloak")

    flux.publish("settings", name="upgrade", version="2.0.1")
    flux.mark()
    flux.edit("keycloak", {"chart": {"spec": {"version": "2.0.1"}}})
    flux.wait_status("keycloak", "succeeded", "fixed by chart 2.0.1 → succeeded")
    ready = flux.condition("keycloak")
    assert ready is not None
    assert ready["reason"] == "UpgradeSucceeded"
    assert flux.meta("keycloak")["chart"]["version"] == "2.0.1"


def test_a_test_hook_that_never_completes_shows_failed(flux: FluxScene) -> None:
    flux.publish("test-hook", name="tested", version="1.0.0")
    flux.scene.adapter()
    flux.mark()
    flux.release("harbor", chart="tested", version="1.0.0", test={"enable": True, "timeout": "5s"})
    flux.wait_status("harbor", "failed", "the Helm test times out (TestFailed) → failed")

    def test_failed() -> bool:
        tested = flux.condition("harbor", "TestSuccess")
        return tested is not None and tested["reason"] == "TestFailed"

    wait_until(test_failed, "helm-controller records TestFailed")
    assert flux.status("harbor") == "failed"
    flux.record("test-failed", "harbor")


def test_a_chart_version_missing_from_the_index_is_not_green_and_says_why(
    flux: FluxScene,
) -> None:
    flux.publish("settings", name="missing", version="1.0.0")
    flux.scene.adapter()
    flux.mark()
    flux.release("velero", chart="missing", version="9.9.9")
    chart = f"{flux.namespace}-velero"

    def chart_says_why() -> bool:
        return bool(flux.meta("velero").get("chart", {}).get("message"))

    wait_until(chart_says_why, "the HelmChart's reason reaches the node", timeout=120.0)
    flux.took("chart version missing → the node says why")
    # The release only waits (SourceNotReady); its HelmChart is Stalled, so it never proceeds.
    assert flux.status("velero") == "failed"
    said = flux.meta("velero")["chart"]
    written = flux.get(HELMCHART, chart)
    chart_ready = next(c for c in written["status"]["conditions"] if c["type"] == "Ready")
    assert said["reason"] == chart_ready["reason"]
    assert "9.9.9" in said["message"]
    flux.record("chart-version-missing", "velero", charts=(chart,))


def test_a_dependency_chain_waits_on_its_failed_first_link_and_turns_green_in_order(
    flux: FluxScene,
) -> None:
    flux.publish("rejected", name="chain", version="1.0.0")
    flux.publish("settings", name="chain-ok", version="1.0.0")
    flux.scene.adapter()
    flux.mark()
    flux.release("cnpg", chart="chain", version="1.0.0")
    flux.release("keycloak", chart="chain-ok", version="1.0.0", depends_on=("cnpg",))
    flux.release("grafana", chart="chain-ok", version="1.0.0", depends_on=("keycloak",))
    flux.wait_status("cnpg", "failed", "the first link fails → failed")

    def waiting(name: str) -> bool:
        return flux.meta(name).get("readyReason") == "DependencyNotReady"

    wait_until(lambda: waiting("keycloak") and waiting("grafana"), "the others wait")
    flux.took("the others show DependencyNotReady")
    assert flux.status("keycloak") == "running"
    assert flux.status("grafana") == "running"
    _, edges = flux.scene.graph()
    node = flux.scene.node
    assert (node("cnpg"), node("keycloak"), "finish-to-start") in edges
    assert (node("keycloak"), node("grafana"), "finish-to-start") in edges
    flux.record("dependency-not-ready", "keycloak")

    flux.edit("cnpg", {"chart": {"spec": {"chart": "chain-ok"}}})
    flux.mark()
    green: dict[str, float] = {}

    def all_green() -> bool:
        for name in ("cnpg", "keycloak", "grafana"):
            if name not in green and flux.status(name) == "succeeded":
                green[name] = flux.took(f"chain fixed: {name} → succeeded")
        return len(green) == 3

    wait_until(all_green, "the chain turns green", timeout=180.0)
    assert green["cnpg"] <= green["keycloak"] <= green["grafana"], green


def test_a_spec_change_is_running_until_the_controller_applies_it(flux: FluxScene) -> None:
    flux.publish("settings", name="spec-change", version="1.0.0")
    flux.scene.adapter()
    flux.release("loki", chart="spec-change", version="1.0.0")
    flux.wait_status("loki", "succeeded", "installed")
    applied = flux.get(HELMRELEASE, "loki")["status"]["observedGeneration"]

    node = flux.scene.node("loki")
    before = len(flux.scene.flow.posted_statuses(flux.scene.flow_id, node))
    flux.mark()
    raised = flux.edit("loki", {"values": {"greeting": "hej"}})
    assert raised == applied + 1

    def applied_again() -> bool:
        return flux.meta("loki").get("generation") == raised and flux.status("loki") == "succeeded"

    wait_until(applied_again, "the new generation applied by helm-controller")
    flux.took("a spec change → running, then succeeded once applied")
    # Read from what the adapter posted: the running phase lasts well under a second.
    after = flux.scene.flow.posted_statuses(flux.scene.flow_id, node)[before:]
    assert after[0] == "running", after
    assert after[-1] == "succeeded", after
    assert flux.get(HELMRELEASE, "loki")["status"]["observedGeneration"] == raised


def test_a_suspended_release_keeps_its_status_and_says_so(flux: FluxScene) -> None:
    flux.publish("settings", name="suspend", version="1.0.0")
    flux.scene.adapter()
    flux.release("tempo", chart="suspend", version="1.0.0")
    flux.wait_status("tempo", "succeeded", "installed")

    flux.mark()
    flux.edit("tempo", {"suspend": True})
    wait_until(lambda: flux.meta("tempo").get("suspended") is True, "suspended shown")
    flux.took("suspended → meta.suspended, still succeeded")
    assert flux.status("tempo") == "succeeded"
    # An edit while suspended is never applied: the node still shows the last outcome.
    flux.edit("tempo", {"values": {"greeting": "paused"}})
    wait_until(
        lambda: (
            flux.meta("tempo").get("generation")
            == flux.get(HELMRELEASE, "tempo")["metadata"]["generation"]
        ),
        "the edit seen",
    )
    assert flux.status("tempo") == "succeeded"
    flux.record("suspended", "tempo")


def test_a_deleted_release_is_uninstalled_and_its_node_and_edges_go(flux: FluxScene) -> None:
    flux.publish("settings", name="delete", version="1.0.0")
    flux.scene.adapter()
    flux.release("mimir", chart="delete", version="1.0.0")
    flux.release("grafana", chart="delete", version="1.0.0", depends_on=("mimir",))
    flux.wait_status("mimir", "succeeded", "installed")
    flux.wait_status("grafana", "succeeded", "installed")

    flux.mark()
    flux.delete("grafana")
    wait_until(lambda: not flux.exists("grafana"), "helm-controller uninstalls and lets go")
    flux.wait_status("grafana", None, "deleted → node gone")
    node = flux.scene.node
    _, edges = flux.scene.graph()
    assert not [key for key in edges if node("grafana") in key[:2]], edges
    assert (node("mimir"), flux.scene.region, "contains") in edges
    left = flux.scene.admin.list("ConfigMap", flux.namespace)["items"]
    assert "grafana-settings" not in {item["metadata"]["name"] for item in left}
    assert "mimir-settings" in {item["metadata"]["name"] for item in left}


def test_releases_sharing_a_chart_by_chart_ref_follow_it_both_ways(flux: FluxScene) -> None:
    ns = flux.namespace
    flux.publish("settings", name="shared", version="1.0.0")
    flux.chart("podinfo", chart="shared", version="1.0.0")
    elsewhere = f"{ns}-sources"
    flux.scene.admin.create_namespace(elsewhere)
    refs = {
        "bp-a": {"kind": "HelmChart", "name": "podinfo"},
        "bp-b": {"kind": "HelmChart", "name": "podinfo", "namespace": ns},
        "bp-oci": {"kind": "OCIRepository", "name": "podinfo"},
        "bp-unwatched": {"kind": "HelmChart", "name": "podinfo", "namespace": elsewhere},
    }
    for name, ref in refs.items():
        flux.release_by_ref(name, ref)
    flux.scene.adapter()
    flux.mark()
    flux.wait_status("bp-a", "succeeded", "chartRef HelmChart installed")
    flux.wait_status("bp-b", "succeeded", "chartRef HelmChart (namespace named) installed")
    assert flux.meta("bp-a")["chart"]["reason"] == "ChartPullSucceeded"
    assert flux.meta("bp-b")["chart"]["ref"] == f"{ns}/podinfo"
    assert flux.meta("bp-oci")["source"] == {
        "kind": "OCIRepository",
        "namespace": ns,
        "name": "podinfo",
    }
    assert flux.status("bp-oci") != "succeeded"
    assert "chart" not in flux.meta("bp-unwatched")  # outside NAMESPACE_FILTER: invisible

    flux.mark()
    flux.scene.admin.patch(HELMCHART, ns, "podinfo", {"spec": {"version": "9.9.9"}})
    flux.wait_status("bp-a", "failed", "the shared chart stalls → its users fail")
    flux.wait_status("bp-b", "failed", "the shared chart stalls → both users fail")
    assert "9.9.9" in flux.meta("bp-b")["chart"]["message"]

    flux.mark()
    flux.scene.admin.patch(HELMCHART, ns, "podinfo", {"spec": {"version": "1.0.0"}})
    flux.wait_status("bp-a", "succeeded", "the chart recovers → succeeded")
    flux.wait_status("bp-b", "succeeded", "the chart recovers → both succeeded")
