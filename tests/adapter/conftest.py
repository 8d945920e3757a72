"""Fixtures: a running fake API server and a client configured for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flux_adapter.kube import TimedApiClient, api_client
from tests.fakes.kube_api import FakeKubeApi


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
async def api(kubeconfig: Path) -> AsyncIterator[TimedApiClient]:
    client = await api_client(str(kubeconfig), request_timeout=5.0)
    yield client
    await client.close()
