"""The regions benchmark's quick mode as a CI test: two adapters into one flow, counts only.

Two real adapter processes, a region each, post into one flow on the ring
stand-in for 30 s of status changes. Times and bytes on a shared machine
are not asserted; what is: nothing of either region ever missing, every
write carried, each adapter counted apart by the stand-in, and each
adapter's stream carrying the other region's envelopes too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.runner import run
from bench.scenarios import QUICK

pytestmark = pytest.mark.e2e


def test_quick_regions_benchmark_counts_each_adapter_apart(tmp_path: Path) -> None:
    report = asyncio.run(run("regions", QUICK, quick=True, out=tmp_path))
    (two,) = report.results.regions

    assert two.regions == 2
    assert [a.region for a in two.adapters] == ["region-00", "region-01"]
    for adapter in two.adapters:
        assert (adapter.node_seconds, adapter.edge_seconds) == (0.0, 0.0)
        assert adapter.changes > 0
        assert adapter.never_carried == 0, f"{adapter.region}: a status change never arrived"
        assert 0 < adapter.envelopes <= 2 * adapter.changes + 4
        assert adapter.peak_rss_mb > 0
        assert adapter.cpu_s > 0
    posted = sum(a.posted_bytes for a in two.adapters)
    for adapter in two.adapters:
        # Once synced, a stream repeats every envelope of the flow, both regions'.
        assert adapter.stream_bytes >= posted, (adapter.stream_bytes, posted)
    assert two.snapshot_size > 0
    assert all(check.met for check in report.checks), report.checks
    assert report.path.exists()
