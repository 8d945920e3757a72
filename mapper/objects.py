"""The HelmRelease and HelmChart fields the mapper reads, declared as typed views.

Parsing happens once, at the mapper's edge: past this module nothing looks at
a raw dict, and an object that cannot be read becomes an `Unmappable` with a
reason naming the field (`.spec.chartRef.kind: missing or empty`) instead of
an exception in a watch loop. Only the fields declared here are read: any
other field, of whatever type, is ignored, so it can never fail a parse.

The views are slotted pydantic dataclasses, not `BaseModel`s: the graph keeps
one per release, and a three-field model holds about 490 bytes where the
dataclass holds 65.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from mapper.timestamps import rfc3339_to_millis

ObjectKey = tuple[str, str]
"""(namespace, name): how the watch layer and the graph key an object."""

Kind = Literal["HelmRelease", "HelmChart"]
HELM_CHART = "HelmChart"

_VIEW = ConfigDict(extra="ignore")
"""Scalars are strict (`"1"` is not a generation); nested objects come as dicts."""

T = TypeVar("T")


def _empty_object(value: object) -> object:
    return {} if value is None else value


def _empty_list(value: object) -> object:
    return () if value is None else value


def _empty_string(value: object) -> object:
    return "" if value is None else value


def _millis(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return rfc3339_to_millis(value)  # its BadTimestampError is a ValueError


def _namespaced_name(value: object) -> ObjectKey | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    namespace, sep, name = value.partition("/")
    if not sep or not namespace or not name:
        raise ValueError(f"expected <namespace>/<name>, got {value!r}")
    return (sys.intern(namespace), sys.intern(name))


Text = Annotated[str, Strict(), AfterValidator(sys.intern)]
"""Interned: a namespace, a reason or a label value recurs in thousands of views."""

Name = Annotated[str, Strict(), Field(min_length=1), AfterValidator(sys.intern)]
Namespace = Annotated[Text, BeforeValidator(_empty_string)]
"""Absent or null is the empty namespace, as for a cluster-scoped object."""
Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]
Millis = Annotated[int, PlainValidator(_millis)]
"""An RFC 3339 timestamp, read as Unix milliseconds."""

Section = Annotated[T, BeforeValidator(_empty_object)]
"""A nested object that reads as empty when it is null."""

Items = Annotated[tuple[T, ...], BeforeValidator(_empty_list)]
"""A list that reads as empty when it is null."""


@dataclasses.dataclass(frozen=True, slots=True)
class Unmappable:
    """An object the mapper had to skip, and why."""

    reason: str


@dataclass(frozen=True, slots=True, config=_VIEW)
class Condition:
    """One entry of `status.conditions[]` (Kubernetes' metav1.Condition)."""

    type: Name
    status: Text
    reason: Text | None = None
    message: Text | None = None
    last_transition_ms: Millis | None = Field(default=None, alias="lastTransitionTime")
    observed_generation: Integer | None = Field(default=None, alias="observedGeneration")
    """`observedGeneration`: the `metadata.generation` this condition was written for."""


CONDITIONS_READ = frozenset({"Ready", "Stalled"})
"""The condition types the mapper looks at; slimming keeps exactly these."""


def _unread(cond: object) -> bool:
    ctype = cond.get("type") if isinstance(cond, Mapping) else None
    return isinstance(ctype, str) and bool(ctype) and ctype not in CONDITIONS_READ


def _read_conditions(value: object) -> object:
    if value is None:
        return ()
    if not isinstance(value, list):
        return value
    return [None if _unread(cond) else cond for cond in value]


Conditions = Annotated[tuple[Condition | None, ...], BeforeValidator(_read_conditions)]
"""`status.conditions[]`: null reads as none, and an entry of a type the mapper does not
read (`Released`, `Reconciling`, ...) as `None`, so it cannot fail a parse; indexes stay."""


def find(conditions: tuple[Condition | None, ...], ctype: str) -> Condition | None:
    """The condition of type `ctype`; the last one when a controller wrote it twice."""
    for cond in reversed(conditions):
        if cond is not None and cond.type == ctype:
            return cond
    return None


@dataclass(frozen=True, slots=True, config=_VIEW)
class ReleaseLabels:
    """The labels of a HelmRelease the mapper reads; no other label is looked at."""

    family: Text | None = Field(default=None, alias="catalyst.openova.io/family")
    slot: Text | None = Field(default=None, alias="catalyst.openova.io/slot")
    component: Text | None = Field(default=None, alias="catalyst.openova.io/component")


@dataclass(frozen=True, slots=True, config=_VIEW)
class ReleaseMetadata:
    """A HelmRelease's `metadata`; the name is required and not empty."""

    name: Name
    namespace: Namespace = ""
    created_ms: Millis | None = Field(default=None, alias="creationTimestamp")
    generation: Integer | None = None
    labels: Section[ReleaseLabels] = ReleaseLabels()


@dataclass(frozen=True, slots=True, config=_VIEW)
class Dependency:
    """One `spec.dependsOn[]` entry; one without a name names nothing and is passed over."""

    name: Text | None = None


@dataclass(frozen=True, slots=True, config=_VIEW)
class SourceRef:
    """A HelmRelease's `spec.chartRef`: `{kind, name, namespace?}`."""

    kind: Name
    name: Name
    namespace: Text | None = None
    """Absent means the release's own namespace."""


@dataclass(frozen=True, slots=True, config=_VIEW)
class ReleaseSpec:
    """A HelmRelease's `spec`: what it waits for, whether it is paused, where its chart is."""

    depends_on: Items[Dependency] = Field(default=(), alias="dependsOn")
    suspend: Boolean | None = None
    chart_ref: SourceRef | None = Field(default=None, alias="chartRef")
    """`spec.chartRef`: a HelmChart, OCIRepository or ExternalArtifact named directly."""


@dataclass(frozen=True, slots=True, config=_VIEW)
class ReleaseStatus:
    """A HelmRelease's `status` as helm-controller writes it."""

    conditions: Conditions = ()
    observed_generation: Integer | None = Field(default=None, alias="observedGeneration")
    last_attempted_revision: Text | None = Field(default=None, alias="lastAttemptedRevision")
    helm_chart: Annotated[ObjectKey | None, PlainValidator(_namespaced_name)] = Field(
        default=None, alias="helmChart"
    )
    """`status.helmChart` (`<namespace>/<name>`): the HelmChart made from `spec.chart`."""


@dataclass(frozen=True, slots=True, config=_VIEW)
class ReleaseView:
    """A HelmRelease, as much of it as the mapper reads."""

    metadata: Section[ReleaseMetadata]
    spec: Section[ReleaseSpec] = ReleaseSpec()
    status: Section[ReleaseStatus] = ReleaseStatus()

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def key(self) -> ObjectKey:
        return (self.metadata.namespace, self.metadata.name)

    def condition(self, ctype: str) -> Condition | None:
        return find(self.status.conditions, ctype)

    @property
    def source(self) -> tuple[str, ObjectKey] | None:
        """`spec.chartRef` as (kind, key), its namespace defaulted to the release's."""
        ref = self.spec.chart_ref
        if ref is None:
            return None
        return (ref.kind, (ref.namespace or self.metadata.namespace, ref.name))

    @property
    def chart_key(self) -> ObjectKey | None:
        """The HelmChart this release names, if it names one.

        `spec.chartRef` is the release's current choice and overrides a
        `status.helmChart` left from an earlier `spec.chart`; a `chartRef` to
        any other kind means the release has no HelmChart at all.
        """
        source = self.source
        if source is not None:
            return source[1] if source[0] == HELM_CHART else None
        return self.status.helm_chart


@dataclass(frozen=True, slots=True, config=_VIEW)
class ChartLabels:
    """The labels helm-controller puts on the HelmChart it makes for a release."""

    owner_name: Text | None = Field(default=None, alias="helm.toolkit.fluxcd.io/name")
    owner_namespace: Text | None = Field(default=None, alias="helm.toolkit.fluxcd.io/namespace")


@dataclass(frozen=True, slots=True, config=_VIEW)
class ChartMetadata:
    """A HelmChart's `metadata`; the name is required and not empty."""

    name: Name
    namespace: Namespace = ""
    labels: Section[ChartLabels] = ChartLabels()


@dataclass(frozen=True, slots=True, config=_VIEW)
class ChartSpec:
    """A HelmChart's `spec`: the chart's name and the version range asked for."""

    chart: Text | None = None
    version: Text | None = None


@dataclass(frozen=True, slots=True, config=_VIEW)
class Artifact:
    """`status.artifact`: its revision is the chart version source-controller pulled."""

    revision: Text | None = None


@dataclass(frozen=True, slots=True, config=_VIEW)
class ChartStatus:
    """A HelmChart's `status` as source-controller writes it."""

    conditions: Conditions = ()
    artifact: Section[Artifact] = Artifact()


@dataclass(frozen=True, slots=True, config=_VIEW)
class ChartView:
    """A HelmChart, as much of it as the mapper reads."""

    metadata: Section[ChartMetadata]
    spec: Section[ChartSpec] = ChartSpec()
    status: Section[ChartStatus] = ChartStatus()

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def key(self) -> ObjectKey:
        return (self.metadata.namespace, self.metadata.name)

    @property
    def owner(self) -> ObjectKey | None:
        """The release helm-controller made this chart for, from its owner labels."""
        labels = self.metadata.labels
        if not labels.owner_name:
            return None
        return (labels.owner_namespace or self.metadata.namespace, labels.owner_name)

    @property
    def version(self) -> str | None:
        """The version pulled, else the range asked for."""
        return self.status.artifact.revision or self.spec.version

    @property
    def ready(self) -> Condition | None:
        return find(self.status.conditions, "Ready")

    @property
    def stalled(self) -> Condition | None:
        """source-controller's `Stalled` condition, only when it is `True`."""
        stalled = find(self.status.conditions, "Stalled")
        return stalled if stalled is not None and stalled.status == "True" else None


def _label_keys(labels: Any) -> tuple[str, ...]:
    fields: dict[str, FieldInfo] = labels.__pydantic_fields__
    return tuple(str(field.alias) for field in fields.values())


LABELS_READ: dict[Kind, tuple[str, ...]] = {
    "HelmRelease": _label_keys(ReleaseLabels),
    "HelmChart": _label_keys(ChartLabels),
}
"""The label keys the views declare: slimming keeps exactly these."""

_RELEASES = TypeAdapter(ReleaseView)
_CHARTS = TypeAdapter(ChartView)

_EXPECTED = {
    "dataclass_type": "an object",
    "dict_type": "an object",
    "tuple_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
}


def _path(loc: tuple[int | str, ...]) -> str:
    """`('status', 'conditions', 0)` as `.status.conditions[0]`; a label key in brackets."""
    parts = []
    for part in loc:
        if isinstance(part, str) and part.isidentifier():
            parts.append(f".{part}")
        else:
            parts.append(f"[{part}]")
    return "".join(parts)


def _problem(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {type(error['input']).__name__}"
    if kind in ("missing", "string_too_short"):
        return "missing or empty"
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return error["msg"]


def _reason(kind: Kind, err: ValidationError) -> str:
    return f"{kind} " + "; ".join(
        f"{_path(error['loc'])}: {_problem(error)}" for error in err.errors(include_url=False)
    )


def parse_release(obj: object) -> ReleaseView | Unmappable:
    """A HelmRelease, decoded from the API's JSON, as a view; never raises.

    What cannot be read comes back as an `Unmappable` naming every bad field
    by its path: `HelmRelease .spec.chartRef.kind: missing or empty`.
    """
    try:
        return _RELEASES.validate_python(obj)
    except ValidationError as err:
        return Unmappable(_reason("HelmRelease", err))


def parse_chart(obj: object) -> ChartView | Unmappable:
    """A HelmChart, decoded from the API's JSON, as a view; never raises (see `parse_release`)."""
    try:
        return _CHARTS.validate_python(obj)
    except ValidationError as err:
        return Unmappable(_reason("HelmChart", err))
