"""Fixtures: fake API and flow servers, their clients, watch loops and emitter rigs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flux_adapter.informer.reflector import Watcher
from flux_adapter.informer.store import Store
from flux_adapter.kube.client import KubeApi
from flux_adapter.kube.connect import api_client
from flux_adapter.kube.resources import HELM_RELEASES, Resource
from flux_adapter.observe.metrics import Metrics
from flux_adapter.observe.redact import forget_secrets
from mapper import Graph
from tests.fakes.flow_server import FlowServer
from tests.fakes.kube_api import FakeKubeApi
from tests.support import REGION, RecordingSink
from tests.support.rig import Rig

FAST: dict[str, Any] = {
    "backoff_initial": 0.01,
    "backoff_cap": 0.05,
    "inactivity_timeout": 10.0,
    "request_timeout": 5.0,
}
"""Tunables that keep tests quick; each test overrides what it is about."""


@pytest.fixture(autouse=True)
def no_remembered_secrets() -> Iterator[None]:
    """The log redaction's secrets are the process's: each test starts without any."""
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
async def kube_api() -> AsyncIterator[FakeKubeApi]:
    fake = FakeKubeApi()
    await fake.start()
    yield fake
    await fake.close()


def write_kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: fake\n  cluster:\n    server: {server}\n"
        "users:\n"
        "- name: fake\n  user:\n    token: not-a-secret\n"
        "contexts:\n"
        "- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
        "current-context: fake\n"
    )
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, kube_api: FakeKubeApi) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", kube_api.url)


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[KubeApi]:
    client = await api_client(str(kubeconfig), request_timeout=5.0)
    yield client
    await client.close()


class Harness:
    """One graph and store fed by any number of watch loops against the fake."""

    def __init__(self, api: KubeApi, kube: FakeKubeApi) -> None:
        self.api = api
        self.kube = kube
        self.metrics = Metrics()
        self.sink = RecordingSink()
        self.graph = Graph(REGION, "flow-1")
        self.store = Store(self.graph, self.sink, self.metrics)
        self.tasks: list[asyncio.Task[Any]] = []

    def watcher(self, resource: Resource = HELM_RELEASES, **tunables: Any) -> Watcher:
        options = {"namespace": "flux-system", **FAST, **tunables}
        return Watcher(self.api, resource, self.store, self.metrics, **options)

    def start(self, resource: Resource = HELM_RELEASES, **tunables: Any) -> Watcher:
        watcher = self.watcher(resource, **tunables)
        self.tasks.append(asyncio.create_task(watcher.run()))
        return watcher

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.value(f"flux_adapter_{name}_total", labels)

    async def stop(self) -> list[BaseException]:
        """Cancel every loop; returns what any of them died of before that."""
        died = [t.exception() for t in self.tasks if t.done() and not t.cancelled()]
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return [err for err in died if err is not None]


@pytest.fixture
async def harness(api: KubeApi, kube_api: FakeKubeApi) -> AsyncIterator[Harness]:
    h = Harness(api, kube_api)
    yield h
    died = await h.stop()
    assert not died, f"a watch loop died during the test: {died!r}"


MakeServer = Callable[..., Awaitable[FlowServer]]
MakeRig = Callable[..., Rig]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Start fake flow servers with the given settings; all are closed after the test."""
    servers: list[FlowServer] = []

    async def make(**settings: Any) -> FlowServer:
        server = FlowServer(**settings)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def flow_server(make_server: MakeServer) -> FlowServer:
    return await make_server()


@pytest.fixture
async def make_rig(flow_server: FlowServer) -> AsyncIterator[MakeRig]:
    """Build emitter rigs (on `flow_server` unless told otherwise); all are stopped afterwards."""
    rigs: list[Rig] = []

    def make(server: FlowServer | None = None, **settings: Any) -> Rig:
        rig = Rig(server or flow_server, **settings)
        rigs.append(rig)
        return rig

    yield make
    flow_server.heal()
    await flow_server.accept()
    for rig in rigs:
        await rig.stop()


@pytest.fixture
def rig(make_rig: MakeRig) -> Rig:
    return make_rig()
