"""The assembled process in one event loop: fake API server and fake flow server as peers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
import structlog.testing

from flux_adapter.kube.resources import HELM_CHARTS, HELM_RELEASES
from flux_adapter.runtime.app import Adapter
from flux_adapter.runtime.settings import Settings
from tests.conftest import write_kubeconfig
from tests.fakes.flow_server import FlowServer
from tests.fakes.kube_api import FakeKubeApi
from tests.fakes.leases import FakeLeases
from tests.support import eventually
from tests.support.objects import SUCCEEDED, helm_release

REGION = "eu-1"
FLOW = "flow-1"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "flow_server_url": None,
        "flow_id": FLOW,
        "region_key": REGION,
        "health_listen_addr": "127.0.0.1:0",
        "leader_election": False,
        "emit_interval": 0.05,
        **overrides,
    }
    return Settings(**values)


class Running:
    """An Adapter's run() as a task, with its health endpoints at hand."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.task = asyncio.create_task(adapter.run())

    async def probe(self, path: str) -> int:
        health = self.adapter.health
        if health is None or health.port is None:
            return 0
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{health.port}{path}") as resp,
        ):
            await resp.read()
            return resp.status

    async def answer(self, path: str) -> Any:
        """The JSON body of a probe."""
        health = self.adapter.health
        assert health is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{health.port}{path}") as resp,
        ):
            return await resp.json()

    async def stop(self) -> int:
        self.adapter.request_stop()
        return await asyncio.wait_for(self.task, 30)


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[tuple[FakeKubeApi, FakeLeases, FlowServer, Path]]:
    kube = FakeKubeApi()
    leases = FakeLeases(kube)
    await kube.start()
    flow = FlowServer()
    await flow.start()
    yield kube, leases, flow, write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    await flow.close()
    await kube.close()


@pytest.fixture
async def start() -> AsyncIterator[Callable[[Adapter], Running]]:
    running: list[Running] = []

    def launch(adapter: Adapter) -> Running:
        run = Running(adapter)
        running.append(run)
        return run

    yield launch
    for run in running:
        if not run.task.done():
            run.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run.task


async def probe_until(run: Running, path: str, status: int, seconds: float = 10.0) -> bool:
    """Whether `path` answers `status` within `seconds`, polling as a kubelet would."""
    for _ in range(int(seconds / 0.05)):
        if await run.probe(path) == status:
            return True
        await asyncio.sleep(0.05)
    return False


def region_view(flow: FlowServer) -> dict[str, str]:
    snap = flow.snapshot(FLOW) or {}
    return {n["id"]: n["status"] for n in snap.get("nodes", [])}


