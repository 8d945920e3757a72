"""What an install creates in each mode, and that Kubernetes and Helm accept all of it."""

from __future__ import annotations

import re
import shlex
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.chart.rendering import (
    CHART,
    NAMESPACE,
    REQUIRED,
    ROOT,
    chart,
    notes,
    render,
    with_required,
)

KUBERNETES = "1.37"
"""The Kubernetes version whose strict schemas every rendered object must pass."""

NAMESPACED: dict[str, Any] = {}
CLUSTER_WIDE: dict[str, Any] = {"namespaceFilter": ""}
NO_ELECTION: dict[str, Any] = {"leaderElection": {"enabled": False}}
EVERYTHING_ON: dict[str, Any] = {
    "flowServer": {"tokenSecret": {"name": "flow-token"}, "caBundle": {"secretName": "flow-ca"}},
    "metrics": {"podAnnotations": True, "service": {"enabled": True}},
    "podAnnotations": {"team": "platform"},
    "podLabels": {"tier": "ops"},
    "imagePullSecrets": [{"name": "regcred"}],
    "priorityClassName": "system-node-critical",
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    },
}
MODES = {
    "namespaced": NAMESPACED,
    "cluster-wide": CLUSTER_WIDE,
    "no-election": NO_ELECTION,
    "everything-on": EVERYTHING_ON,
}


def placed(override: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(kind, namespace) of every object, sorted; None for cluster-scoped objects."""
    return sorted(
        ((m["kind"], m["metadata"].get("namespace")) for m in render(override)),
        key=lambda item: (item[0], item[1] or ""),
    )


def test_a_namespaced_install_watches_through_a_role_in_the_watched_namespace() -> None:
    assert placed({"namespaceFilter": "apps"}) == [
        ("DaemonSet", NAMESPACE),
        ("Role", "apps"),
        ("Role", NAMESPACE),
        ("RoleBinding", "apps"),
        ("RoleBinding", NAMESPACE),
        ("ServiceAccount", NAMESPACE),
    ]


def test_a_cluster_wide_install_watches_through_a_cluster_role() -> None:
    assert placed(CLUSTER_WIDE) == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("DaemonSet", NAMESPACE),
        ("Role", NAMESPACE),
        ("RoleBinding", NAMESPACE),
        ("ServiceAccount", NAMESPACE),
    ]


def test_without_leader_election_there_is_no_lease_role() -> None:
    assert placed(NO_ELECTION) == [
        ("DaemonSet", NAMESPACE),
        ("Role", "flux-system"),
        ("RoleBinding", "flux-system"),
        ("ServiceAccount", NAMESPACE),
    ]


def test_enabling_the_metrics_service_adds_one_service() -> None:
    with_service = placed({"metrics": {"service": {"enabled": True}}})
    assert sorted(set(with_service) - set(placed(NAMESPACED))) == [("Service", NAMESPACE)]


def test_rbac_and_service_account_can_be_left_to_someone_else() -> None:
    manifests = render({"rbac": {"create": False}, "serviceAccount": {"create": False}})
    assert [m["kind"] for m in manifests] == ["DaemonSet"]


@pytest.mark.parametrize("override", MODES.values(), ids=MODES.keys())
def test_every_object_passes_the_strict_kubernetes_schema(override: dict[str, Any]) -> None:
    for manifest in render(override):
        assert kubernetes_validate.validate(manifest, KUBERNETES, strict=True) == KUBERNETES


def test_the_strict_schema_refuses_an_unknown_field() -> None:
    daemonset = next(m for m in render() if m["kind"] == "DaemonSet")
    daemonset["spec"]["template"]["spec"]["tolerationz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, KUBERNETES, strict=True)


@pytest.mark.parametrize("override", MODES.values(), ids=MODES.keys())
def test_helm_lint_strict_finds_nothing_worse_than_information(override: dict[str, Any]) -> None:
    report = helm_python.lint(CHART, with_required(override), strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []


def test_the_chart_is_versioned_with_the_project() -> None:
    metadata = chart().metadata
    assert metadata["apiVersion"] == "v2"
    assert metadata["version"] == metadata["appVersion"] == "0.1.0"


def test_the_notes_say_what_runs_where() -> None:
    text = notes()
    assert "region eu-west-1 of flow bootstrap to https://flow.example.com" in text
    assert "in namespace flux-system" in text
    assert "every copy posts" in notes(NO_ELECTION)
    assert "every namespace" in notes(CLUSTER_WIDE)


def readme_install_command() -> list[str]:
    readme = (CHART / "README.md").read_text()
    section = readme.split("## Install on a cluster", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return shlex.split(block.group(1).replace("\\\n", " "))


def test_the_readme_install_command_sets_exactly_the_three_required_values() -> None:
    words = readme_install_command()
    assert words[:2] == ["helm", "install"]
    assert (ROOT / words[3]).resolve() == CHART
    settings = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
    values = helm_python.parse_set_string(",".join(settings))
    assert values == REQUIRED
    namespace = words[words.index("--namespace") + 1]
    assert chart().render(values, name=words[2], namespace=namespace)
