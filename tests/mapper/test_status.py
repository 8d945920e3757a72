"""Status folding: every rule of docs/design.md, "Status folding"."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.contract import Status
from mapper.objects import ChartView, ReleaseView, parse_chart, parse_release
from mapper.status import fold_status, worst
from tests.fixtures import upgrade_failed_release
from tests.mapper.objects import chart
from tests.support.objects import condition, helm_release


def view(conditions: list[dict[str, Any]] | None) -> ReleaseView:
    parsed = parse_release(helm_release("bp-x", conditions=conditions))
    assert isinstance(parsed, ReleaseView)
    return parsed


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        pytest.param([condition("Ready", "True", "InstallSucceeded")], "succeeded", id="true"),
        pytest.param([condition("Ready", "True", "UpgradeFailed")], "succeeded", id="true-any"),
        pytest.param([condition("Ready", "False", "InstallFailed")], "failed", id="install"),
        pytest.param([condition("Ready", "False", "UpgradeFailed")], "failed", id="upgrade"),
        pytest.param([condition("Ready", "False", "RetriesExhausted")], "failed", id="exhaust"),
        pytest.param([condition("Ready", "False", "RetriesExceeded")], "failed", id="exceeded"),
        pytest.param([condition("Ready", "False", "Progressing")], "running", id="progressing"),
        pytest.param([condition("Ready", "False", "TestFailed")], "failed", id="test"),
        pytest.param(
            [condition("Ready", "False", "RollbackSucceeded")], "failed", id="rolled-back"
        ),
        pytest.param([condition("Ready", "False", "RollbackFailed")], "failed", id="rollback"),
        pytest.param(
            [condition("Ready", "False", "UninstallSucceeded")], "failed", id="uninstalled"
        ),
        pytest.param([condition("Ready", "False", "UninstallFailed")], "failed", id="uninstall"),
        pytest.param(
            [condition("Ready", "False", "MissingRollbackTarget")],
            "failed",
            id="no-rollback-target",
        ),
        pytest.param([condition("Ready", "False", "ArtifactFailed")], "running", id="other"),
        pytest.param([condition("Ready", "False", "InitFailed")], "running", id="init"),
        pytest.param([condition("Ready", "False", "GetLastReleaseFailed")], "running", id="get"),
        pytest.param([condition("Ready", "False", "DependencyNotReady")], "running", id="deps"),
        pytest.param([condition("Ready", "False", "SourceNotReady")], "running", id="source"),
        pytest.param([condition("Ready", "True", "RollbackSucceeded")], "succeeded", id="true-rb"),
        pytest.param([condition("Ready", "False")], "running", id="false-no-reason"),
        pytest.param([condition("Ready", "Unknown", "Progressing")], "running", id="unknown"),
        pytest.param([condition("Ready", "Unknown", "InstallFailed")], "running", id="unknown-any"),
        pytest.param([], "pending", id="no-conditions"),
        pytest.param(None, "pending", id="no-status"),
        pytest.param([condition("Released", "True")], "pending", id="no-ready"),
    ],
)
def test_ready_condition_folds_per_contract_table(
    conditions: list[dict[str, Any]] | None, expected: Status
) -> None:
    assert fold_status(view(conditions)) == expected


@pytest.mark.parametrize("ready", ["True", "Unknown", None])
def test_stalled_true_folds_to_failed_whatever_ready_says(ready: str | None) -> None:
    conditions = [condition("Stalled", "True", "RetriesExceeded")]
    if ready is not None:
        conditions.append(condition("Ready", ready, "Progressing"))
    assert fold_status(view(conditions)) == "failed"


def test_stalled_false_does_not_fail_a_ready_release() -> None:
    conditions = [condition("Stalled", "False"), condition("Ready", "True", "UpgradeSucceeded")]
    assert fold_status(view(conditions)) == "succeeded"


def ready_at(status: str, reason: str, generation: int | None) -> dict[str, Any]:
    return condition("Ready", status, reason, generation=generation)


@pytest.mark.parametrize(
    ("generation", "observed", "ready", "suspend", "expected"),
    [
        pytest.param(12, 11, ready_at("True", "UpgradeSucceeded", 11), None, "running", id="lag"),
        pytest.param(12, 11, ready_at("True", "UpgradeSucceeded", 12), None, "succeeded", id="cur"),
        pytest.param(12, 12, ready_at("True", "UpgradeSucceeded", 11), None, "running", id="own"),
        pytest.param(12, 11, ready_at("True", "InstallSucceeded", None), None, "running", id="st"),
        pytest.param(
            12, None, ready_at("True", "InstallSucceeded", None), None, "succeeded", id="?"
        ),
        pytest.param(3, 3, ready_at("True", "UpgradeSucceeded", 3), None, "succeeded", id="same"),
        pytest.param(12, 11, ready_at("True", "UpgradeSucceeded", 11), True, "succeeded", id="sus"),
        pytest.param(12, 11, ready_at("True", "UpgradeSucceeded", 11), False, "running", id="res"),
        pytest.param(12, 11, ready_at("False", "UpgradeFailed", 11), None, "failed", id="failed"),
        pytest.param(12, 11, ready_at("False", "UpgradeFailed", 11), True, "failed", id="sus-f"),
        pytest.param(12, 11, ready_at("Unknown", "Progressing", 11), None, "running", id="run"),
    ],
)
def test_ready_for_an_older_generation_is_not_succeeded_unless_suspended(
    generation: int,
    observed: int | None,
    ready: dict[str, Any],
    suspend: bool | None,
    expected: Status,
) -> None:
    obj = helm_release(
        "bp-x", generation=generation, conditions=[ready], suspend=suspend, observed=observed
    )
    if observed is None:
        del obj["status"]["observedGeneration"]
    parsed = parse_release(obj)
    assert isinstance(parsed, ReleaseView)
    assert fold_status(parsed) == expected


def chart_view(obj: dict[str, Any]) -> ChartView:
    parsed = parse_chart(obj)
    assert isinstance(parsed, ChartView)
    return parsed


@pytest.mark.parametrize(
    ("own", "helm_chart", "expected"),
    [
        pytest.param("True", chart("c", stalled=("InvalidChartReference", "no")), "failed", id="s"),
        pytest.param(
            "Unknown", chart("c", stalled=("InvalidChartReference", "")), "failed", id="u"
        ),
        pytest.param("True", chart("c", ready=("False", "ChartPullFailed")), "succeeded", id="nr"),
        pytest.param(
            "Unknown", chart("c", ready=("False", "ChartPullFailed")), "running", id="nr2"
        ),
        pytest.param("True", chart("c"), "succeeded", id="ready"),
        pytest.param("True", None, "succeeded", id="none"),
    ],
)
def test_a_stalled_chart_fails_its_release_and_a_merely_unready_one_does_not(
    own: str, helm_chart: dict[str, Any] | None, expected: Status
) -> None:
    parsed = view([condition("Ready", own, "Progressing")])
    seen = None if helm_chart is None else chart_view(helm_chart)
    assert fold_status(parsed, seen) == expected


def test_a_stalled_chart_fails_even_a_suspended_release() -> None:
    obj = helm_release(
        "bp-x", suspend=True, conditions=[condition("Ready", "True", "InstallSucceeded")]
    )
    parsed = parse_release(obj)
    assert isinstance(parsed, ReleaseView)
    stalled = chart_view(chart("c", stalled=("InvalidChartReference", "no such version")))
    assert fold_status(parsed, stalled) == "failed"


def test_real_upgrade_failed_release_is_failed_while_reconciling() -> None:
    parsed = parse_release(upgrade_failed_release())
    assert isinstance(parsed, ReleaseView)
    assert fold_status(parsed) == "failed"


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param({}, "pending", id="none"),
        pytest.param({"succeeded": 3}, "succeeded", id="all-good"),
        pytest.param({"succeeded": 3, "pending": 1}, "pending", id="pending-over-succeeded"),
        pytest.param({"pending": 2, "running": 1}, "running", id="running-over-pending"),
        pytest.param({"running": 2, "failed": 1, "succeeded": 9}, "failed", id="failed-wins"),
        pytest.param({"failed": 0, "succeeded": 1}, "succeeded", id="zero-counts-ignored"),
    ],
)
def test_worst_status_orders_failed_running_pending_succeeded(
    counts: dict[Status, int], expected: Status
) -> None:
    assert worst(counts) == expected
