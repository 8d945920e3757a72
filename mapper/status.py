"""Folding a HelmRelease's conditions into the canvas's four statuses."""

from __future__ import annotations

from collections.abc import Mapping

from mapper.contract import Status
from mapper.objects import ConditionView

FAILED_REASONS = frozenset(
    {"InstallFailed", "UpgradeFailed", "RetriesExhausted", "RetriesExceeded"}
)
"""Ready=False reasons that mean the release will not get better by itself.

The reasons and why each folds this way: `docs/design.md`, "Status folding".
"""

SEVERITY: tuple[Status, ...] = ("failed", "running", "pending", "succeeded")
"""Worst first: the region shows the worst status among its children."""


def fold_status(conditions: Mapping[str, ConditionView]) -> Status:
    stalled = conditions.get("Stalled")
    if stalled is not None and stalled.status == "True":
        return "failed"
    ready = conditions.get("Ready")
    if ready is None:
        return "pending"
    if ready.status == "True":
        return "succeeded"
    if ready.status == "False" and ready.reason in FAILED_REASONS:
        return "failed"
    return "running"


def worst(present: Mapping[Status, int]) -> Status:
    """The most severe status with a non-zero count; `pending` when there is none."""
    for status in SEVERITY:
        if present.get(status, 0) > 0:
            return status
    return "pending"
