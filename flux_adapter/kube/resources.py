"""The Kubernetes resources the adapter reads, and how it reads them.

Kept as plain data in one place so that everything derived from them (the
watch loops, the fake API server in the tests, the chart's RBAC rules, the
log line that names a missing permission) agrees by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from mapper import Kind


@dataclass(frozen=True, slots=True)
class Resource:
    kind: Kind
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def path(self, namespace: str | None) -> str:
        """The collection's URL path, in one namespace or across all of them."""
        scope = f"/namespaces/{namespace}" if namespace else ""
        return f"/apis/{self.group}/{self.version}{scope}/{self.plural}"

    @property
    def name(self) -> str:
        """`plural.group`, the name RBAC errors and `kubectl get` use."""
        return f"{self.plural}.{self.group}"


HELM_RELEASES = Resource(
    kind="HelmRelease",
    group="helm.toolkit.fluxcd.io",
    version="v2",
    plural="helmreleases",
)
HELM_CHARTS = Resource(
    kind="HelmChart",
    group="source.toolkit.fluxcd.io",
    version="v1",
    plural="helmcharts",
)

WATCHED: tuple[Resource, ...] = (HELM_RELEASES, HELM_CHARTS)
"""Every resource the adapter watches, each with its own list/watch loop."""

VERBS: tuple[str, ...] = ("list", "watch")
"""The only verbs the adapter sends for `WATCHED`.

An informer needs nothing else: it never GETs one object. Least privilege
means the RBAC rules grant exactly these.
"""
