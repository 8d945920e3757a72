"""Which credentials apply, and where the library is made to agree with kubectl (pure rules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flux_adapter.kube.source import (
    HOME_KUBECONFIG,
    IN_CLUSTER,
    KubeConfigError,
    Source,
    choose_source,
    context_namespace,
    first_current_context,
    prefer_token_file,
    uses_exec,
    vet,
)

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
SOURCE = Source("test", (Path("/k"),))


def home_with_config(tmp_path: Path) -> Path:
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("{}")
    return tmp_path


def test_the_flag_wins_over_kubeconfig_and_the_pod(tmp_path: Path) -> None:
    chosen = choose_source("/f", {"KUBECONFIG": "/k"}, in_cluster=True, home=tmp_path)
    assert chosen.paths == (Path("/f"),)


def test_kubeconfig_wins_over_the_pods_service_account(tmp_path: Path) -> None:
    chosen = choose_source(None, {"KUBECONFIG": "/a:/b", **IN_A_POD}, in_cluster=True)
    assert chosen.paths == (Path("/a"), Path("/b"))


def test_in_a_pod_without_kubeconfig_the_service_account_beats_the_home_file(
    tmp_path: Path,
) -> None:
    chosen = choose_source(None, {}, in_cluster=True, home=home_with_config(tmp_path))
    assert chosen.name == IN_CLUSTER
    assert chosen.in_cluster


def test_outside_a_pod_the_home_file_is_last(tmp_path: Path) -> None:
    chosen = choose_source(None, {}, in_cluster=False, home=home_with_config(tmp_path))
    assert chosen.name == HOME_KUBECONFIG


def test_with_nothing_at_all_the_error_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="no --kubeconfig, no KUBECONFIG"):
        choose_source(None, {}, in_cluster=False, home=tmp_path)


def doc(**fields: Any) -> tuple[Path, dict[str, Any]]:
    return Path("/k"), fields


def one_context(
    cluster: dict[str, Any] | None = None, user: dict[str, Any] | None = None, **context: Any
) -> list[tuple[Path, dict[str, Any]]]:
    return [
        doc(
            **{
                "current-context": "c",
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", **context}}],
                "clusters": [{"name": "k", "cluster": {"server": "https://k", **(cluster or {})}}],
                "users": [{"name": "u", "user": user or {"token": "t"}}],
            }
        )
    ]


def test_the_first_file_that_sets_a_current_context_wins() -> None:
    documents = [doc(), doc(**{"current-context": "first"}), doc(**{"current-context": "last"})]
    assert first_current_context(documents) == "first"


def test_insecure_skip_tls_verify_with_a_ca_is_refused() -> None:
    documents = one_context(
        {"insecure-skip-tls-verify": True, "certificate-authority-data": "Q0E="}
    )
    with pytest.raises(KubeConfigError, match="insecure-skip-tls-verify together with"):
        vet(SOURCE, documents, "c")


def test_insecure_skip_tls_verify_alone_is_accepted() -> None:
    vet(SOURCE, one_context({"insecure-skip-tls-verify": True}), "c")


@pytest.mark.parametrize("setting", [{"as": "admin"}, {"as-groups": ["system:masters"]}])
def test_impersonation_is_refused_rather_than_ignored(setting: dict[str, Any]) -> None:
    with pytest.raises(KubeConfigError, match="impersonates"):
        vet(SOURCE, one_context(user={"token": "t", **setting}), "c")


def test_an_exec_plugin_asking_for_cluster_info_is_refused() -> None:
    plugin = {"command": "get-token", "apiVersion": "v1", "provideClusterInfo": True}
    with pytest.raises(KubeConfigError, match="provideClusterInfo"):
        vet(SOURCE, one_context(user={"exec": plugin}), "c")


def test_a_context_that_does_not_exist_is_named() -> None:
    with pytest.raises(KubeConfigError, match="no context named 'other'"):
        vet(SOURCE, one_context(), "other")


def test_a_token_file_wins_over_an_inline_token() -> None:
    assert prefer_token_file({"token": "inline", "tokenFile": "/t"}) == {"tokenFile": "/t"}
    assert prefer_token_file({"token": "inline"}) == {"token": "inline"}


def test_the_namespace_is_the_contexts_or_default() -> None:
    assert context_namespace(one_context(namespace="flux-system"), "c") == "flux-system"
    assert context_namespace(one_context(), "c") == "default"


def test_an_exec_user_is_recognised() -> None:
    assert uses_exec(one_context(user={"exec": {"command": "x"}}), "c")
    assert not uses_exec(one_context(), "c")
