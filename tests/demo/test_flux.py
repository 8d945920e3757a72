"""Reading helm-controller's Ready condition, and telling which releases changed between looks."""

from __future__ import annotations

from typing import Any

from demo.flux import NOT_YET, Ready, ReadyLog, ready_of


def release(name: str, *conditions: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conditions
            ]
        },
    }


INSTALLING = ("Ready", "Unknown", "Progressing", "Running 'install' action with timeout of 30s")
INSTALLED = (
    "Ready",
    "True",
    "InstallSucceeded",
    "Helm install succeeded for release kube-system/cilium.v1 with chart cilium@1.16.5",
)


def test_ready_is_read_as_helm_controller_wrote_it() -> None:
    obj = release("bp-cilium", ("Released", "True", "InstallSucceeded", "x"), INSTALLED)

    assert str(ready_of(obj)) == (
        "Ready=True InstallSucceeded: Helm install succeeded for release kube-system/cilium.v1 "
        "with chart cilium@1.16.5"
    )


def test_a_release_helm_controller_has_not_looked_at_says_so() -> None:
    ready = ready_of({"metadata": {"name": "bp-a"}})

    assert ready == NOT_YET
    assert str(ready) == "no Ready condition yet"


def test_a_multi_line_message_is_printed_on_one_line() -> None:
    obj = release("bp-a", ("Ready", "False", "InstallFailed", "failed:\n  ConfigMap is invalid"))

    assert ready_of(obj).message == "failed: ConfigMap is invalid"


def test_each_change_of_ready_is_reported_once_and_a_release_not_yet_seen_by_flux_is_not() -> None:
    log = ReadyLog()

    first = log.changes([release("bp-a", INSTALLING), release("bp-b")])
    again = log.changes([release("bp-a", INSTALLING), release("bp-b")])
    later = log.changes([release("bp-a", INSTALLED), release("bp-b", INSTALLING)])

    assert first == [("bp-a", Ready("Unknown", "Progressing", INSTALLING[3]))]
    assert again == []
    assert later == [
        ("bp-a", Ready("True", "InstallSucceeded", INSTALLED[3])),
        ("bp-b", Ready("Unknown", "Progressing", INSTALLING[3])),
    ]


def test_a_release_gone_from_the_cluster_is_reported_as_none() -> None:
    log = ReadyLog()
    log.changes([release("bp-trivy", INSTALLED)])

    assert log.changes([]) == [("bp-trivy", None)]
    assert log.changes([]) == []
