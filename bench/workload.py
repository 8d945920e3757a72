"""The objects and the change plans every benchmark run writes, the same for both posters.

The releases look like a platform bootstrap rather than like minimal
literals: chains of `dependsOn`, the family and slot labels, and a
`spec.values` of about a kilobyte, because the adapter pays for every byte
the watch delivers before it slims the object. Plans are seeded, so the
adapter and the baseline see the same sequence of writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

REGION: Final = "bench"
"""The REGION_KEY both posters map into, so node ids match across them."""

CHAIN: Final = 10
"""Each release depends on the one before it, in chains of this length."""

SEQ_PREFIX: Final = "bench seq "
"""The Ready message of a churned release: the write's sequence number follows it."""

FAMILY_LABEL: Final = "catalyst.openova.io/family"
SLOT_LABEL: Final = "catalyst.openova.io/slot"

JsonObj = dict[str, Any]


def release_name(index: int) -> str:
    return f"hr-{index:05d}"


def depends_on(index: int) -> list[str]:
    return [release_name(index - 1)] if index % CHAIN else []


def relationship_count(releases: int) -> int:
    """Edges the graph holds for `releases`: one `contains` each, plus the chains."""
    return releases + sum(len(depends_on(index)) for index in range(releases))


def _values(index: int) -> JsonObj:
    return {
        "replicaCount": 1 + index % 3,
        "image": {"repository": f"registry.example/team/app-{index % 40}", "tag": "1.4.2"},
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "ingress": {
            "enabled": index % 2 == 0,
            "hosts": [{"host": f"app-{index}.bench.example", "paths": ["/"]}],
        },
        "podAnnotations": {f"bench/annotation-{k}": "x" * 24 for k in range(8)},
        "env": [{"name": f"SETTING_{k}", "value": f"value-{k}-{index}"} for k in range(8)],
    }


def release(namespace: str, index: int) -> JsonObj:
    """HelmRelease number `index` as created (its status is written separately)."""
    deps = [{"name": name} for name in depends_on(index)]
    spec: JsonObj = {
        "interval": "10m",
        "chart": {
            "spec": {
                "chart": f"app-{index % 40}",
                "version": "1.4.2",
                "sourceRef": {"kind": "HelmRepository", "name": "bench"},
            }
        },
        "values": _values(index),
    }
    if deps:
        spec["dependsOn"] = deps
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {
            "name": release_name(index),
            "namespace": namespace,
            "labels": {
                FAMILY_LABEL: f"family-{index % 12}",
                SLOT_LABEL: f"slot-{index % 5}",
            },
        },
        "spec": spec,
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(seq: int, ready: bool) -> JsonObj:
    """A helm-controller-like status whose Ready message carries `seq`."""
    cond = ("True", "InstallSucceeded") if ready else ("Unknown", "Progressing")
    now = _now()
    return {
        "observedGeneration": 1,
        "lastAttemptedRevision": "1.4.2",
        "conditions": [
            {
                "type": "Ready",
                "status": cond[0],
                "reason": cond[1],
                "message": f"{SEQ_PREFIX}{seq}",
                "lastTransitionTime": now,
            },
            {
                "type": "Released",
                "status": "True",
                "reason": "InstallSucceeded",
                "message": "Helm install succeeded",
                "lastTransitionTime": now,
            },
        ],
    }


def seq_of(message: object) -> int | None:
    """The sequence number a Ready message carries, or None for any other message."""
    if not isinstance(message, str) or not message.startswith(SEQ_PREFIX):
        return None
    tail = message[len(SEQ_PREFIX) :]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True, slots=True)
class Change:
    """One write of the load generator: which release, and the body it sends."""

    seq: int
    name: str
    patch: JsonObj
    subresource: str | None


class Plans:
    """Seeded sequences of writes; `seq` and each release's state carry over between phases.

    Every status change flips its release between Progressing and Ready and
    puts a new sequence number in the message, so it always changes the
    node. Every no-op touches only what the graph does not show: an
    annotation, or `status.lastHandledReconcileAt` (which Flux itself
    rewrites on each requested reconcile).
    """

    def __init__(self, releases: int, seed: int = 7, first_seq: int = 1) -> None:
        self._releases = releases
        self._rng = random.Random(seed)
        self._ready = [True] * releases
        self._seq = first_seq

    def _next(self) -> tuple[int, int]:
        seq, self._seq = self._seq, self._seq + 1
        return seq, self._rng.randrange(self._releases)

    def status_changes(self, count: int) -> list[Change]:
        out = []
        for _ in range(count):
            seq, index = self._next()
            self._ready[index] = not self._ready[index]
            body = {"status": status(seq, self._ready[index])}
            out.append(Change(seq, release_name(index), body, "status"))
        return out

    def no_ops(self, count: int) -> list[Change]:
        out = []
        for _ in range(count):
            seq, index = self._next()
            if seq % 2:
                body: JsonObj = {"metadata": {"annotations": {"bench/touched": str(seq)}}}
                out.append(Change(seq, release_name(index), body, None))
            else:
                body = {"status": {"lastHandledReconcileAt": f"{_now()}#{seq}"}}
                out.append(Change(seq, release_name(index), body, "status"))
        return out
