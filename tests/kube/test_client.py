"""The API client: it reaches the server as the kubeconfig says, and no request goes untimed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from flux_adapter.kube.client import CredentialsError
from flux_adapter.kube.connect import api_client
from flux_adapter.kube.resources import HELM_RELEASES
from flux_adapter.kube.source import KubeConfigError
from tests.conftest import write_kubeconfig
from tests.fakes.kube_api import FakeKubeApi


async def test_client_from_kubeconfig_lists_from_the_server(
    tmp_path: Path, kube_api: FakeKubeApi
) -> None:
    path = write_kubeconfig(tmp_path / "config", kube_api.url)
    async with await api_client(environ={"KUBECONFIG": str(path)}) as client:
        status, body = await client.fetch("GET", HELM_RELEASES.path("flux-system"))
    assert status == 200
    assert json.loads(body)["kind"] == "HelmReleaseList"


async def test_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(KubeConfigError) as caught:
        await api_client(missing)
    assert missing in caught.value.source


@dataclass
class Echo:
    """A server that answers every request with the headers it was sent."""

    url: str
    seen: list[dict[str, str]]


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    seen: list[dict[str, str]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"kind": "Status", "path": request.path_qs})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield Echo(f"http://{host}:{port}", seen)
    await runner.cleanup()


async def test_each_request_carries_the_bearer_token_and_a_user_agent(
    tmp_path: Path, echo: Echo
) -> None:
    path = write_kubeconfig(tmp_path / "config", echo.url)
    async with await api_client(str(path)) as client:
        await client.fetch("GET", "/api")
    assert echo.seen[0]["Authorization"] == "Bearer not-a-secret"
    assert echo.seen[0]["User-Agent"].startswith("flux-adapter/")
    assert echo.seen[0]["Accept"] == "application/json"


async def test_a_server_url_with_a_path_prefix_is_kept(tmp_path: Path, echo: Echo) -> None:
    path = write_kubeconfig(tmp_path / "config", echo.url + "/k8s/clusters/c-1/")
    async with await api_client(str(path)) as client:
        _, body = await client.fetch("GET", "/apis/x/v1/things", params={"limit": "5"})
    assert json.loads(body)["path"] == "/k8s/clusters/c-1/apis/x/v1/things?limit=5"


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
                await asyncio.wait_for(client.fetch("GET", "/hang"), 15)
    finally:
        never.set()
        await fake.close()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    named_cert: Path
    named_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA; server certificates for 127.0.0.1 and for api.internal; a client CN=flux-adapter."""
    d = tmp_path_factory.mktemp("pki")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
    )  # fmt: skip
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
        ("named", "subjectAltName=DNS:api.internal"),
    ):
        cn = {"server": "127.0.0.1", "client": "flux-adapter", "named": "api.internal"}[name]
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
            "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
        )  # fmt: skip
        (d / f"{name}.ext").write_text(extension + "\n")
        _openssl(
            "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt"),
        )  # fmt: skip
    return Pki(
        ca=d / "ca.crt",
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        client_cert=d / "client.crt",
        client_key=d / "client.key",
        named_cert=d / "named.crt",
        named_key=d / "named.key",
    )


