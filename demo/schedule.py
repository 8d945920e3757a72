"""The bootstrap as a timeline: which release changes when, in dependency order.

It is pure so the order of the play can be checked without a cluster, and
so the player only has to keep time. Flux reconciles releases in parallel
and starts a dependent on the requeue after its last dependency is Ready,
so a release starts one tick after its slowest dependency succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from demo.bootstrap import Sample

Action = Literal["create", "progressing", "failed", "retrying", "succeeded", "delete"]

FIRST_START: Final = 2
"""Ticks the releases stay pending after they are created: the canvas shows them grey first."""
RETRY_AFTER: Final = 3
"""Ticks a failed install waits before helm-controller retries it."""
DELETE_AFTER: Final = 2
"""Ticks after the last success at which the deleted release goes."""


@dataclass(frozen=True)
class Step:
    """At tick ``at``, ``action`` happens to release ``name``."""

    at: int
    name: str
    action: Action


def _order(samples: Sequence[Sample]) -> list[Sample]:
    """Dependencies before dependents, whatever order the samples come in."""
    by_name = {s.name: s for s in samples}
    done: dict[str, None] = {}
    visiting: set[str] = set()

    def visit(sample: Sample) -> None:
        if sample.name in done:
            return
        if sample.name in visiting:
            raise ValueError(f"dependency cycle through {sample.name}")
        visiting.add(sample.name)
        for dep in sample.depends_on:
            if dep not in by_name:
                raise ValueError(f"{sample.name} depends on unknown {dep}")
            visit(by_name[dep])
        visiting.discard(sample.name)
        done[sample.name] = None

    for sample in samples:
        visit(sample)
    return [by_name[name] for name in done]


def schedule(samples: Sequence[Sample], *, failing: str, deleted: str) -> list[Step]:
    """Every step of the play, sorted by tick (and by the samples' order within a tick).

    ``failing`` fails its first install and succeeds on the retry;
    ``deleted`` is deleted once every release has succeeded.
    """
    steps = [Step(0, s.name, "create") for s in samples]
    succeeded_at: dict[str, int] = {}
    for sample in _order(samples):
        start = max((succeeded_at[d] + 1 for d in sample.depends_on), default=FIRST_START)
        steps.append(Step(start, sample.name, "progressing"))
        end = start + sample.install_ticks
        if sample.name == failing:
            steps.append(Step(end, sample.name, "failed"))
            retry = end + RETRY_AFTER
            steps.append(Step(retry, sample.name, "retrying"))
            end = retry + sample.install_ticks
        steps.append(Step(end, sample.name, "succeeded"))
        succeeded_at[sample.name] = end
    for name in (failing, deleted):
        if name not in succeeded_at:
            raise ValueError(f"{name} is not in the sample")
    steps.append(Step(max(succeeded_at.values()) + DELETE_AFTER, deleted, "delete"))
    rank = {s.name: i for i, s in enumerate(samples)}
    return sorted(steps, key=lambda step: (step.at, rank[step.name]))
