"""One scenario's world: a namespace, a region, a flow, and the adapters started in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcluster import HELMRELEASE, KubeClient, LocalCluster
from tests.e2e.harness import AdapterProcess, FlowServerProcess


@dataclass
class Scene:
    namespace: str
    region: str
    flow_id: str
    flow: FlowServerProcess
    admin: KubeClient
    cluster: LocalCluster
    workdir: Path
    started: list[AdapterProcess]

    def node(self, name: str) -> str:
        return f"{self.region}/{name}"

    def adapter(
        self, env: dict[str, str] | None = None, *, kubeconfig: Path | None = None, name: str = "a"
    ) -> AdapterProcess:
        config = kubeconfig or self.cluster.write_kubeconfig(self.workdir / f"kubeconfig-{name}")
        adapter = AdapterProcess(
            {
                "FLOW_SERVER_URL": self.flow.url,
                "FLOW_ID": self.flow_id,
                "REGION_KEY": self.region,
                "NAMESPACE_FILTER": self.namespace,
                "LEADER_ELECTION": "false",
                "EMIT_INTERVAL": "200ms",
                **(env or {}),
            },
            config,
            self.workdir,
            name,
        )
        self.started.append(adapter)
        return adapter.start()

    def lease_env(self, **timings: str) -> dict[str, str]:
        """Leader election on, over this scene's own Lease, with the timings given."""
        return {
            "LEADER_ELECTION": "true",
            "LEASE_NAME": f"lease-{self.region}",
            "POD_NAMESPACE": self.namespace,
            **timings,
        }

    def graph(self) -> tuple[dict[str, Any], dict[tuple[str, str, str], Any]]:
        return self.flow.region(self.flow_id, self.region)

    def statuses(self) -> dict[str, str]:
        return {node_id: node["status"] for node_id, node in self.graph()[0].items()}

    def release(
        self,
        name: str,
        *,
        depends_on: tuple[str, ...] = (),
        labels: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        obj: dict[str, Any] = {
            "apiVersion": HELMRELEASE.api_version,
            "kind": HELMRELEASE.kind,
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels or {}},
            "spec": {
                "interval": "10m",
                "chart": {
                    "spec": {"chart": name, "sourceRef": {"kind": "HelmRepository", "name": "kit"}}
                },
                "dependsOn": [{"name": dep} for dep in depends_on],
            },
        }
        if values is not None:
            obj["spec"]["values"] = values
        self.admin.create(obj)

    def ready(self, name: str, status: str, reason: str, message: str = "") -> None:
        """Write Ready through the status subresource, as helm-controller does."""
        condition = {
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message or f"{reason} for {name}",
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "observedGeneration": 1,
        }
        self.admin.patch_status(
            HELMRELEASE, self.namespace, name, {"conditions": [condition], "observedGeneration": 1}
        )
