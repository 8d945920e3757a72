"""The benchmark's quick mode as a CI test: counts of POSTs, never times.

Times on a shared two-core CI machine say more about its neighbours than
about the adapter, but the number of requests a workload costs does not
depend on load: that is what regresses when the emitter stops coalescing,
stops deduplicating or starts sending per event. The ring's quick run
asserts no hole at all: its margin leaves the adapter 64 envelopes, over
six seconds of the other regions' traffic, to react in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.report import RING_ENVELOPES, SYNC_POSTS
from bench.runner import run
from bench.scenarios import QUICK

pytestmark = pytest.mark.e2e


def test_quick_benchmark_counts(tmp_path: Path) -> None:
    report = asyncio.run(run("all", QUICK, quick=True, out=tmp_path))
    results = report.results

    (sync,) = [r for r in results.sync if r.poster == "adapter"]
    assert sync.releases == 2000
    assert sync.posts <= SYNC_POSTS, f"initial sync of 2,000 took {sync.posts} POSTs"

    churn = {r.poster: r for r in results.churn}
    assert churn["adapter"].never_carried == 0, "a status change never reached the server"
    assert churn["baseline"].never_carried == 0
    assert churn["adapter"].changes > 0
    assert churn["baseline"].changes > 0
    assert churn["baseline"].posts >= 10 * churn["adapter"].posts, (
        f"adapter {churn['adapter'].posts} POSTs, baseline {churn['baseline'].posts}"
    )

    noop = {r.poster: r for r in results.noop}
    assert noop["adapter"].events >= noop["adapter"].updates > 0, "the no-ops reached the adapter"
    assert noop["adapter"].posts == 0
    assert noop["baseline"].posts > 0, "the baseline forwards every event"

    assert all(check.met for check in report.checks), report.checks
    assert report.path.exists()


def test_quick_ring_benchmark_keeps_every_node_and_edge(tmp_path: Path) -> None:
    report = asyncio.run(run("ring", QUICK, quick=True, out=tmp_path))
    runs = {run.variant: run for run in report.results.ring}
    previous, new = runs["previous"], runs["new"]

    assert previous.node_seconds > 0, "the other regions turned the ring over"
    assert (new.node_seconds, new.edge_seconds) == (0.0, 0.0)
    assert new.envelopes <= RING_ENVELOPES * previous.envelopes
    # The check at start and the two probes that verify the ring; no clock check in a minute.
    assert new.snapshot_gets <= 3
    assert all(check.met for check in report.checks), report.checks