async def test_dry_run_prints_the_graph_as_json_lines(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, _, _, kubeconfig = peers
    kube.create(HELM_RELEASES, helm_release("bp-cilium", ready=SUCCEEDED))
    kube.create(HELM_RELEASES, helm_release("bp-flux", depends_on=("bp-cilium",)))
    out = io.StringIO()
    run = start(Adapter(settings(), dry_run=True, kubeconfig=str(kubeconfig), stdout=out))
    await eventually(lambda: out.getvalue().count("\n") >= 3, "three envelopes printed")
    assert await run.stop() == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {
        "type": "upsert-nodes",
        "nodes": [
            {"id": REGION, "flowId": FLOW, "label": REGION, "status": "pending", "region": REGION}
        ],
    }
    nodes = {
        n["id"]: n["status"]
        for line in lines
        if line["type"] == "upsert-nodes"
        for n in line["nodes"]
    }
    assert nodes == {
        REGION: "pending",
        f"{REGION}/bp-cilium": "succeeded",
        f"{REGION}/bp-flux": "pending",
    }
    edges = {
        (r["fromId"], r["toId"], r["type"])
        for line in lines
        if line["type"] == "upsert-rels"
        for r in line["relationships"]
    }
    assert edges == {
        (f"{REGION}/bp-cilium", REGION, "contains"),
        (f"{REGION}/bp-flux", REGION, "contains"),
        (f"{REGION}/bp-cilium", f"{REGION}/bp-flux", "finish-to-start"),
    }


async def test_readiness_waits_for_both_first_lists_and_liveness_stays_up(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, _, flow, kubeconfig = peers
    kube.uninstall(HELM_CHARTS)
    kube.create(HELM_RELEASES, helm_release("a"))
    run = start(Adapter(settings(flow_server_url=flow.url), kubeconfig=str(kubeconfig)))
    await eventually(
        lambda: run.adapter.health is not None and run.adapter.health.port is not None, "health up"
    )
    await eventually(
        lambda: f"{REGION}" in region_view(flow), "region node posted before readiness"
    )
    assert await run.probe("/readyz") == 503
    assert await run.probe("/healthz") == 200
    assert f"{REGION}/a" not in region_view(flow)
    kube.install(HELM_CHARTS)
    ready = False
    for _ in range(300):
        if await run.probe("/readyz") == 200:
            ready = True
            break
        await asyncio.sleep(0.05)
    assert ready
    await eventually(lambda: f"{REGION}/a" in region_view(flow), "releases posted once ready")
    assert await run.stop() == 0


async def test_an_api_server_away_for_three_deadlines_fails_readiness_not_liveness(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, _, flow, kubeconfig = peers
    kube.create(HELM_RELEASES, helm_release("a"))
    run = start(
        Adapter(
            settings(flow_server_url=flow.url, watch_inactivity_timeout=0.5),
            kubeconfig=str(kubeconfig),
        )
    )
    await eventually(lambda: f"{REGION}/a" in region_view(flow), "synced")
    assert await probe_until(run, "/readyz", 200)

    await kube.refuse()
    live: list[int] = []
    for _ in range(30):  # 1.5 s: three inactivity deadlines
        live.append(await run.probe("/healthz"))
        await asyncio.sleep(0.05)
    assert set(live) == {200}
    assert await run.probe("/readyz") == 503
    why = await run.answer("/readyz")
    assert any("API server unreachable" in reason for reason in why["failures"])

    kube.create(HELM_RELEASES, helm_release("made-while-away"))
    await kube.accept()
    await eventually(
        lambda: f"{REGION}/made-while-away" in region_view(flow), "healed", deadline=10
    )
    # Both watches are back within the connect backoff's cap (4 s).
    assert await probe_until(run, "/readyz", 200)
    assert await run.stop() == 0


async def test_metrics_move_with_events_and_posts(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, _, flow, kubeconfig = peers
    run = start(Adapter(settings(flow_server_url=flow.url), kubeconfig=str(kubeconfig)))
    metrics = run.adapter.metrics
    await eventually(lambda: REGION in region_view(flow), "region posted")
    # Listed and watching: the release below arrives as a watch event, not in the LIST.
    assert await probe_until(run, "/readyz", 200)
    kube.create(HELM_RELEASES, helm_release("a", ready=SUCCEEDED))
    await eventually(lambda: f"{REGION}/a" in region_view(flow), "a posted")
    assert (
        metrics.value(
            "flux_adapter_watch_events_total", {"resource": "HelmRelease", "type": "ADDED"}
        )
        == 1
    )
    assert (
        metrics.value(
            "flux_adapter_relists_total", {"resource": "HelmRelease", "reason": "initial"}
        )
        == 1
    )
    # The fake server shows the node before the adapter has read its answer.
    await eventually(
        lambda: (
            metrics.value(
                "flux_adapter_envelopes_total", {"type": "upsert-nodes", "outcome": "acked"}
            )
            >= 2
        ),
        "the adapter counted both acknowledged envelopes",
    )
    assert metrics.value("flux_adapter_leader") == 1
    assert metrics.value("flux_adapter_last_successful_post_timestamp_seconds") > 0
    assert metrics.value("flux_adapter_change_to_ack_seconds_count") >= 1
    assert await run.stop() == 0


async def test_of_two_electing_adapters_one_posts_and_a_crash_hands_over_without_loss(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, leases, flow, kubeconfig = peers
    kube.create(HELM_RELEASES, helm_release("a"))
    lease = {
        "flow_server_url": flow.url,
        "leader_election": True,
        "pod_namespace": "flux-system",
        "lease_duration": 3.0,
        "lease_renew_deadline": 2.0,
        "lease_retry_period": 1.0,
        "lease_standby_retry_period": 1.0,
    }
    pair = [
        start(Adapter(settings(**lease, pod_name=name), kubeconfig=str(kubeconfig)))
        for name in ("pod-1", "pod-2")
    ]
    await eventually(lambda: f"{REGION}/a" in region_view(flow), "a posted by the leader")
    await asyncio.sleep(1.5)
    # Cold standby: between them the two copies hold one watch and made one LIST per resource.
    assert (kube.open_streams(HELM_RELEASES), kube.open_streams(HELM_CHARTS)) == (1, 1)
    assert (kube.count("list", HELM_RELEASES), kube.count("list", HELM_CHARTS)) == (1, 1)

    def acked(run: Running) -> float:
        return run.adapter.metrics.value(
            "flux_adapter_envelopes_total", {"type": "upsert-nodes", "outcome": "acked"}
        )

    leaders = [run for run in pair if run.adapter.metrics.value("flux_adapter_leader") == 1]
    assert len(leaders) == 1
    leader = leaders[0]
    standby = pair[1] if leader is pair[0] else pair[0]
    assert acked(standby) == 0
    assert leases.holder("flux-system", "flux-adapter") == leader.adapter.settings.pod_name

    leader.task.cancel()  # a crash: no flush, no release
    with contextlib.suppress(asyncio.CancelledError):
        await leader.task
    kube.update(HELM_RELEASES, helm_release("a", ready=SUCCEEDED))
    kube.create(HELM_RELEASES, helm_release("b"))
    await eventually(
        lambda: (
            region_view(flow)
            == {REGION: "pending", f"{REGION}/a": "succeeded", f"{REGION}/b": "pending"}
        ),
        "the standby posts what changed during the hand-over",
    )
    assert acked(standby) > 0
    assert kube.count("list", HELM_RELEASES) == 2, "the new leader listed on winning"
    assert await standby.probe("/readyz") == 200
    assert await standby.stop() == 0
    assert leases.holder("flux-system", "flux-adapter") is None


async def test_a_standby_is_ready_while_it_can_read_the_lease_and_holds_no_watch(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, leases, flow, kubeconfig = peers
    leases.put("flux-system", "flux-adapter", holder="the-leader-elsewhere", duration=3600)
    run = start(
        Adapter(
            settings(
                flow_server_url=flow.url,
                leader_election=True,
                pod_namespace="flux-system",
                lease_standby_retry_period=1.0,
            ),
            kubeconfig=str(kubeconfig),
        )
    )
    await eventually(lambda: leases.reads >= 2, "the standby reads the lease")
    assert await run.probe("/readyz") == 200
    assert await run.probe("/healthz") == 200
    assert kube.count("list") == 0
    assert kube.open_streams() == 0
    assert flow.posts() == []
    assert await run.stop() == 0


async def test_sigterm_mid_burst_flushes_before_exiting(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path], start: Callable[[Adapter], Running]
) -> None:
    kube, _, flow, kubeconfig = peers
    names = [f"r{i}" for i in range(5)]
    for name in names:
        kube.create(HELM_RELEASES, helm_release(name))
    run = start(
        Adapter(
            settings(flow_server_url=flow.url, emit_interval=3.0, shutdown_timeout=10.0),
            kubeconfig=str(kubeconfig),
        )
    )
    await eventually(lambda: len(region_view(flow)) == 6, "first flush")
    for name in names:
        kube.update(HELM_RELEASES, helm_release(name, ready=SUCCEEDED))
    metrics = run.adapter.metrics
    await eventually(
        lambda: (
            metrics.value(
                "flux_adapter_watch_events_total", {"resource": "HelmRelease", "type": "MODIFIED"}
            )
            == len(names)
        ),
        "the burst reached the adapter",
    )
    assert set(region_view(flow).values()) == {"pending"}
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(run.task, 30) == 0
    assert region_view(flow) == {REGION: "succeeded"} | {
        f"{REGION}/{n}": "succeeded" for n in names
    }


async def test_a_taken_health_port_fails_clearly_instead_of_running_unprobed(
    peers: tuple[FakeKubeApi, FakeLeases, FlowServer, Path],
) -> None:
    _, _, flow, kubeconfig = peers
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        adapter = Adapter(
            settings(flow_server_url=flow.url, health_listen_addr=f"127.0.0.1:{port}"),
            kubeconfig=str(kubeconfig),
        )
        with structlog.testing.capture_logs() as logs:
            assert await asyncio.wait_for(adapter.run(), 30) == 1
    assert [e["addr"] for e in logs if e["event"] == "health_listen_failed"] == [
        f"127.0.0.1:{port}"
    ]
    assert flow.snapshot(FLOW) is None
