"""Fixtures for end-to-end tests against a real local kube-apiserver.

The cluster is built/started once per session. If the kube-apiserver binary
cannot be built or the cluster cannot start, every e2e test errors out with
the reason: these tests are never skipped.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# localcluster/ is dev tooling at the repository root, not an installed
# package: make it importable however pytest was started.
_REPO_ROOT = Path(__file__).resolve().parents[2]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

if TYPE_CHECKING:
    from localcluster import KubeClient, LocalCluster
    from localcluster.chartrepo import ChartRepository
    from localcluster.flux import FluxControllers
    from tests.e2e.flux_scene import FluxScene
    from tests.e2e.scene import Scene

TIMINGS: list[tuple[str, str, float]] = []
"""(test, what, seconds) for each transition a real-Flux scene waited for; printed at the end."""


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    from localcluster import ClusterError, LocalCluster

    local = LocalCluster()
    try:
        local.start()
    except ClusterError as exc:
        pytest.fail(f"local kube-apiserver unavailable: {exc}", pytrace=False)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def admin(cluster: LocalCluster) -> KubeClient:
    from localcluster import KubeClient

    client = KubeClient.for_cluster(cluster)
    client.apply_crds()
    return client


@pytest.fixture
def namespace(admin: KubeClient) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin.create_namespace(name)
    return name


@pytest.fixture
def scene(
    cluster: LocalCluster, admin: KubeClient, namespace: str, tmp_path: Path
) -> Iterator[Scene]:
    from tests.e2e.harness import FlowServerProcess
    from tests.e2e.scene import Scene

    flow = FlowServerProcess(tmp_path).start()
    suffix = uuid.uuid4().hex[:6]
    setup = Scene(namespace, f"e2e-{suffix}", f"flow-{suffix}", flow, admin, cluster, tmp_path, [])
    yield setup
    for adapter in setup.started:
        adapter.stop()
    flow.stop()
    for adapter in setup.started:
        print(f"--- {adapter.log.name}\n{adapter.log.read_text(errors='replace')[-6000:]}")


@pytest.fixture(scope="session")
def flux_controllers(cluster: LocalCluster, admin: KubeClient) -> Iterator[FluxControllers]:
    """source-controller and helm-controller for the session, reconciling only labelled objects."""
    from localcluster import ClusterError
    from localcluster.flux import FluxControllers
    from tests.e2e.flux_scene import SHARD

    controllers = FluxControllers(cluster, watch_label_selector=SHARD)
    try:
        controllers.start()
    except ClusterError as exc:
        pytest.fail(f"Flux controllers unavailable: {exc}", pytrace=False)
    try:
        yield controllers
    finally:
        controllers.stop()


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartRepository]:
    from localcluster.chartrepo import ChartRepository

    with ChartRepository(tmp_path_factory.mktemp("charts")) as repo:
        yield repo


@pytest.fixture
def flux(
    scene: Scene,
    flux_controllers: FluxControllers,
    chart_repo: ChartRepository,
    request: pytest.FixtureRequest,
) -> Iterator[FluxScene]:
    from tests.e2e.flux_scene import FluxScene

    setup = FluxScene(scene, chart_repo)
    setup.repository()
    yield setup
    for what, seconds in setup.timings:
        TIMINGS.append((request.node.name, what, seconds))
    for name, log in flux_controllers.logs.items():
        text = log.read_text(errors="replace")
        mine = [line for line in text.splitlines() if scene.namespace in line]
        print(f"--- {name} ({len(mine)} lines about {scene.namespace})")
        print("\n".join(mine[-40:]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("real Flux: seconds from the action to the adapter's node")
    for test, what, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f} s  {test}: {what}")
