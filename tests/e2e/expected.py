"""The graph the bootstrap kit must become on the flow server, written out by hand.

Computing it with the project's own mapper would only check the mapper
against itself; these rows are read off `tests/fixtures/bootstrap-kit.yaml`
(family from the label, or the name without `bp-` where the label is absent).
"""

from __future__ import annotations

from typing import Any

KIT: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # (name, expected family, slot label, dependsOn)
    ("bp-cilium", "network", "1", ()),
    ("bp-cert-manager", "security", "2", ("bp-cilium",)),
    ("bp-flux", "platform", "3", ("bp-cilium",)),
    ("bp-external-secrets", "security", "4", ("bp-cert-manager",)),
    ("bp-sealed-secrets", "security", "5", ("bp-cert-manager",)),
    ("bp-openbao", "security", "6", ("bp-cert-manager", "bp-external-secrets")),
    ("bp-kyverno", "policy", "7", ("bp-cert-manager",)),
    ("bp-trivy", "policy", "8", ("bp-kyverno",)),
    ("bp-hcloud-ccm", "hcloud-ccm", "10", ("bp-cilium",)),
    ("bp-hcloud-csi", "hcloud-csi", "11", ("bp-hcloud-ccm",)),
    ("bp-seaweedfs", "storage", "12", ("bp-hcloud-csi", "bp-cert-manager")),
    ("bp-velero", "storage", "13", ("bp-seaweedfs",)),
    ("bp-cnpg", "database", "20", ("bp-hcloud-csi",)),
    ("bp-dragonfly", "database", "21", ("bp-hcloud-csi",)),
    ("bp-redpanda", "middleware", "22", ("bp-hcloud-csi", "bp-cert-manager")),
    ("bp-keycloak", "identity", "30", ("bp-cnpg", "bp-cert-manager", "bp-external-secrets")),
    ("bp-harbor", "registry", "31", ("bp-cnpg", "bp-dragonfly", "bp-seaweedfs", "bp-keycloak")),
    ("bp-prometheus", "observability", "40", ("bp-hcloud-csi",)),
    ("bp-loki", "observability", "41", ("bp-seaweedfs",)),
    ("bp-tempo", "observability", "42", ("bp-seaweedfs",)),
    ("bp-mimir", "observability", "43", ("bp-seaweedfs", "bp-prometheus")),
    ("bp-grafana", "observability", "44", ("bp-loki", "bp-tempo", "bp-mimir", "bp-keycloak")),
    ("bp-keda", "autoscaling", "50", ("bp-prometheus",)),
    ("bp-stunner", "network", "51", ("bp-cilium",)),
    ("bp-k8gb", "network", "52", ("bp-cilium", "bp-external-secrets")),
    ("bp-stalwart", "stalwart", "55", ("bp-cnpg", "bp-keycloak")),
    ("bp-guacamole", "workplace", "56", ("bp-keycloak", "bp-cnpg", "bp-k8s-ws-proxy")),
    ("bp-k8s-ws-proxy", "workplace", "57", ("bp-cilium",)),
    ("bp-openova-flow-server", "platform", "60", ("bp-cilium", "bp-cert-manager")),
    ("bp-openova-flow-emitter", "platform", "61", ("bp-flux",)),
)


def node_row(node: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a snapshot node the scenarios pin down (times and meta vary by run)."""
    return (node["id"], node["label"], node["status"], node.get("family"), node.get("region"))


def edge_row(rel: dict[str, Any]) -> tuple[Any, ...]:
    return (rel["fromId"], rel["toId"], rel["type"], rel.get("condition"))
