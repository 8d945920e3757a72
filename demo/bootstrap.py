"""The sample bootstrap the demo plays: sixteen releases from the shared kit.

The names, families, charts and namespaces are those of the tests' bootstrap
kit (``tests/fixtures/bootstrap-kit.yaml``), cut down so the live view
fits a terminal: two dependency chains, one rooted at the network
(``bp-cilium``) and one at the cloud provider (``bp-hcloud-ccm``). The
kit's edges that would join the two chains are left out so a newcomer can
follow each chain by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from localcluster import helmchart, helmrelease

NAMESPACE: Final = "flux-system"
SOURCE: Final = "bootstrap-kit"
FAMILY_LABEL: Final = "catalyst.openova.io/family"
SLOT_LABEL: Final = "catalyst.openova.io/slot"
OWNER_NAME_LABEL: Final = "helm.toolkit.fluxcd.io/name"
OWNER_NAMESPACE_LABEL: Final = "helm.toolkit.fluxcd.io/namespace"

Json = dict[str, Any]


@dataclass(frozen=True)
class Sample:
    """One release of the sample, with how long its install takes in the play."""

    name: str
    family: str
    chart: str
    version: str
    target_namespace: str
    depends_on: tuple[str, ...]
    install_ticks: int

    @property
    def release_name(self) -> str:
        return self.name.removeprefix("bp-")

    @property
    def chart_object_name(self) -> str:
        """helm-controller names a release's HelmChart ``<namespace>-<release>``."""
        return f"{NAMESPACE}-{self.name}"


def _sample(
    name: str, family: str, chart: str, version: str, target: str, ticks: int, *deps: str
) -> Sample:
    return Sample(name, family, chart, version, target, deps, ticks)


SAMPLE: Final[tuple[Sample, ...]] = (
    _sample("bp-cilium", "network", "cilium", "1.16.5", "kube-system", 2),
    _sample("bp-cert-manager", "security", "cert-manager", "v1.16.2", "cert-manager", 2,
            "bp-cilium"),
    _sample("bp-external-secrets", "security", "external-secrets", "0.12.1", "external-secrets", 2,
            "bp-cert-manager"),
    _sample("bp-openbao", "security", "openbao", "0.8.1", "openbao", 3,
            "bp-cert-manager", "bp-external-secrets"),
    _sample("bp-kyverno", "policy", "kyverno", "3.3.4", "kyverno", 2,
            "bp-cert-manager"),
    _sample("bp-trivy", "policy", "trivy-operator", "0.25.0", "trivy-system", 2,
            "bp-kyverno"),
    _sample("bp-keycloak", "identity", "keycloakx", "7.1.3", "keycloak", 3,
            "bp-cert-manager", "bp-external-secrets"),
    _sample("bp-hcloud-ccm", "cloud", "hcloud-cloud-controller-manager", "1.21.0", "kube-system",
            1),
    _sample("bp-hcloud-csi", "storage", "hcloud-csi", "2.11.0", "kube-system", 2,
            "bp-hcloud-ccm"),
    _sample("bp-seaweedfs", "storage", "seaweedfs", "4.0.0", "seaweedfs", 2,
            "bp-hcloud-csi"),
    _sample("bp-velero", "storage", "velero", "8.2.0", "velero", 2,
            "bp-seaweedfs"),
    _sample("bp-cnpg", "database", "cloudnative-pg", "0.23.0", "cnpg-system", 2,
            "bp-hcloud-csi"),
    _sample("bp-prometheus", "observability", "kube-prometheus-stack", "67.4.0", "monitoring", 3,
            "bp-hcloud-csi"),
    _sample("bp-loki", "observability", "loki", "6.24.0", "monitoring", 2,
            "bp-seaweedfs"),
    _sample("bp-mimir", "observability", "mimir-distributed", "5.5.1", "monitoring", 3,
            "bp-seaweedfs", "bp-prometheus"),
    _sample("bp-grafana", "observability", "grafana", "8.8.2", "monitoring", 2,
            "bp-loki", "bp-mimir"),
)  # fmt: skip

