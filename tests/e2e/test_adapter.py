"""The whole adapter process against a real kube-apiserver and etcd, posting to the flow server.

Every scenario ends by asserting the flow server's snapshot of this region
equals the expected graph, written out literally for the first four.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import signal
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from localcluster import HELMRELEASE, TcpProxy
from tests.e2e.expected import KIT, edge_row, node_row
from tests.e2e.harness import FlowServerProcess, http_get, wait_until
from tests.e2e.scene import Scene
from tests.fixtures import bootstrap_kit

pytestmark = pytest.mark.e2e


def kit_expectation(region: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    nodes: set[tuple[Any, ...]] = {(region, region, "pending", None, region)}
    edges: set[tuple[Any, ...]] = set()
    for name, family, _slot, deps in KIT:
        nodes.add((f"{region}/{name}", name, "pending", family, region))
        edges.add((f"{region}/{name}", region, "contains", None))
        for dep in deps:
            edges.add((f"{region}/{dep}", f"{region}/{name}", "finish-to-start", "on-success"))
    return nodes, edges


def rows(scene: Scene) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    nodes, rels = scene.graph()
    return {node_row(n) for n in nodes.values()}, {edge_row(r) for r in rels.values()}


def converges(
    scene: Scene, expected: tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]
) -> Callable[[], bool]:
    return lambda: rows(scene) == expected


def test_initial_sync_of_a_bootstrap_kit(scene: Scene) -> None:
    for obj in bootstrap_kit():
        obj["metadata"]["namespace"] = scene.namespace
        scene.admin.create(obj)
    scene.adapter()
    expected = kit_expectation(scene.region)
    assert len(expected[0]) == 31
    assert len(expected[1]) == 76
    wait_until(converges(scene, expected), "the kit on the flow server")
    keycloak = scene.graph()[0][scene.node("bp-keycloak")]
    assert keycloak["flowId"] == scene.flow_id
    assert keycloak["meta"]["slot"] == "30"
    assert keycloak["meta"]["namespace"] == scene.namespace
    assert isinstance(keycloak["startedAt"], int)


def shown(scene: Scene, node: str, status: str, reason: str) -> Callable[[], bool]:
    def check() -> bool:
        current = scene.graph()[0].get(node)
        return (
            current is not None
            and current["status"] == status
            and current["meta"].get("readyReason") == reason
        )

    return check


def test_depends_on_edited_and_release_deleted(scene: Scene) -> None:
    scene.release("a")
    scene.release("b")
    scene.release("c", depends_on=("a",))
    scene.adapter()
    r = scene.region
    base_nodes = {(r, r, "pending", None, r)} | {
        (f"{r}/{n}", n, "pending", n, r) for n in ("a", "b", "c")
    }
    contains = {(f"{r}/{n}", r, "contains", None) for n in ("a", "b", "c")}
    dep_a = (f"{r}/a", f"{r}/c", "finish-to-start", "on-success")
    dep_b = (f"{r}/b", f"{r}/c", "finish-to-start", "on-success")
    wait_until(converges(scene, (base_nodes, contains | {dep_a})), "a -> c")

    current = scene.admin.get(HELMRELEASE, scene.namespace, "c")
    current["spec"]["dependsOn"] = [{"name": "b"}]
    scene.admin.replace(current)
    wait_until(converges(scene, (base_nodes, contains | {dep_b})), "a -> c replaced by b -> c")

    scene.admin.delete(HELMRELEASE, scene.namespace, "c")
    remaining = {row for row in base_nodes if row[1] != "c"}
    wait_until(
        converges(scene, (remaining, {(f"{r}/{n}", r, "contains", None) for n in ("a", "b")})),
        "c and its edges gone",
    )


def test_recovers_when_the_apiserver_is_killed_and_restarted(scene: Scene) -> None:
    scene.release("a")
    adapter = scene.adapter({"WATCH_INACTIVITY_TIMEOUT": "10s"})
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    scene.cluster.kill_apiserver()
    time.sleep(3)
    scene.cluster.start_apiserver()
    scene.ready("a", "True", "InstallSucceeded")
    scene.release("b", depends_on=("a",))
    wait_until(
        lambda: (
            scene.statuses()
            == {scene.region: "pending", scene.node("a"): "succeeded", scene.node("b"): "pending"}
            and (scene.node("a"), scene.node("b"), "finish-to-start") in scene.graph()[1]
        ),
        "changes made after the restart",
    )
    assert adapter.proc.poll() is None


LEASE_DEFAULTS = {
    "LEASE_DURATION": "15s",
    "LEASE_RENEW_DEADLINE": "10s",
    "LEASE_RETRY_PERIOD": "2s",
}
HANDOVER_BOUND = 15 + 2 + 5
"""Seconds: lease duration + a retry period + 5 s, with the default lease timings."""


@pytest.mark.parametrize(
    ("election", "heal_within"),
    [({"LEADER_ELECTION": "false"}, 10), ({"LEADER_ELECTION": "true"}, HANDOVER_BOUND)],
    ids=["single-copy", "leader-election"],
)
def test_an_apiserver_away_for_three_deadlines_keeps_liveness_and_heals_promptly(
    scene: Scene, election: dict[str, str], heal_within: float
) -> None:
    scene.release("a")
    lease = scene.lease_env(**LEASE_DEFAULTS)
    adapter = scene.adapter({"WATCH_INACTIVITY_TIMEOUT": "2s", **lease, **election})
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    health = f"http://127.0.0.1:{adapter.health_port}"

    scene.cluster.kill_apiserver()
    live: list[int] = []
    away_until = time.monotonic() + 3 * 2 + 1
    while time.monotonic() < away_until:
        live.append(adapter.probe("/healthz"))
        time.sleep(0.5)
    status, body = http_get(f"{health}/readyz")
    scene.cluster.start_apiserver()
    changed = time.monotonic()
    scene.ready("a", "False", "UpgradeFailed")

    assert set(live) == {200}
    assert status == 503
    assert "API server unreachable" in json.loads(body)["failures"][0]
    wait_until(
        lambda: scene.statuses().get(scene.node("a")) == "failed",
        "a change made after the API server returned",
        timeout=heal_within,
    )
    assert time.monotonic() - changed < heal_within
    wait_until(lambda: adapter.probe("/readyz") == 200, "ready again")


def test_watch_expiry_relists_and_reports_the_gap(scene: Scene) -> None:
    for name in ("keep", "gone", "moving"):
        scene.release(name)
    with TcpProxy(scene.cluster.port) as proxy:
        kubeconfig = scene.cluster.write_kubeconfig(scene.workdir / "proxied", server_url=proxy.url)
        adapter = scene.adapter(kubeconfig=kubeconfig)
        wait_until(lambda: len(scene.graph()[0]) == 4, "three releases shown")
        expired_before = adapter.metric("flux_adapter_relists_total", reason="expired")
        proxy.cut()
        scene.admin.delete(HELMRELEASE, scene.namespace, "gone")
        scene.ready("moving", "True", "InstallSucceeded")
        for i in range(3):  # move the store's revision on so compaction passes the adapter's
            scene.admin.create_namespace(f"{scene.namespace}-pad{i}")
        time.sleep(12)  # two compaction intervals of the local cluster
        proxy.restore()
        wait_until(
            lambda: (
                scene.statuses()
                == {
                    scene.region: "pending",
                    scene.node("keep"): "pending",
                    scene.node("moving"): "succeeded",
                }
            ),
            "the delete and update made while cut off",
        )
        assert (scene.node("gone"), scene.region, "contains") not in scene.graph()[1]
        assert adapter.metric("flux_adapter_relists_total", reason="expired") > expired_before


def test_silent_stall_is_recovered_within_the_inactivity_deadline(scene: Scene) -> None:
    scene.release("a")
    with TcpProxy(scene.cluster.port) as proxy:
        kubeconfig = scene.cluster.write_kubeconfig(scene.workdir / "proxied", server_url=proxy.url)
        adapter = scene.adapter({"WATCH_INACTIVITY_TIMEOUT": "5s"}, kubeconfig=kubeconfig)
        wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
        restarts = adapter.metric("flux_adapter_watch_restarts_total", resource="HelmRelease")
        assert proxy.stall_current() >= 1
        stalled = time.monotonic()
        scene.ready("a", "True", "InstallSucceeded")
        wait_until(lambda: scene.statuses().get(scene.node("a")) == "succeeded", "a succeeded")
        assert time.monotonic() - stalled < 5 + 10
        assert (
            adapter.metric("flux_adapter_watch_restarts_total", resource="HelmRelease") > restarts
        )
        assert adapter.probe("/healthz") == 200


def test_flow_server_restarted_empty_is_restored_within_one_resync(scene: Scene) -> None:
    scene.release("a")
    scene.release("b", depends_on=("a",))
    scene.adapter({"RESYNC_INTERVAL": "3s"})
    r = scene.region
    expected = (
        {
            (r, r, "pending", None, r),
            (f"{r}/a", "a", "pending", "a", r),
            (f"{r}/b", "b", "pending", "b", r),
        },
        {
            (f"{r}/a", r, "contains", None),
            (f"{r}/b", r, "contains", None),
            (f"{r}/a", f"{r}/b", "finish-to-start", "on-success"),
        },
    )
    wait_until(converges(scene, expected), "graph before the restart")
    scene.flow.restart()
    # No check that the server is empty now: following the flow's stream, the
    # adapter may already be re-sending (a lower first number means a lost flow).
    restarted = time.monotonic()
    wait_until(converges(scene, expected), "graph restored after the restart", timeout=30)
    assert time.monotonic() - restarted < 3 + 10


RING = 128
"""A small ring, so another poster turns it over in seconds; the margin is 32 envelopes."""


def test_a_release_survives_ring_turnovers_caused_by_another_poster(scene: Scene) -> None:
    flow = FlowServerProcess(scene.workdir, ring_size=RING).start()
    try:
        ring_scene = dataclasses.replace(scene, flow=flow)
        ring_scene.release("a")
        ring_scene.release("b", depends_on=("a",))
        adapter = ring_scene.adapter(
            {"FLOW_SERVER_RING_CAPACITY": str(RING), "RESYNC_INTERVAL": "1h"}
        )
        r = scene.region
        edges = {
            (f"{r}/a", r, "contains", None),
            (f"{r}/b", r, "contains", None),
            (f"{r}/a", f"{r}/b", "finish-to-start", "on-success"),
        }
        nodes = {
            (r, r, "pending", None, r),
            (f"{r}/a", "a", "pending", "a", r),
            (f"{r}/b", "b", "pending", "b", r),
        }
        wait_until(converges(ring_scene, (nodes, edges)), "the graph on the flow server")

        # Another region posts one node per envelope, 20 a second, for three
        # turnovers of the ring; the graph is read after every one of them.
        for index in range(3 * RING):
            other = {
                "id": f"other/app-{index % 7}",
                "flowId": scene.flow_id,
                "label": "app",
                "status": "running",
            }
            seq = flow.post(scene.flow_id, {"type": "upsert-nodes", "nodes": [other]})
            assert rows(ring_scene) == (nodes, edges), f"a hole after envelope {seq}"
            time.sleep(0.05)

        assert adapter.metric("flux_adapter_ring_refreshed_keys_total", kind="node") >= 3 * 2
        assert adapter.metric("flux_adapter_ring_refreshed_keys_total", kind="edge") >= 3 * 2
        # The first check, and the two probes that find the ring as large as configured.
        assert adapter.metric("flux_adapter_resyncs_total") == 3
    finally:
        flow.stop()


def test_missing_rbac_is_logged_and_recovers_once_granted(scene: Scene) -> None:
    scene.release("a")
    kubeconfig = scene.cluster.write_kubeconfig(scene.workdir / "alice", user="alice")
    adapter = scene.adapter(kubeconfig=kubeconfig)
    denied = wait_until(
        lambda: [e for e in adapter.log_events() if e.get("event") == "rbac_denied"],
        "rbac_denied logged",
    )
    assert denied[0]["missing"] in {
        "list helmreleases.helm.toolkit.fluxcd.io",
        "list helmcharts.source.toolkit.fluxcd.io",
    }
    assert adapter.probe("/healthz") == 200
    assert adapter.probe("/readyz") == 503
    for resources, group in (
        ("helmreleases", "helm.toolkit.fluxcd.io"),
        ("helmcharts", "source.toolkit.fluxcd.io"),
    ):
        scene.admin.grant(
            "alice",
            resources=[resources],
            verbs=["list", "watch"],
            api_groups=[group],
            namespace=scene.namespace,
        )
    wait_until(lambda: adapter.probe("/readyz") == 200, "ready once granted")
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown once granted")
    assert adapter.proc.poll() is None


def test_leader_election_hands_over_when_the_leader_is_killed(scene: Scene) -> None:
    scene.release("a")
    lease = scene.lease_env(LEASE_DURATION="4s", LEASE_RENEW_DEADLINE="3s", LEASE_RETRY_PERIOD="1s")
    first = scene.adapter(lease | {"POD_NAME": "pod-1"}, name="pod-1")
    second = scene.adapter(lease | {"POD_NAME": "pod-2"}, name="pod-2")
    pair = [first, second]
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    time.sleep(2)
    leaders = [p for p in pair if p.metric("flux_adapter_leader") == 1]
    assert len(leaders) == 1
    leader = leaders[0]
    standby = second if leader is first else first
    assert standby.metric("flux_adapter_envelopes_total", outcome="acked") == 0
    assert leader.metric("flux_adapter_envelopes_total", outcome="acked") > 0

    leader.signal(signal.SIGKILL)
    killed = time.monotonic()
    scene.ready("a", "True", "InstallSucceeded")
    scene.release("b")
    wait_until(
        lambda: (
            scene.statuses()
            == {scene.region: "pending", scene.node("a"): "succeeded", scene.node("b"): "pending"}
        ),
        "the standby posts what changed while it took over",
    )
    assert time.monotonic() - killed < 4 + 10
    assert standby.metric("flux_adapter_leader") == 1


def test_sigterm_mid_burst_flushes_and_exits_zero(scene: Scene) -> None:
    names = [f"r{i}" for i in range(5)]
    for name in names:
        scene.release(name)
    adapter = scene.adapter({"EMIT_INTERVAL": "4s", "SHUTDOWN_TIMEOUT": "10s"})
    wait_until(lambda: len(scene.graph()[0]) == 6, "five releases shown")
    before = adapter.metric(
        "flux_adapter_watch_events_total", resource="HelmRelease", type="MODIFIED"
    )
    for name in names:
        scene.ready(name, "True", "InstallSucceeded")
    wait_until(
        lambda: (
            adapter.metric(
                "flux_adapter_watch_events_total", resource="HelmRelease", type="MODIFIED"
            )
            >= before + len(names)
        ),
        "the burst reached the adapter",
    )
    assert any(status == "pending" for status in scene.statuses().values())
    adapter.signal(signal.SIGTERM)
    assert adapter.wait(30) == 0
    assert scene.statuses() == {scene.region: "succeeded"} | {
        scene.node(n): "succeeded" for n in names
    }


def test_a_release_with_large_values_arrives_on_the_open_watch(scene: Scene) -> None:
    scene.release("a")
    adapter = scene.adapter()
    wait_until(lambda: scene.node("a") in scene.graph()[0], "a shown")
    relists = adapter.metric("flux_adapter_relists_total", resource="HelmRelease")
    values = {f"dashboard-{i}": "x" * 1000 for i in range(800)}  # an 800 KB watch event

    scene.release("bp-kube-prometheus-stack", values=values)
    scene.ready("bp-kube-prometheus-stack", "True", "InstallSucceeded")

    node = scene.node("bp-kube-prometheus-stack")
    wait_until(lambda: scene.statuses().get(node) == "succeeded", "the large release shown")
    assert adapter.metric("flux_adapter_relists_total", resource="HelmRelease") == relists
    assert adapter.metric("flux_adapter_skipped_objects_total") == 0


HOSTILE_TOKEN = "e2e/Hostile+token=with&odd-chars-42"

MET: dict[str, Callable[[Any], bool]] = {
    "huge_seq": lambda a: a.metric("flux_adapter_bad_answers_total", operation="post") > 0,
    "superscript_id": lambda a: a.metric("flux_adapter_bad_answers_total", operation="stream") > 0,
    "deep_nesting": lambda a: a.metric("flux_adapter_bad_answers_total", kind="too_deep") > 0,
    "huge_snapshot": lambda a: a.metric("flux_adapter_bad_answers_total", kind="too_large") > 0,
    "huge_error": lambda a: a.metric("flux_adapter_post_retries_total") >= 2,
    "alternating_ids": lambda a: a.metric("flux_adapter_bad_answers_total", kind="seq") > 0,
    "echo_token": lambda a: a.metric("flux_adapter_post_retries_total") >= 2,
}
"""When the adapter has met each attack of the fake's hostile mode."""


