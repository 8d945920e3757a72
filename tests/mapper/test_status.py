"""Status folding: every rule of docs/design.md, "Status folding"."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.contract import Status
from mapper.objects import ReleaseView, parse_release
from mapper.status import fold_status, worst
from tests.fixtures import upgrade_failed_release
from tests.mapper.objects import condition, release


def view(conditions: list[dict[str, Any]] | None) -> ReleaseView:
    parsed = parse_release(release("bp-x", conditions=conditions))
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
        pytest.param([condition("Ready", "False", "ArtifactFailed")], "running", id="other"),
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
    assert fold_status(view(conditions).conditions) == expected


@pytest.mark.parametrize("ready", ["True", "Unknown", None])
def test_stalled_true_folds_to_failed_whatever_ready_says(ready: str | None) -> None:
    conditions = [condition("Stalled", "True", "RetriesExceeded")]
    if ready is not None:
        conditions.append(condition("Ready", ready, "Progressing"))
    assert fold_status(view(conditions).conditions) == "failed"


def test_stalled_false_does_not_fail_a_ready_release() -> None:
    conditions = [condition("Stalled", "False"), condition("Ready", "True", "UpgradeSucceeded")]
    assert fold_status(view(conditions).conditions) == "succeeded"


def test_real_upgrade_failed_release_is_failed_while_reconciling() -> None:
    parsed = parse_release(upgrade_failed_release())
    assert isinstance(parsed, ReleaseView)
    assert fold_status(parsed.conditions) == "failed"


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