FAILING: Final = "bp-seaweedfs"
"""Fails its first install, holding back velero, loki, mimir and grafana."""

DELETED: Final = "bp-trivy"
"""Removed from the cluster once everything is up, as an operator dropping a component."""


def release_object(sample: Sample, slot: int) -> Json:
    """The HelmRelease as kustomize-controller would apply it from the kit."""
    obj = helmrelease(
        sample.name,
        NAMESPACE,
        chart=sample.chart,
        version=sample.version,
        source=SOURCE,
        interval="10m",
        labels={
            "app.kubernetes.io/part-of": SOURCE,
            FAMILY_LABEL: sample.family,
            SLOT_LABEL: str(slot),
        },
    )
    spec: Json = obj["spec"]
    spec["chart"]["spec"]["sourceRef"]["namespace"] = NAMESPACE
    spec["releaseName"] = sample.release_name
    spec["targetNamespace"] = sample.target_namespace
    spec["install"] = {"createNamespace": True, "remediation": {"retries": 3}}
    if sample.depends_on:
        spec["dependsOn"] = [{"name": dep} for dep in sample.depends_on]
    return obj


def chart_object(sample: Sample) -> Json:
    """The HelmChart helm-controller creates for a release before installing it."""
    obj = helmchart(
        sample.chart_object_name,
        NAMESPACE,
        chart=sample.chart,
        version=sample.version,
        source=SOURCE,
    )
    obj["metadata"]["labels"] = {
        OWNER_NAME_LABEL: sample.name,
        OWNER_NAMESPACE_LABEL: NAMESPACE,
    }
    return obj


@dataclass(frozen=True)
class Expected:
    """What the flow server must hold once the play is over."""

    statuses: dict[str, str]
    families: dict[str, str]
    edges: frozenset[tuple[str, str, str]]


def expected_final(samples: Sequence[Sample], deleted: str, region: str) -> Expected:
    """Every release that is left succeeded, with its edges; the deleted one gone."""
    kept = [s for s in samples if s.name != deleted]
    statuses = {region: "succeeded"}
    families: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    for sample in kept:
        own = f"{region}/{sample.name}"
        statuses[own] = "succeeded"
        families[own] = sample.family
        edges.add((own, region, "contains"))
        edges.update((f"{region}/{dep}", own, "finish-to-start") for dep in sample.depends_on)
    return Expected(statuses=statuses, families=families, edges=frozenset(edges))


def mismatches(expected: Expected, snapshot: Json | None) -> list[str]:
    """How the server's snapshot differs from ``expected``, one line each; empty when equal."""
    if snapshot is None:
        return ["the flow server holds nothing for the flow"]
    nodes = {str(n.get("id")): n for n in snapshot.get("nodes", [])}
    found: list[str] = []
    for node_id in sorted(expected.statuses.keys() | nodes.keys()):
        want = expected.statuses.get(node_id)
        node = nodes.get(node_id)
        if node is None:
            found.append(f"missing node {node_id}")
        elif want is None:
            found.append(f"unexpected node {node_id} ({node.get('status')})")
        elif node.get("status") != want:
            found.append(f"{node_id} is {node.get('status')}, expected {want}")
        elif node_id in expected.families and node.get("family") != expected.families[node_id]:
            found.append(f"{node_id} has family {node.get('family')}")
    edges = {
        (str(r.get("fromId")), str(r.get("toId")), str(r.get("type")))
        for r in snapshot.get("relationships", [])
    }
    found += [f"missing edge {a} -[{t}]-> {b}" for a, b, t in sorted(expected.edges - edges)]
    found += [f"unexpected edge {a} -[{t}]-> {b}" for a, b, t in sorted(edges - expected.edges)]
    return found
