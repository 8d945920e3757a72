"""The status fold on what the real controllers wrote: objects kept from the e2e scenes.

Each fixture in `tests/fixtures/flux/` is the HelmRelease (and, where it
matters, its HelmChart) as the API server returned it after helm-controller
v1.6 and source-controller v1.9 acted, recorded by the end-to-end suite
(`FLUX_ADAPTER_RECORD_FIXTURES=1 ./scripts/test tests/e2e/test_real_flux.py`).
The expected status of each is what an operator would conclude, written here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mapper import Graph

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flux"


def fold(fixture: str) -> tuple[str, str, bool]:
    """Apply the fixture's objects to a graph: its release's (status, Ready reason, suspended)."""
    objects: list[dict[str, Any]] = json.loads((FIXTURES / f"{fixture}.json").read_text())
    graph = Graph("real", "flux")
    for obj in objects:
        meta = obj["metadata"]
        graph.apply(obj["kind"], (meta["namespace"], meta["name"]), obj)
    release = next(o for o in objects if o["kind"] == "HelmRelease")
    node = graph.nodes[f"real/{release['metadata']['name']}"]
    meta = node.meta or {}
    return node.status, str(meta.get("readyReason")), meta.get("suspended") is True


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("install-succeeded", ("succeeded", "InstallSucceeded", False)),
        ("install-failed-stalled", ("failed", "InstallFailed", False)),
        ("upgrade-rolled-back", ("failed", "RollbackSucceeded", False)),
        ("test-failed", ("failed", "TestFailed", False)),
        ("chart-version-missing", ("failed", "SourceNotReady", False)),
        ("dependency-not-ready", ("running", "DependencyNotReady", False)),
        ("suspended", ("succeeded", "InstallSucceeded", True)),
    ],
)
def test_a_state_the_controllers_wrote_folds_as_an_operator_reads_it(
    fixture: str, expected: tuple[str, str, bool]
) -> None:
    assert fold(fixture) == expected


def test_a_chart_missing_from_the_index_says_why_on_the_release() -> None:
    objects = json.loads((FIXTURES / "chart-version-missing.json").read_text())
    graph = Graph("real", "flux")
    for obj in objects:
        graph.apply(obj["kind"], (obj["metadata"]["namespace"], obj["metadata"]["name"]), obj)
    chart = (graph.nodes["real/velero"].meta or {})["chart"]
    assert isinstance(chart, dict)
    assert chart["reason"] == "InvalidChartReference"
    assert "no 'missing' chart with version matching '9.9.9'" in str(chart["message"])
