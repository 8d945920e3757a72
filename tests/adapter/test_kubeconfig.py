"""Which cluster, as whom: resolved from kubeconfigs and the service account as kubectl does."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from flux_adapter.kubeconfig import (
    IN_CLUSTER,
    ExecPlugin,
    KubeConfigError,
    config_source,
    load_access,
)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def single(path: Path, *, context: str = "", user: str = "token: t", cluster: str = "") -> str:
    return write(
        path,
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        f"contexts:\n- name: dev\n  context: {{cluster: c, user: u{context}}}\n"
        f"clusters:\n- name: c\n  cluster: {{server: 'https://10.0.0.1:6443'{cluster}}}\n"
        f"users:\n- name: u\n  user: {{{user}}}\n",
    )


def test_explicit_kubeconfig_wins_even_in_a_pod() -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/env/config"}
    assert config_source("/given/config", environ) == "/given/config"


def test_in_a_pod_the_service_account_beats_kubeconfig() -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBECONFIG": "/env/config"}
    assert config_source(None, environ) == IN_CLUSTER


def test_outside_a_pod_kubeconfig_then_home() -> None:
    assert config_source(None, {"KUBECONFIG": "/env/config"}) == "/env/config"
    assert config_source(None, {}) == str(Path.home() / ".kube" / "config")


def test_the_current_context_names_server_user_and_namespace(tmp_path: Path) -> None:
    path = single(
        tmp_path / "config",
        context=", namespace: team-a",
        cluster=f", certificate-authority-data: {b64(PEM)}, tls-server-name: api.internal",
    )
    access = load_access(path, environ={})
    assert access.server == "https://10.0.0.1:6443"
    assert access.namespace == "team-a"
    assert access.token == "t"
    assert access.ca_data == PEM
    assert access.tls_server_name == "api.internal"
    assert not access.insecure


def test_a_context_without_a_namespace_means_default(tmp_path: Path) -> None:
    assert load_access(single(tmp_path / "config"), environ={}).namespace == "default"


def test_the_first_file_of_a_kubeconfig_list_wins_and_missing_members_are_skipped(
    tmp_path: Path,
) -> None:
    first = write(
        tmp_path / "first",
        "current-context: mine\n"
        "contexts: [{name: mine, context: {cluster: c, user: u, namespace: first}}]\n"
        "users: [{name: u, user: {token: from-first}}]\n",
    )
    second = single(tmp_path / "second", user="token: from-second")
    missing = str(tmp_path / "missing")
    access = load_access(None, environ={"KUBECONFIG": f"{missing}:{first}:{second}"})
    assert access.namespace == "first"
    assert access.token == "from-first"
    assert access.server == "https://10.0.0.1:6443", "the cluster comes from the second file"


def test_relative_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    path = single(
        tmp_path / "config",
        user="client-certificate: certs/me.crt, client-key: /abs/me.key, tokenFile: tok",
        cluster=", certificate-authority: certs/ca.crt",
    )
    access = load_access(path, environ={})
    assert access.client_cert_file == tmp_path / "certs" / "me.crt"
    assert access.client_key_file == Path("/abs/me.key")
    assert access.ca_file == tmp_path / "certs" / "ca.crt"
    assert access.token_file == tmp_path / "tok"


def test_an_exec_plugin_is_read_with_its_arguments_and_environment(tmp_path: Path) -> None:
    path = single(
        tmp_path / "config",
        user=(
            "exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, "
            "args: [eks, get-token], env: [{name: AWS_PROFILE, value: prod}]}"
        ),
    )
    assert load_access(path, environ={}).exec_plugin == ExecPlugin(
        command="aws",
        args=("eks", "get-token"),
        env=(("AWS_PROFILE", "prod"),),
        api_version="client.authentication.k8s.io/v1beta1",
    )


def test_insecure_skip_tls_verify_is_honoured(tmp_path: Path) -> None:
    path = single(tmp_path / "config", cluster=", insecure-skip-tls-verify: true")
    assert load_access(path, environ={}).insecure


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("current-context: ''\n", "no current-context"),
        ("current-context: x\ncontexts: []\n", "no context named 'x'"),
        (
            "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
            "clusters: [{name: c, cluster: {server: '10.0.0.1:6443'}}]\n",
            "no http(s) server URL",
        ),
        ("- just\n- a list\n", "not a kubeconfig mapping"),
        ("{unclosed\n", "is not YAML"),
    ],
)
def test_an_unusable_kubeconfig_says_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "config", text)
    with pytest.raises(KubeConfigError) as caught:
        load_access(path, environ={})
    assert problem in caught.value.problem
    assert caught.value.source == path


def test_legacy_auth_providers_are_refused_with_the_alternative(tmp_path: Path) -> None:
    path = single(tmp_path / "config", user="auth-provider: {name: gcp}")
    with pytest.raises(KubeConfigError, match="exec credential plugin"):
        load_access(path, environ={})


def test_data_that_is_not_base64_is_an_error(tmp_path: Path) -> None:
    path = single(tmp_path / "config", cluster=", certificate-authority-data: '***'")
    with pytest.raises(KubeConfigError, match="certificate-authority-data is not base64"):
        load_access(path, environ={})


def service_account(tmp_path: Path, namespace: str = "platform\n") -> Path:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("projected")
    (sa / "ca.crt").write_text(PEM)
    (sa / "namespace").write_text(namespace)
    return sa


def test_in_a_pod_the_service_account_is_used(tmp_path: Path) -> None:
    sa = service_account(tmp_path)
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    access = load_access(environ=environ, service_account_dir=sa)
    assert access.server == "https://10.96.0.1:443"
    assert access.namespace == "platform"
    assert access.token_file == sa / "token"
    assert access.ca_file == sa / "ca.crt"
    assert access.token is None, "the file is read per request, as the kubelet rotates it"


def test_an_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    sa = service_account(tmp_path)
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert load_access(environ=environ, service_account_dir=sa).server == "https://[fd00::1]:443"


def test_a_pod_without_a_mounted_token_is_an_error_naming_the_file(tmp_path: Path) -> None:
    sa = service_account(tmp_path)
    (sa / "token").unlink()
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with pytest.raises(KubeConfigError, match=str(sa / "token")):
        load_access(environ=environ, service_account_dir=sa)


def test_the_access_repr_holds_no_secret(tmp_path: Path) -> None:
    path = single(tmp_path / "config", user="token: s3cr3t, username: me, password: hunter2")
    text = repr(load_access(path, environ={}))
    assert "s3cr3t" not in text
    assert "hunter2" not in text
