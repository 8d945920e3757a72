"""Where the client's credentials come from, and that no request goes without a timeout."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from kubernetes_asyncio.client import CustomObjectsApi

from flux_adapter.kube import (
    IN_CLUSTER,
    KubeConfigError,
    api_client,
    config_source,
    default_namespace,
)
from flux_adapter.resources import HELM_RELEASES
from tests.adapter.conftest import write_kubeconfig
from tests.fakes.kube_api import FakeKubeApi


def test_explicit_kubeconfig_wins_even_in_a_pod() -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/env/config"}
    assert config_source("/given/config", environ) == "/given/config"


def test_in_a_pod_the_service_account_beats_kubeconfig() -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/env/config"}
    assert config_source(None, environ) == IN_CLUSTER


def test_outside_a_pod_kubeconfig_then_home() -> None:
    assert config_source(None, {"KUBECONFIG": "/env/config"}) == "/env/config"
    assert config_source(None, {}) == str(Path.home() / ".kube" / "config")


async def test_client_from_kubeconfig_reaches_the_server(
    tmp_path: Path, kube_api: FakeKubeApi
) -> None:
    path = write_kubeconfig(tmp_path / "config", kube_api.url)
    async with await api_client(environ={"KUBECONFIG": str(path)}) as client:
        listed = await CustomObjectsApi(client).list_namespaced_custom_object(
            HELM_RELEASES.group, HELM_RELEASES.version, "flux-system", HELM_RELEASES.plural
        )
    assert listed["kind"] == "HelmReleaseList"


async def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(KubeConfigError) as caught:
        await api_client(missing)
    assert caught.value.source == missing


async def test_a_request_without_its_own_timeout_gets_the_default(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    fake = FakeKubeApi()
    fake.add_route("GET", "/hang", hang)
    await fake.start()
    try:
        path = write_kubeconfig(tmp_path / "config", fake.url)
        async with await api_client(str(path), request_timeout=0.2) as client:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.call_api("/hang", "GET"), 15)
    finally:
        never.set()
        await fake.close()


def test_default_namespace_reads_the_pod_service_account_in_a_pod(tmp_path: Path) -> None:
    sa = tmp_path / "namespace"
    sa.write_text("platform\n")
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    assert default_namespace(environ=environ, service_account_file=sa) == "platform"


def test_default_namespace_follows_the_kubeconfig_context(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "contexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: team-a}\n"
        "- name: other\n  context: {cluster: c, user: u}\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\n"
        "users:\n- name: u\n  user: {token: t}\n"
    )
    assert default_namespace(str(config), environ={}) == "team-a"
    config.write_text(config.read_text().replace("current-context: dev", "current-context: other"))
    assert default_namespace(str(config), environ={}) == "default"