@contextlib.asynccontextmanager
async def _https(
    cert: Path, key: Path, client_ca: Path | None
) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTPS server on 127.0.0.1; with `client_ca` it demands a client certificate."""
    subjects: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(pair[0] for pair in (peer or {}).get("subject", ()))
        subjects.append(subject.get("commonName", ""))
        return web.json_response({"kind": "APIVersions"})

    context = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca) if client_ca else None
    )
    context.load_cert_chain(str(cert), str(key))
    context.verify_mode = ssl.CERT_REQUIRED if client_ca else ssl.CERT_NONE
    app = web.Application()
    app.router.add_get("/api", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"https://{host}:{port}", subjects
    finally:
        await runner.cleanup()


@pytest.fixture
async def mtls_server(pki: Pki) -> AsyncIterator[tuple[str, list[str]]]:
    async with _https(pki.server_cert, pki.server_key, pki.ca) as served:
        yield served


@pytest.fixture
async def named_server(pki: Pki) -> AsyncIterator[str]:
    """A server whose certificate names api.internal only, not the address it listens on."""
    async with _https(pki.named_cert, pki.named_key, None) as (url, _):
        yield url


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _inline_client(pki: Pki, key: bytes | None = None) -> str:
    key_data = base64.b64encode(key).decode() if key is not None else _b64(pki.client_key)
    return f"client-certificate-data: {_b64(pki.client_cert)}, client-key-data: {key_data}"


async def _status_of_get_api(kubeconfig: Path) -> int:
    async with await api_client(str(kubeconfig)) as client:
        status, _ = await client.fetch("GET", "/api")
    return status


def _tls_kubeconfig(path: Path, server: str, cluster: str, user: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        f"clusters: [{{name: k, cluster: {{server: '{server}', {cluster}}}}}]\n"
        f"users: [{{name: u, user: {{{user}}}}}]\n"
    )
    return path


async def test_inline_ca_and_client_certificate_authenticate_over_tls(
    tmp_path: Path, pki: Pki, mtls_server: tuple[str, list[str]]
) -> None:
    url, subjects = mtls_server
    path = _tls_kubeconfig(
        tmp_path / "config",
        url,
        f"certificate-authority-data: {_b64(pki.ca)}",
        _inline_client(pki),
    )
    assert await _status_of_get_api(path) == 200
    assert subjects == ["flux-adapter"]


async def test_certificate_files_are_found_beside_the_kubeconfig(
    tmp_path: Path, pki: Pki, mtls_server: tuple[str, list[str]]
) -> None:
    url, subjects = mtls_server
    path = _tls_kubeconfig(
        pki.ca.parent / "config",
        url,
        "certificate-authority: ca.crt",
        "client-certificate: client.crt, client-key: client.key",
    )
    assert await _status_of_get_api(path) == 200
    assert subjects == ["flux-adapter"]


async def test_a_server_the_ca_did_not_sign_is_refused(
    tmp_path: Path, pki: Pki, mtls_server: tuple[str, list[str]]
) -> None:
    url, subjects = mtls_server
    other = tmp_path / "other-ca.crt"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
        "-keyout", str(tmp_path / "other.key"), "-out", str(other),
    )  # fmt: skip
    path = _tls_kubeconfig(
        tmp_path / "config",
        url,
        f"certificate-authority-data: {_b64(other)}",
        _inline_client(pki),
    )
    async with await api_client(str(path)) as client:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.fetch("GET", "/api")
    assert subjects == []


async def test_inline_key_material_leaves_no_file_behind(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = _tls_kubeconfig(
        tmp_path / "config",
        "https://127.0.0.1:1",
        f"certificate-authority-data: {_b64(pki.ca)}",
        _inline_client(pki),
    )
    client = await api_client(str(path))
    await client.close()
    assert list(scratch.iterdir()) == []


async def test_an_unreadable_client_key_is_a_configuration_error(tmp_path: Path, pki: Pki) -> None:
    path = _tls_kubeconfig(
        tmp_path / "config",
        "https://127.0.0.1:1",
        f"certificate-authority-data: {_b64(pki.ca)}",
        _inline_client(pki, key=b"not a key"),
    )
    with pytest.raises(KubeConfigError, match="TLS set-up failed"):
        await api_client(str(path))


async def test_the_client_repr_names_the_server_and_never_the_token(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config", "https://10.0.0.1:6443")
    async with await api_client(str(path)) as client:
        assert "10.0.0.1" in repr(client)
        assert "not-a-secret" not in repr(client)


async def test_tls_server_name_verifies_a_certificate_issued_for_another_name(
    tmp_path: Path, pki: Pki, named_server: str
) -> None:
    ca = f"certificate-authority-data: {_b64(pki.ca)}"
    plain = _tls_kubeconfig(tmp_path / "plain", named_server, ca, "token: t")
    named = _tls_kubeconfig(
        tmp_path / "named", named_server, ca + ", tls-server-name: api.internal", "token: t"
    )
    async with await api_client(str(plain)) as client:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await client.fetch("GET", "/api")
    assert await _status_of_get_api(named) == 200


def _config(
    path: Path, server: str, *, context: str, user: str, user_body: str, cluster: str = "k"
) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"current-context: {context}\n"
        f"clusters:\n- name: {cluster}\n  cluster:\n    server: {server}\n"
        f"users:\n- name: {user}\n  user:\n{user_body}"
        f"contexts:\n- name: {context}\n  context:\n    cluster: {cluster}\n    user: {user}\n"
    )
    return path


async def test_in_a_kubeconfig_list_the_first_files_current_context_is_used(
    tmp_path: Path, echo: Echo
) -> None:
    first = _config(tmp_path / "a", echo.url, context="a", user="ua", user_body="    token: a\n")
    last = _config(
        tmp_path / "b", echo.url, context="b", user="ub", user_body="    token: b\n", cluster="kb"
    )
    async with await api_client(environ={"KUBECONFIG": f"{first}:{last}"}) as client:
        await client.fetch("GET", "/api")
    assert echo.seen[0]["Authorization"] == "Bearer a"


async def test_a_token_file_wins_over_an_inline_token(tmp_path: Path, echo: Echo) -> None:
    (tmp_path / "token").write_text("from-the-file\n")
    body = f"    token: inline\n    tokenFile: {tmp_path / 'token'}\n"
    path = _config(tmp_path / "config", echo.url, context="c", user="u", user_body=body)
    async with await api_client(str(path)) as client:
        await client.fetch("GET", "/api")
    assert echo.seen[0]["Authorization"] == "Bearer from-the-file"


async def test_impersonation_is_refused_before_any_request(tmp_path: Path, echo: Echo) -> None:
    body = "    token: t\n    as: cluster-admin\n"
    path = _config(tmp_path / "config", echo.url, context="c", user="u", user_body=body)
    with pytest.raises(KubeConfigError, match="impersonates"):
        await api_client(str(path))
    assert echo.seen == []


async def test_in_a_pod_the_service_account_is_used(tmp_path: Path, pki: Pki) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("pod-token")
    (account / "ca.crt").write_bytes(pki.ca.read_bytes())
    (account / "namespace").write_text("team-a")
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    async with await api_client(
        environ=environ, service_account_dir=account, home=tmp_path
    ) as client:
        assert client.server == "https://10.96.0.1:443"
        assert client.namespace == "team-a"
        assert client.source.in_cluster


PLUGIN = """
import datetime, json, os, pathlib, sys, time
runs = pathlib.Path(sys.argv[1])
lifetime = float(sys.argv[2])
done = runs.read_text().splitlines() if runs.exists() else []
if os.environ.get("FAIL_AFTER") and len(done) >= int(os.environ["FAIL_AFTER"]):
    print("the identity provider is down", file=sys.stderr)
    sys.exit(3)
