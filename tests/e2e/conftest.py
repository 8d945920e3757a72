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
    from tests.e2e.scene import Scene


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
