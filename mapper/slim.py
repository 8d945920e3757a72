"""The few fields of a Flux object the mapper reads; the rest is dropped on arrival.

A real HelmRelease carries managedFields, history and a large `spec.values`
(tens of kilobytes); ten thousand of them must fit in little memory, so the
store keeps only this. The resourceVersion goes too: a write that changes
nothing the graph shows then leaves the slim object byte-for-byte equal, and
the store does not even map it again. Wrong types are copied as they are, so
the mapper can still name what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapper.objects import CONDITIONS_READ, LABELS_READ, Kind

_METADATA = ("name", "namespace", "creationTimestamp", "labels", "generation")
_CONDITION = ("type", "status", "reason", "message", "lastTransitionTime", "observedGeneration")

_SPEC: dict[Kind, tuple[str, ...]] = {
    "HelmRelease": ("dependsOn", "suspend", "chartRef"),
    "HelmChart": ("chart", "version"),
}
_CHART_REF = ("kind", "name", "namespace")
_STATUS: dict[Kind, tuple[str, ...]] = {
    "HelmRelease": ("conditions", "observedGeneration", "lastAttemptedRevision", "helmChart"),
    "HelmChart": ("conditions", "artifact"),
}


def _pick(value: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {key: value[key] for key in keys if key in value}


def _conditions(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    kept = []
    for cond in value:
        ctype = cond.get("type") if isinstance(cond, Mapping) else None
        if isinstance(ctype, str) and ctype and ctype not in CONDITIONS_READ:
            continue
        kept.append(_pick(cond, _CONDITION))
    return kept


def slim(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("apiVersion", "kind"):
        if key in obj:
            out[key] = obj[key]
    if "metadata" in obj:
        meta = _pick(obj["metadata"], _METADATA)
        if isinstance(meta, dict) and "labels" in meta:
            meta["labels"] = _pick(meta["labels"], LABELS_READ[kind])
        out["metadata"] = meta
    if "spec" in obj:
        spec = _pick(obj["spec"], _SPEC[kind])
        if isinstance(spec, dict) and "chartRef" in spec:
            spec["chartRef"] = _pick(spec["chartRef"], _CHART_REF)
        out["spec"] = spec
    if "status" in obj:
        status = _pick(obj["status"], _STATUS[kind])
        if isinstance(status, dict):
            if "conditions" in status:
                status["conditions"] = _conditions(status["conditions"])
            if kind == "HelmChart" and "artifact" in status:
                status["artifact"] = _pick(status["artifact"], ("revision",))
        out["status"] = status
    return out