now = time.time()
expires = now + lifetime
runs.write_text("".join(line + "\\n" for line in done) + json.dumps([now, expires]) + "\\n")
stamp = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc)
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
print(json.dumps({
    "apiVersion": info["apiVersion"], "kind": "ExecCredential",
    "status": {"token": "tok-%d" % (len(done) + 1),
               "expirationTimestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
}))
"""


def _exec_kubeconfig(tmp_path: Path, server: str, lifetime: float, **env: str) -> Path:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    runs = tmp_path / "runs"
    env_lines = "".join(f"      - name: {k}\n        value: '{v}'\n" for k, v in env.items())
    body = (
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1\n"
        f"      command: {sys.executable}\n"
        f"      args: ['{script}', '{runs}', '{lifetime}']\n"
        + (f"      env:\n{env_lines}" if env else "")
    )
    return _config(tmp_path / "config", server, context="c", user="u", user_body=body)


def plugin_runs(tmp_path: Path) -> list[tuple[float, float]]:
    lines = (tmp_path / "runs").read_text().splitlines()
    return [(run, expires) for run, expires in (json.loads(line) for line in lines)]


def each_run_came_before_the_last_token_expired(runs: list[tuple[float, float]]) -> bool:
    return all(later[0] < earlier[1] for earlier, later in itertools.pairwise(runs))


async def test_an_exec_token_is_fetched_again_before_it_expires(tmp_path: Path, echo: Echo) -> None:
    path = _exec_kubeconfig(tmp_path, echo.url, lifetime=2.0)
    async with await api_client(str(path)) as client:
        for _ in range(15):
            await client.fetch("GET", "/api")
            await asyncio.sleep(0.3)
    runs = plugin_runs(tmp_path)
    assert len(runs) >= 3
    assert each_run_came_before_the_last_token_expired(runs)
    assert {seen["Authorization"] for seen in echo.seen} >= {"Bearer tok-1", "Bearer tok-2"}


async def test_an_idle_client_fetches_an_expiring_exec_token_ahead_of_time(
    tmp_path: Path, echo: Echo
) -> None:
    path = _exec_kubeconfig(tmp_path, echo.url, lifetime=2.0)
    async with await api_client(str(path)) as client:
        fresh = asyncio.create_task(client.keep_credentials_fresh())
        await asyncio.sleep(4.5)
        fresh.cancel()
    runs = plugin_runs(tmp_path)
    assert len(runs) >= 3
    assert each_run_came_before_the_last_token_expired(runs)


async def test_a_401_runs_the_plugin_again(tmp_path: Path) -> None:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        status = 401 if seen[-1] == "Bearer tok-1" else 200
        return web.json_response({"kind": "Status"}, status=status)

    fake = FakeKubeApi()
    fake.add_route("GET", "/who", answer)
    await fake.start()
    try:
        path = _exec_kubeconfig(tmp_path, fake.url, lifetime=3600.0)
        async with await api_client(str(path)) as client:
            assert (await client.fetch("GET", "/who"))[0] == 401
            assert (await client.fetch("GET", "/who"))[0] == 200
    finally:
        await fake.close()
    assert seen == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_plugin_that_fails_on_refresh_is_a_transient_credentials_error(
    tmp_path: Path, echo: Echo
) -> None:
    path = _exec_kubeconfig(tmp_path, echo.url, lifetime=0.5, FAIL_AFTER="1")
    async with await api_client(str(path)) as client:
        await asyncio.sleep(0.6)
        with pytest.raises(CredentialsError, match="identity provider is down"):
            await client.fetch("GET", "/api")
