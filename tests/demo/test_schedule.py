"""The play's timeline: dependency order, the failure and its retry, the delete last."""

from __future__ import annotations

import pytest

from demo.bootstrap import DELETED, FAILING, SAMPLE, Sample, expected_final, mismatches
from demo.schedule import Step, schedule


def sample(name: str, ticks: int, *deps: str) -> Sample:
    return Sample(name, "fam", name, "1.0.0", "ns", deps, ticks)


def test_dependents_start_a_tick_after_their_slowest_dependency() -> None:
    # Declared out of order on purpose: c before the a it waits for.
    samples = [sample("c", 1, "a", "b"), sample("a", 1), sample("b", 3), sample("d", 1)]

    steps = schedule(samples, failing="b", deleted="d")

    assert steps == [
        Step(0, "c", "create"),
        Step(0, "a", "create"),
        Step(0, "b", "create"),
        Step(0, "d", "create"),
        Step(2, "a", "progressing"),
        Step(2, "b", "progressing"),
        Step(2, "d", "progressing"),
        Step(3, "a", "succeeded"),
        Step(3, "d", "succeeded"),
        Step(5, "b", "failed"),
        Step(8, "b", "retrying"),
        Step(11, "b", "succeeded"),
        Step(12, "c", "progressing"),
        Step(13, "c", "succeeded"),
        Step(15, "d", "delete"),
    ]


def test_the_sample_plays_every_release_through_in_dependency_order() -> None:
    steps = schedule(SAMPLE, failing=FAILING, deleted=DELETED)
    succeeded = {s.name: s.at for s in steps if s.action == "succeeded"}
    started = {s.name: s.at for s in steps if s.action == "progressing"}

    assert len(SAMPLE) == 16
    assert set(succeeded) == {s.name for s in SAMPLE}
    for release in SAMPLE:
        assert all(succeeded[dep] < started[release.name] for dep in release.depends_on)
    assert [s.action for s in steps if s.name == FAILING] == [
        "create",
        "progressing",
        "failed",
        "retrying",
        "succeeded",
    ]
    assert steps[-1] == Step(max(succeeded.values()) + 2, DELETED, "delete")


def test_nothing_depends_on_the_deleted_release() -> None:
    assert not [s.name for s in SAMPLE if DELETED in s.depends_on]


@pytest.mark.parametrize(
    ("samples", "deleted", "problem"),
    [
        ([sample("a", 1, "b"), sample("b", 1, "a")], "a", "dependency cycle"),
        ([sample("a", 1, "ghost")], "a", "unknown ghost"),
        ([sample("a", 1)], "b", "b is not in the sample"),
    ],
)
def test_a_broken_sample_is_refused(samples: list[Sample], deleted: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        schedule(samples, failing="a", deleted=deleted)


def test_mismatches_name_every_difference_from_the_expected_graph() -> None:
    expected = expected_final([sample("a", 1), sample("b", 1, "a")], "b", "r")
    snapshot = {
        "type": "snapshot",
        "nodes": [
            {"id": "r", "status": "succeeded"},
            {"id": "r/a", "status": "running", "family": "fam"},
            {"id": "r/b", "status": "succeeded", "family": "fam"},
        ],
        "relationships": [{"fromId": "r/a", "toId": "r/b", "type": "finish-to-start"}],
    }

    assert mismatches(expected, snapshot) == [
        "r/a is running, expected succeeded",
        "unexpected node r/b (succeeded)",
        "missing edge r/a -[contains]-> r",
        "unexpected edge r/a -[finish-to-start]-> r/b",
    ]
    assert mismatches(expected, None) == ["the flow server holds nothing for the flow"]
