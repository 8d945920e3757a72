"""Folding a HelmRelease, and the HelmChart it uses, into the canvas's four statuses."""

from __future__ import annotations

from collections.abc import Mapping

from mapper.contract import Status
from mapper.objects import ChartView, Condition, ReleaseView, find

FAILED_REASONS = frozenset(
    {
        # a Helm action failed (helm-controller v2's Released and TestSuccess reasons)
        "InstallFailed",
        "UpgradeFailed",
        "TestFailed",
        # the remediation of a failed action (Remediated's reasons, copied into Ready)
        "RollbackSucceeded",
        "RollbackFailed",
        "UninstallSucceeded",
        "UninstallFailed",
        # retries spent, or nothing to roll back to (the design card's and Stalled's reasons)
        "RetriesExhausted",
        "RetriesExceeded",
        "MissingRollbackTarget",
    }
)
"""`Ready=False` reasons that report a failed Helm action or its remediation.

helm-controller copies into `Ready` the reason of the newest of `Released`,
`TestSuccess` and `Remediated`, so a rollback that *succeeded* still means
the upgrade failed. The other v2 reasons (`ArtifactFailed`, `InitFailed`,
`GetLastReleaseFailed`, `DependencyNotReady`, `ReconciliationFailed`, ...)
are retried by the controller and fold to `running`. Each choice and its
reason: `docs/design.md`, "Status folding".
"""

SEVERITY: tuple[Status, ...] = ("failed", "running", "pending", "succeeded")
"""Worst first: the region shows the worst status among its children."""


def is_true(conditions: tuple[Condition | None, ...], ctype: str) -> bool:
    """Whether the `status.conditions[]` entry of type `ctype` says `"True"`."""
    cond = find(conditions, ctype)
    return cond is not None and cond.status == "True"


def fold_ready(conditions: tuple[Condition | None, ...]) -> Status:
    """The design card's table on the `Ready` condition of `status.conditions` alone."""
    ready = find(conditions, "Ready")
    if ready is None:
        return "pending"
    if ready.status == "True":
        return "succeeded"
    if ready.status == "False" and ready.reason in FAILED_REASONS:
        return "failed"
    return "running"


def observed_generation(release: ReleaseView) -> int | None:
    """The generation `Ready` describes.

    The condition's own `observedGeneration` first: helm-controller may write
    `Ready` for the current generation before `status.observedGeneration`
    catches up. Without it, `status.observedGeneration`.
    """
    ready = release.condition("Ready")
    if ready is not None and ready.observed_generation is not None:
        return ready.observed_generation
    return release.status.observed_generation


def applies_older_spec(release: ReleaseView) -> bool:
    """Whether `Ready` was written for a generation older than `metadata.generation`."""
    observed = observed_generation(release)
    generation = release.metadata.generation
    return generation is not None and observed is not None and observed < generation


def fold_status(release: ReleaseView, chart: ChartView | None = None) -> Status:
    """The release's status; first match wins.

    1. its own `Stalled=True`: helm-controller gave up → failed;
    2. its HelmChart's `Stalled=True` (source-controller gave up) → failed;
    3. the `Ready` table (`fold_ready`);
    4. a `succeeded` whose `Ready` describes an older `metadata.generation`
       → running, unless `spec.suspend` is true (nothing will apply it).
    """
    if is_true(release.status.conditions, "Stalled"):
        return "failed"
    if chart is not None and chart.stalled is not None:
        return "failed"
    status = fold_ready(release.status.conditions)
    if status == "succeeded" and not release.spec.suspend and applies_older_spec(release):
        return "running"
    return status


def worst(present: Mapping[Status, int]) -> Status:
    """The most severe status with a non-zero count; `pending` when there is none."""
    for status in SEVERITY:
        if present.get(status, 0) > 0:
            return status
    return "pending"
