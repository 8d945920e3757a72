"""Turning recorded writes and POSTs into latencies, percentiles and counts.

A status write is carried by the first POST that shows its release at that
write's sequence number or a later one: the adapter is level-triggered, so
a write overtaken by the next one inside a debounce window is delivered by
the POST that carries the newer value, and that is the latency a canvas
sees. The baseline carries every write itself.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.kube import Write
from bench.workload import seq_of


@dataclass(frozen=True, slots=True)
class Spread:
    """Percentiles of a sample, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    def row(self) -> list[str]:
        return [f"{self.p50:.0f}", f"{self.p95:.0f}", f"{self.p99:.0f}", f"{self.max:.0f}"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sample (0 < q <= 100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(seconds: Sequence[float]) -> Spread:
    ordered = sorted(seconds)
    return Spread(
        count=len(ordered),
        p50=percentile(ordered, 50) * 1000,
        p95=percentile(ordered, 95) * 1000,
        p99=percentile(ordered, 99) * 1000,
        max=(ordered[-1] if ordered else math.nan) * 1000,
    )


def carried(
    posts: Sequence[Mapping[str, Any]], region: str
) -> dict[str, tuple[list[float], list[int]]]:
    """Per release: arrival times of the POSTs showing it, and the highest seq shown by then."""
    shown: dict[str, tuple[list[float], list[int]]] = {}
    for post in sorted(posts, key=lambda p: float(p["arrived"])):
        envelope = json.loads(post["body"])
        if envelope.get("type") != "upsert-nodes":
            continue
        for node in envelope["nodes"]:
            meta = node.get("meta") or {}
            seq = seq_of(meta.get("readyMessage"))
            if seq is None:
                continue
            name = str(node["id"]).removeprefix(f"{region}/")
            arrivals, seqs = shown.setdefault(name, ([], []))
            arrivals.append(float(post["arrived"]))
            seqs.append(max(seq, seqs[-1]) if seqs else seq)
    return shown


def write_latencies(
    writes: Sequence[Write], posts: Sequence[Mapping[str, Any]], region: str
) -> tuple[list[float], int]:
    """Seconds from each successful write to the POST that carried it, and how many never were."""
    shown = carried(posts, region)
    latencies: list[float] = []
    missing = 0
    for write in writes:
        if not write.ok:
            continue
        arrivals, seqs = shown.get(write.name, ([], []))
        at = bisect.bisect_left(seqs, write.seq)
        if at == len(seqs):
            missing += 1
        else:
            latencies.append(arrivals[at] - write.sent)
    return latencies, missing


def histogram_quantile(buckets: Mapping[float, float], q: float) -> float:
    """The q-quantile (0..1) of a cumulative histogram, interpolated as Prometheus does.

    `buckets` maps each upper bound (`inf` included) to its cumulative count.
    An answer in the last finite bucket or beyond is that bucket's bound: the
    histogram cannot say more, and the caller reports it as "at least".
    """
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, count
    return lower


def histogram_delta(
    before: Mapping[str, float], after: Mapping[str, float], name: str
) -> dict[float, float]:
    """Cumulative bucket counts of histogram `name` added between two /metrics readings."""
    out: dict[float, float] = {}
    prefix = f"{name}_bucket{{le="
    for key, value in after.items():
        if key.startswith(prefix):
            bound = float(key[len(prefix) : -1])
            out[bound] = value - before.get(key, 0.0)
    return out


def counter_delta(before: Mapping[str, float], after: Mapping[str, float], prefix: str) -> float:
    """How much every sample starting with `prefix` grew between two /metrics readings."""
    return sum(
        value - before.get(key, 0.0) for key, value in after.items() if key.startswith(prefix)
    )
