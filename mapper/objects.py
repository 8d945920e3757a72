"""Typed views of the HelmRelease and HelmChart fields the mapper reads.

Parsing happens once, at the mapper's edge: past this module nothing looks at
a raw dict, and an object that cannot be read becomes an `Unmappable` with a
reason instead of an exception in a watch loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mapper.fields import (
    MalformedError,
    child,
    items,
    mapping,
    opt_bool,
    opt_int,
    opt_str,
    str_map,
)
from mapper.timestamps import BadTimestampError, rfc3339_to_millis

ObjectKey = tuple[str, str]
"""(namespace, name): how the watch layer and the graph key an object."""

Kind = Literal["HelmRelease", "HelmChart"]
HELM_CHART = "HelmChart"

FAMILY_LABEL = "catalyst.openova.io/family"
SLOT_LABEL = "catalyst.openova.io/slot"
COMPONENT_LABEL = "catalyst.openova.io/component"
OWNER_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
OWNER_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
LABELS_READ: dict[Kind, tuple[str, ...]] = {
    "HelmRelease": (FAMILY_LABEL, SLOT_LABEL, COMPONENT_LABEL),
    "HelmChart": (OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL),
}


@dataclass(frozen=True, slots=True)
class Unmappable:
    """An object the mapper had to skip, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConditionView:
    """One entry of `status.conditions[]` (Kubernetes' metav1.Condition)."""

    type: str
    status: str
    reason: str | None
    message: str | None
    last_transition_ms: int | None
    observed_generation: int | None
    """`observedGeneration`: the `metadata.generation` this condition was written for."""


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A HelmRelease's `spec.chartRef`: `{kind, name, namespace?}`, namespace defaulted."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> ObjectKey:
        return (self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ReleaseView:
    namespace: str
    name: str
    created_ms: int | None
    labels: Mapping[str, str]
    depends_on: tuple[Dependency, ...]
    conditions: Mapping[str, ConditionView]
    generation: int | None
    observed_generation: int | None
    suspended: bool
    last_attempted_revision: str | None
    helm_chart: ObjectKey | None
    """`status.helmChart`: the HelmChart helm-controller made from `spec.chart`."""
    chart_ref: SourceRef | None
    """`spec.chartRef`: a HelmChart, OCIRepository or ExternalArtifact named directly."""

    @property
    def key(self) -> ObjectKey:
        return (self.namespace, self.name)

    @property
    def chart_key(self) -> ObjectKey | None:
        """The HelmChart this release names, if it names one.

        `spec.chartRef` is the release's current choice and overrides a
        `status.helmChart` left from an earlier `spec.chart`; a `chartRef` to
        any other kind means the release has no HelmChart at all.
        """
        if self.chart_ref is not None:
            return self.chart_ref.key if self.chart_ref.kind == HELM_CHART else None
        return self.helm_chart


@dataclass(frozen=True, slots=True)
class ChartView:
    namespace: str
    name: str
    owner: ObjectKey | None
    chart: str | None
    version: str | None
    ready_status: str | None
    ready_reason: str | None
    stalled: ConditionView | None
    """source-controller's `Stalled` condition, kept only when it is `True`."""

    @property
    def key(self) -> ObjectKey:
        return (self.namespace, self.name)


def _millis(value: str | None, path: str) -> int | None:
    if value is None:
        return None
    try:
        return rfc3339_to_millis(value)
    except BadTimestampError as err:
        raise MalformedError(path, str(err)) from err


def _identity(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str]:
    meta = child(obj, "metadata", "")
    name = opt_str(meta, "name", ".metadata")
    if not name:
        raise MalformedError(".metadata.name", "missing or empty")
    namespace = opt_str(meta, "namespace", ".metadata") or ""
    return meta, namespace, name


def _conditions(status: Mapping[str, Any]) -> dict[str, ConditionView]:
    found: dict[str, ConditionView] = {}
    for index, raw in enumerate(items(status, "conditions", ".status")):
        path = f".status.conditions[{index}]"
        cond = mapping(raw, path)
        ctype = opt_str(cond, "type", path)
        cstatus = opt_str(cond, "status", path)
        if not ctype or cstatus is None:
            raise MalformedError(path, "a condition needs a type and a status")
        found[ctype] = ConditionView(
            type=ctype,
            status=cstatus,
            reason=opt_str(cond, "reason", path),
            message=opt_str(cond, "message", path),
            last_transition_ms=_millis(
                opt_str(cond, "lastTransitionTime", path), f"{path}.lastTransitionTime"
            ),
            observed_generation=opt_int(cond, "observedGeneration", path),
        )
    return found


def _dependencies(spec: Mapping[str, Any], own_namespace: str) -> tuple[Dependency, ...]:
    deps: list[Dependency] = []
    for index, raw in enumerate(items(spec, "dependsOn", ".spec")):
        path = f".spec.dependsOn[{index}]"
        entry = mapping(raw, path)
        name = opt_str(entry, "name", path)
        if not name:
            continue
        deps.append(
            Dependency(name=name, namespace=opt_str(entry, "namespace", path) or own_namespace)
        )
    return tuple(deps)


def _source_ref(spec: Mapping[str, Any], own_namespace: str) -> SourceRef | None:
    ref = spec.get("chartRef")
    if ref is None:
        return None
    path = ".spec.chartRef"
    entry = mapping(ref, path)
    kind = opt_str(entry, "kind", path)
    name = opt_str(entry, "name", path)
    if not kind or not name:
        raise MalformedError(path, "a chartRef needs a kind and a name")
    return SourceRef(
        kind=kind, namespace=opt_str(entry, "namespace", path) or own_namespace, name=name
    )


def _helm_chart(status: Mapping[str, Any]) -> ObjectKey | None:
    ref = opt_str(status, "helmChart", ".status")
    if not ref:
        return None
    namespace, sep, name = ref.partition("/")
    if not sep or not namespace or not name:
        raise MalformedError(".status.helmChart", f"expected <namespace>/<name>, got {ref!r}")
    return (namespace, name)


def parse_release(obj: object) -> ReleaseView | Unmappable:
    try:
        root = mapping(obj, "")
        meta, namespace, name = _identity(root)
        spec = child(root, "spec", "")
        status = child(root, "status", "")
        return ReleaseView(
            namespace=namespace,
            name=name,
            created_ms=_millis(
                opt_str(meta, "creationTimestamp", ".metadata"), ".metadata.creationTimestamp"
            ),
            labels=str_map(meta, "labels", ".metadata", LABELS_READ["HelmRelease"]),
            depends_on=_dependencies(spec, namespace),
            conditions=_conditions(status),
            generation=opt_int(meta, "generation", ".metadata"),
            observed_generation=opt_int(status, "observedGeneration", ".status"),
            suspended=bool(opt_bool(spec, "suspend", ".spec")),
            last_attempted_revision=opt_str(status, "lastAttemptedRevision", ".status"),
            helm_chart=_helm_chart(status),
            chart_ref=_source_ref(spec, namespace),
        )
    except MalformedError as err:
        return Unmappable(f"HelmRelease {err}")


def parse_chart(obj: object) -> ChartView | Unmappable:
    try:
        root = mapping(obj, "")
        meta, namespace, name = _identity(root)
        labels = str_map(meta, "labels", ".metadata", LABELS_READ["HelmChart"])
        spec = child(root, "spec", "")
        status = child(root, "status", "")
        artifact = child(status, "artifact", ".status")
        owner_name = labels.get(OWNER_NAME_LABEL)
        owner = (labels.get(OWNER_NAMESPACE_LABEL) or namespace, owner_name) if owner_name else None
        conditions = _conditions(status)
        ready = conditions.get("Ready")
        stalled = conditions.get("Stalled")
        return ChartView(
            namespace=namespace,
            name=name,
            owner=owner,
            chart=opt_str(spec, "chart", ".spec"),
            version=opt_str(artifact, "revision", ".status.artifact")
            or opt_str(spec, "version", ".spec"),
            ready_status=ready.status if ready else None,
            ready_reason=ready.reason if ready else None,
            stalled=stalled if stalled is not None and stalled.status == "True" else None,
        )
    except MalformedError as err:
        return Unmappable(f"HelmChart {err}")
