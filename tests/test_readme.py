"""The README documents every setting, every metric and every reason that folds to failed."""

from __future__ import annotations

from pathlib import Path

from flux_adapter.observe.metrics import Metrics
from flux_adapter.runtime.settings import Settings
from mapper.status import FAILED_REASONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DESIGN = (ROOT / "docs" / "design.md").read_text()


def test_every_environment_variable_is_documented() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == []


def test_every_metric_is_documented() -> None:
    names = set()
    for metric in Metrics().registry.collect():
        suffix = "_total" if metric.type == "counter" else ""
        names.add(metric.name + suffix)
    missing = sorted(name for name in names if f"`{name}`" not in README)
    assert missing == []


def test_the_test_command_of_the_readme_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "./scripts/test" in ci
    assert "./scripts/test\n" in README


def test_every_reason_that_folds_to_failed_is_named_with_its_reason() -> None:
    folding = DESIGN[DESIGN.index("## Status folding") :]
    assert sorted(r for r in FAILED_REASONS if f"`{r}`" not in README) == []
    assert sorted(r for r in FAILED_REASONS if f"`{r}`" not in folding) == []
