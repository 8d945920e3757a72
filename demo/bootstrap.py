"""The sample bootstrap the demo plays: sixteen releases from the shared kit, as Flux objects.

The names, families, charts and namespaces are those of the tests' bootstrap
kit (``tests/fixtures/bootstrap-kit.yaml``), cut down so the live view
fits a terminal: two dependency chains, one rooted at the network
(``bp-cilium``) and one at the cloud provider (``bp-hcloud-ccm``). The
kit's edges that would join the two chains are left out so a newcomer can
follow each chain by eye. Every chart is served from the demo's chart
repository on 127.0.0.1 and installs without a kubelet (``settings`` from
``localcluster/charts/``); the failing release's first version is the
``rejected`` chart, which the API server refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from localcluster import HELMRELEASE, HELMREPOSITORY
from localcluster.chartrepo import ChartRepository, ChartVersion

NAMESPACE: Final = "flux-system"
SOURCE: Final = "bootstrap-kit"
FAMILY_LABEL: Final = "catalyst.openova.io/family"
SLOT_LABEL: Final = "catalyst.openova.io/slot"
HELM_TIMEOUT: Final = "30s"
"""Helm's timeout per action: the charts' objects are ready once stored, so a failure shows fast."""

Json = dict[str, Any]


@dataclass(frozen=True)
class Sample:
    """One release of the sample: the HelmRelease ``name``, its chart and where it installs."""

    name: str
    family: str
    chart: str
    version: str
    target_namespace: str
    depends_on: tuple[str, ...]

    @property
    def release_name(self) -> str:
        return self.name.removeprefix("bp-")


def _sample(name: str, family: str, chart: str, version: str, target: str, *deps: str) -> Sample:
    return Sample(name, family, chart, version, target, deps)


SAMPLE: Final[tuple[Sample, ...]] = (
    _sample("bp-cilium", "network", "cilium", "1.16.5", "kube-system"),
    _sample("bp-cert-manager", "security", "cert-manager", "v1.16.2", "cert-manager",
            "bp-cilium"),
    _sample("bp-external-secrets", "security", "external-secrets", "0.12.1", "external-secrets",
            "bp-cert-manager"),
    _sample("bp-openbao", "security", "openbao", "0.8.1", "openbao",
            "bp-cert-manager", "bp-external-secrets"),
    _sample("bp-kyverno", "policy", "kyverno", "3.3.4", "kyverno",
            "bp-cert-manager"),
    _sample("bp-trivy", "policy", "trivy-operator", "0.25.0", "trivy-system",
            "bp-kyverno"),
    _sample("bp-keycloak", "identity", "keycloakx", "7.1.3", "keycloak",
            "bp-cert-manager", "bp-external-secrets"),
    _sample("bp-hcloud-ccm", "cloud", "hcloud-cloud-controller-manager", "1.21.0", "kube-system"),
    _sample("bp-hcloud-csi", "storage", "hcloud-csi", "2.11.0", "kube-system",
            "bp-hcloud-ccm"),
    _sample("bp-seaweedfs", "storage", "seaweedfs", "4.0.0", "seaweedfs",
            "bp-hcloud-csi"),
    _sample("bp-velero", "storage", "velero", "8.2.0", "velero",
            "bp-seaweedfs"),
    _sample("bp-cnpg", "database", "cloudnative-pg", "0.23.0", "cnpg-system",
            "bp-hcloud-csi"),
    _sample("bp-prometheus", "observability", "kube-prometheus-stack", "67.4.0", "monitoring",
            "bp-hcloud-csi"),
    _sample("bp-loki", "observability", "loki", "6.24.0", "monitoring",
            "bp-seaweedfs"),
    _sample("bp-mimir", "observability", "mimir-distributed", "5.5.1", "monitoring",
            "bp-seaweedfs", "bp-prometheus"),
    _sample("bp-grafana", "observability", "grafana", "8.8.2", "monitoring",
            "bp-loki", "bp-mimir"),
)  # fmt: skip

FAILING: Final = "bp-seaweedfs"
"""Its first chart version cannot install, holding back velero, loki, mimir and grafana."""

FIXED_VERSION: Final = "4.0.1"
"""The chart version the demo publishes for ``FAILING`` and points the release at."""

DELETED: Final = "bp-trivy"
"""Removed from the cluster once everything is up, as an operator dropping a component."""


def sample_named(samples: Sequence[Sample], name: str) -> Sample:
    """The sample called ``name``; ``KeyError`` if there is none."""
    for sample in samples:
        if sample.name == name:
            return sample
    raise KeyError(name)


def publish_kit(repo: ChartRepository, samples: Sequence[Sample], failing: str) -> None:
    """Publish every sample's chart at its version; ``failing``'s is the rejected chart."""
    for sample in samples:
        source = "rejected" if sample.name == failing else "settings"
        repo.publish(source, name=sample.chart, version=sample.version)


def publish_fix(repo: ChartRepository, sample: Sample) -> ChartVersion:
    """Publish a chart of ``sample``'s name at ``FIXED_VERSION`` that installs."""
    return repo.publish("settings", name=sample.chart, version=FIXED_VERSION)


def repository_object(url: str) -> Json:
    """The http HelmRepository every release's chart comes from, pointing at ``url``."""
    return {
        "apiVersion": HELMREPOSITORY.api_version,
        "kind": HELMREPOSITORY.kind,
        "metadata": {"name": SOURCE, "namespace": NAMESPACE},
        "spec": {"url": url, "interval": "10m", "timeout": "10s"},
    }


def release_object(sample: Sample, slot: int) -> Json:
    """The HelmRelease as kustomize-controller would apply it from the kit."""
    spec: Json = {
        "interval": "10m",
        "timeout": HELM_TIMEOUT,
        "releaseName": sample.release_name,
        "targetNamespace": sample.target_namespace,
        "chart": {
            "spec": {
                "chart": sample.chart,
                "version": sample.version,
                "sourceRef": {
                    "kind": HELMREPOSITORY.kind,
                    "name": SOURCE,
                    "namespace": NAMESPACE,
                },
                "interval": "10m",
            }
        },
        "install": {"createNamespace": True, "remediation": {"retries": 3}},
    }
    if sample.depends_on:
        spec["dependsOn"] = [{"name": dep} for dep in sample.depends_on]
    return {
        "apiVersion": HELMRELEASE.api_version,
        "kind": HELMRELEASE.kind,
        "metadata": {
            "name": sample.name,
            "namespace": NAMESPACE,
            "labels": {
                "app.kubernetes.io/part-of": SOURCE,
                FAMILY_LABEL: sample.family,
                SLOT_LABEL: str(slot),
            },
        },
        "spec": spec,
    }


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