@pytest.mark.parametrize("attack", list(MET))
def test_a_hostile_flow_server_is_outlived_and_nothing_secret_is_logged(
    scene: Scene, attack: str
) -> None:
    token_file = scene.workdir / "token"
    token_file.write_text(HOSTILE_TOKEN + "\n")
    scene.release("a")
    adapter = scene.adapter(
        {
            "FLOW_SERVER_TOKEN_FILE": str(token_file),
            "FLOW_SERVER_SNAPSHOT_LIMIT": "2MiB",
            "RESYNC_INTERVAL": "1s",
            "LOG_LEVEL": "debug",
        }
    )
    wait_until(lambda: scene.node("a") in scene.graph()[0], "synced before the attack")

    scene.flow.attack(attack)
    scene.release("b")
    wait_until(lambda: MET[attack](adapter), f"the adapter met {attack}", timeout=30)
    time.sleep(1.0)
    assert adapter.proc.poll() is None
    assert adapter.probe("/healthz") == 200
    assert adapter.probe("/readyz") == 200

    scene.flow.attack(None)
    scene.release("c")
    expected = {scene.region, scene.node("a"), scene.node("b"), scene.node("c")}
    wait_until(lambda: set(scene.graph()[0]) == expected, "the graph repaired", timeout=60)

    logged = adapter.log.read_text(errors="replace")
    assert not [e for e in adapter.log_events() if e.get("event") == "task_failed"]
    raw = HOSTILE_TOKEN.encode()
    forms = [HOSTILE_TOKEN, quote(HOSTILE_TOKEN, safe=""), base64.b64encode(raw).decode()]
    assert [form for form in forms if form in logged] == []
