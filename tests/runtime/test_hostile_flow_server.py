"""The whole process against a flow server that attacks it, one way at a time (issue 25).

Each attack of the fake's hostile mode is met by the adapter for a while;
afterwards the process is alive and ready, no supervised loop failed, the
graph is right once the server behaves, and no form of the bearer token
reached the log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import aiohttp
import pytest

from flux_adapter.kube.resources import HELM_RELEASES
from flux_adapter.observe.logs import configure_logging
from flux_adapter.observe.metrics import Metrics
from flux_adapter.observe.redact import MASK
from flux_adapter.runtime.app import Adapter
from flux_adapter.runtime.settings import Settings
from tests.conftest import write_kubeconfig
from tests.fakes.flow_server import FlowServer
from tests.fakes.kube_api import FakeKubeApi
from tests.support import eventually
from tests.support.objects import SUCCEEDED, helm_release

REGION = "eu-1"
FLOW = "flow-1"
TOKEN = "hostile/Token+with=odd&chars-0123456789"


@dataclass(frozen=True)
class Attack:
    name: str
    met: Callable[[Metrics], bool]
    """The adapter has met the attack (beyond the server having made it)."""
    settings: dict[str, Any] = field(default_factory=dict)


def bad(operation: str, kind: str) -> Callable[[Metrics], bool]:
    labels = {"operation": operation, "kind": kind}
    return lambda metrics: metrics.value("flux_adapter_bad_answers_total", labels) > 0


def retried(metrics: Metrics) -> bool:
    return metrics.value("flux_adapter_post_retries_total") >= 2


ATTACKS = [
    Attack("huge_seq", bad("post", "seq")),
    Attack("superscript_id", bad("stream", "seq")),
    # The POST's answer is over its limit before its depth is looked at.
    Attack(
        "deep_nesting", lambda m: bad("post", "too_large")(m) and bad("snapshot", "too_deep")(m)
    ),
    Attack(
        "huge_snapshot",
        bad("snapshot", "too_large"),
        settings={"flow_server_snapshot_limit": "2MiB"},
    ),
    Attack("huge_error", retried),
    Attack("alternating_ids", bad("stream", "seq")),
    Attack("echo_token", retried),
]


def settings(flow: FlowServer, token_file: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "flow_server_url": flow.url,
        "flow_server_token_file": str(token_file),
        "flow_id": FLOW,
        "region_key": REGION,
        "health_listen_addr": "127.0.0.1:0",
        "leader_election": False,
        "emit_interval": 0.05,
        "resync_interval": 0.5,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def peers(tmp_path: Path) -> AsyncIterator[tuple[FakeKubeApi, FlowServer, Path, Path]]:
    kube = FakeKubeApi()
    await kube.start()
    flow = FlowServer()
    await flow.start()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    yield kube, flow, write_kubeconfig(tmp_path / "kubeconfig", kube.url), token_file
    flow.behave()
    await flow.close()
    await kube.close()


@pytest.fixture
def log_lines() -> io.StringIO:
    out = io.StringIO()
    configure_logging("debug", "json", out)
    return out


async def probe(adapter: Adapter, path: str) -> int:
    health = adapter.health
    if health is None or health.port is None:
        return 0
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{health.port}{path}") as resp,
    ):
        await resp.read()
        return resp.status


def nodes_on(flow: FlowServer) -> dict[str, str]:
    snap = flow.snapshot(FLOW) or {}
    return {node["id"]: node["status"] for node in snap.get("nodes", [])}


def token_forms() -> list[str]:
    raw = TOKEN.encode()
    return [
        TOKEN,
        f"Bearer {TOKEN}",
        quote(TOKEN, safe=""),
        quote_plus(TOKEN),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
    ]


@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
async def test_the_adapter_outlives_the_attack_and_repairs_the_graph_without_leaking(
    attack: Attack,
    peers: tuple[FakeKubeApi, FlowServer, Path, Path],
    log_lines: io.StringIO,
) -> None:
    kube, flow, kubeconfig, token_file = peers
    kube.create(HELM_RELEASES, helm_release("a", ready=SUCCEEDED))
    adapter = Adapter(settings(flow, token_file, **attack.settings), kubeconfig=str(kubeconfig))
    task = asyncio.create_task(adapter.run())
    try:
        await eventually(lambda: f"{REGION}/a" in nodes_on(flow), "synced before the attack")

        flow.attack = attack.name
        flow.end_streams()
        kube.create(HELM_RELEASES, helm_release("b", ready=SUCCEEDED))
        await eventually(lambda: attack.met(adapter.metrics), f"the adapter met {attack.name}")
        await asyncio.sleep(1.0)

        assert not task.done()
        assert await probe(adapter, "/healthz") == 200
        assert await probe(adapter, "/readyz") == 200

        flow.behave()
        kube.create(HELM_RELEASES, helm_release("c", ready=SUCCEEDED))
        expected = {
            REGION: "succeeded",
            f"{REGION}/a": "succeeded",
            f"{REGION}/b": "succeeded",
            f"{REGION}/c": "succeeded",
        }
        await eventually(lambda: nodes_on(flow) == expected, "the graph repaired", deadline=30)
        assert not task.done()
    finally:
        adapter.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)

    logged = log_lines.getvalue()
    assert '"task_failed"' not in logged
    assert [form for form in token_forms() if form in logged] == []


async def test_a_refusal_echoing_the_token_is_logged_with_every_form_of_it_masked(
    peers: tuple[FakeKubeApi, FlowServer, Path, Path], log_lines: io.StringIO
) -> None:
    kube, flow, kubeconfig, token_file = peers
    kube.create(HELM_RELEASES, helm_release("a", ready=SUCCEEDED))
    flow.attack = "echo_token"
    adapter = Adapter(settings(flow, token_file), kubeconfig=str(kubeconfig))
    task = asyncio.create_task(adapter.run())
    try:
        await eventually(lambda: retried(adapter.metrics), "refused twice")
    finally:
        adapter.request_stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)

    refusals = [line for line in log_lines.getvalue().splitlines() if "forbidden:" in line]
    assert refusals
    assert all(f"token {MASK}" in line for line in refusals)
    assert [form for form in token_forms() if form in log_lines.getvalue()] == []
