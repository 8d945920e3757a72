"""The coordination.k8s.io/v1 Lease record, and what a candidate writes into it.

Pure: the leader loop in `leader.py` does the requests and the clocks. The
rules are client-go's, so that the adapter can share a lease's semantics
with any tool that reads them (`kubectl get lease` shows the holder and the
renew time as usual).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
"""metav1.MicroTime as the API server writes it: UTC, six fractional digits."""


class MalformedLeaseError(ValueError):
    """The Lease object does not have the shape coordination.k8s.io/v1 promises."""


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    holder: str | None
    duration: int
    """Seconds the holder claims the lease for after each renewal."""
    acquire_time: str | None
    renew_time: str | None
    transitions: int

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "leaseDurationSeconds": self.duration,
            "leaseTransitions": self.transitions,
        }
        if self.holder:
            spec["holderIdentity"] = self.holder
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


def micro_time(now: datetime) -> str:
    return now.strftime(MICRO_TIME)


def read_record(lease: Mapping[str, Any]) -> LeaseRecord:
    spec = lease.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise MalformedLeaseError("spec is not an object")
    holder = spec.get("holderIdentity")
    duration = spec.get("leaseDurationSeconds", 0)
    transitions = spec.get("leaseTransitions", 0)
    if holder is not None and not isinstance(holder, str):
        raise MalformedLeaseError("spec.holderIdentity is not a string")
    if not _count(duration) or not _count(transitions):
        raise MalformedLeaseError("spec.leaseDurationSeconds or leaseTransitions is not an integer")
    return LeaseRecord(
        holder=holder or None,
        duration=duration,
        acquire_time=_text(spec.get("acquireTime")),
        renew_time=_text(spec.get("renewTime")),
        transitions=transitions,
    )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def held_by_another(observed: LeaseRecord, identity: str, observed_at: float, now: float) -> bool:
    """Whether someone else's claim still stands.

    Measured from when *this* process first saw the current record, on its
    own monotonic clock, never from the renewTime written by another machine,
    so clock skew between nodes cannot let two holders overlap.
    """
    if observed.holder is None or observed.holder == identity:
        return False
    return now < observed_at + observed.duration


def claim(observed: LeaseRecord | None, identity: str, duration: int, now: datetime) -> LeaseRecord:
    """The record that takes the lease for `identity`, or renews it if already held."""
    stamp = micro_time(now)
    if observed is None:
        return LeaseRecord(identity, duration, stamp, stamp, 0)
    if observed.holder == identity:
        return LeaseRecord(identity, duration, observed.acquire_time, stamp, observed.transitions)
    return LeaseRecord(identity, duration, stamp, stamp, observed.transitions + 1)


def released(observed: LeaseRecord, now: datetime) -> LeaseRecord:
    """What a holder writes when it steps down: no holder, so a standby takes over at once."""
    stamp = micro_time(now)
    return LeaseRecord(None, 1, stamp, stamp, observed.transitions)


def lease_object(
    name: str, namespace: str, record: LeaseRecord, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The Lease to send: `base` (the last one read) keeps its metadata and resourceVersion."""
    metadata = dict(base.get("metadata") or {}) if base else {}
    metadata.update(name=name, namespace=namespace)
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": record.spec(),
    }
