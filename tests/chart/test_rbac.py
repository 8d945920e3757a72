"""The chart grants exactly what the adapter's code uses, derived from that code."""

from __future__ import annotations

from typing import Any

import pytest

from flux_adapter.election.elector import LEASE_GROUP, LEASE_RESOURCE, LEASE_VERBS
from flux_adapter.kube.resources import VERBS, WATCHED
from tests.chart.rendering import NAMESPACE, Manifest, env, render

Rule = tuple[str, str, str, str | None]
"""(API group, resource, verb, resource name or None for any), one grant each."""

ROLE_KINDS = ("Role", "ClusterRole")


def grants(role: Manifest) -> set[Rule]:
    """Every single permission a Role or ClusterRole's rules add up to."""
    out: set[Rule] = set()
    for rule in role["rules"]:
        names: list[str | None] = list(rule.get("resourceNames") or [None])
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.update((group, resource, verb, name) for name in names)
    return out


def watch_grants() -> set[Rule]:
    return {(r.group, r.plural, verb, None) for r in WATCHED for verb in VERBS}


def lease_grants(lease_name: str) -> set[Rule]:
    """Creating cannot be limited to a name; reading and renewing are limited to ours."""
    return {
        (LEASE_GROUP, LEASE_RESOURCE, verb, None if verb == "create" else lease_name)
        for verb in LEASE_VERBS
    }


def roles(manifests: list[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m["kind"] in ROLE_KINDS]


def role_in(manifests: list[Manifest], kind: str, namespace: str | None) -> Manifest:
    found = [
        m for m in manifests if m["kind"] == kind and m["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1
    return found[0]


def lease_name(override: dict[str, Any] | None = None) -> str:
    value: str = env(override)["LEASE_NAME"]["value"]
    return value


def test_the_adapter_needs_list_and_watch_on_helm_releases_and_helm_charts() -> None:
    assert watch_grants() == {
        ("helm.toolkit.fluxcd.io", "helmreleases", "list", None),
        ("helm.toolkit.fluxcd.io", "helmreleases", "watch", None),
        ("source.toolkit.fluxcd.io", "helmcharts", "list", None),
        ("source.toolkit.fluxcd.io", "helmcharts", "watch", None),
    }


def test_a_namespaced_install_grants_the_watch_verbs_in_the_watched_namespace_only() -> None:
    manifests = render({"namespaceFilter": "apps"})
    assert grants(role_in(manifests, "Role", "apps")) == watch_grants()


def test_a_cluster_wide_install_grants_the_watch_verbs_in_every_namespace() -> None:
    manifests = render({"namespaceFilter": ""})
    assert grants(role_in(manifests, "ClusterRole", None)) == watch_grants()


def test_the_lease_role_grants_the_election_verbs_on_our_lease_only() -> None:
    manifests = render()
    assert grants(role_in(manifests, "Role", NAMESPACE)) == lease_grants(lease_name())


def test_the_lease_role_follows_a_custom_lease_name() -> None:
    override = {"leaderElection": {"leaseName": "adapter-leader"}}
    assert lease_name(override) == "adapter-leader"
    manifests = render(override)
    assert grants(role_in(manifests, "Role", NAMESPACE)) == lease_grants("adapter-leader")


@pytest.mark.parametrize(
    "override",
    [{}, {"namespaceFilter": ""}, {"leaderElection": {"enabled": False}}],
    ids=["namespaced", "cluster-wide", "no-election"],
)
def test_nothing_else_is_granted_in_any_mode(override: dict[str, Any]) -> None:
    manifests = render(override)
    granted = set().union(*(grants(role) for role in roles(manifests)))
    election = env(override)["LEADER_ELECTION"]["value"] == "true"
    expected = watch_grants() | (lease_grants(lease_name(override)) if election else set())
    assert granted == expected


@pytest.mark.parametrize(
    "override", [{}, {"namespaceFilter": ""}], ids=["namespaced", "cluster-wide"]
)
def test_every_role_is_bound_to_the_pods_service_account_and_nothing_else(
    override: dict[str, Any],
) -> None:
    manifests = render(override)
    account = next(m for m in manifests if m["kind"] == "DaemonSet")["spec"]["template"]["spec"][
        "serviceAccountName"
    ]
    bound = set()
    for binding in (m for m in manifests if m["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]
        assert binding["kind"] == binding["roleRef"]["kind"] + "Binding"
        bound.add(
            (
                binding["roleRef"]["kind"],
                binding["roleRef"]["name"],
                binding["metadata"].get("namespace"),
            )
        )
    defined = {
        (m["kind"], m["metadata"]["name"], m["metadata"].get("namespace")) for m in roles(manifests)
    }
    assert bound == defined


def test_releases_of_one_name_in_two_namespaces_get_distinct_cluster_roles() -> None:
    names = {
        role_in(render({"namespaceFilter": ""}, namespace=ns), "ClusterRole", None)["metadata"][
            "name"
        ]
        for ns in ("team-a", "team-b")
    }
    assert len(names) == 2
