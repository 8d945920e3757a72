"""One HelmRelease to its node and edges (docs/contract.md, "What the adapter sends")."""

from __future__ import annotations

from typing import Any

import pytest

from mapper.contract import FlowNode, Relationship
from mapper.objects import ChartView, ReleaseView, Unmappable, parse_chart, parse_release
from mapper.release import MappedRelease, map_release
from tests.fixtures import ready_chart, upgrade_failed_release
from tests.support.objects import condition, helm_release

REGION = "eu-west-1"
FLOW = "bootstrap"
STALL = "2025-11-21T09:00:00Z"


def mapped(obj: dict[str, Any], chart: dict[str, Any] | None = None) -> MappedRelease:
    view = parse_release(obj)
    assert isinstance(view, ReleaseView), view
    chart_view = None
    if chart is not None:
        parsed = parse_chart(chart)
        assert isinstance(parsed, ChartView), parsed
        chart_view = parsed
    return map_release(view, REGION, FLOW, chart_view)


def test_node_identity_is_region_slash_name() -> None:
    node = mapped(helm_release("bp-cilium")).node
    assert (node.id, node.label, node.region, node.flow_id) == (
        "eu-west-1/bp-cilium",
        "bp-cilium",
        REGION,
        FLOW,
    )


def test_family_comes_from_the_label_trimmed() -> None:
    obj = helm_release("bp-cilium", labels={"catalyst.openova.io/family": "  network "})
    assert mapped(obj).node.family == "network"


@pytest.mark.parametrize("label", ["", "   "])
def test_blank_family_label_falls_back_to_the_name(label: str) -> None:
    obj = helm_release("bp-cert-manager", labels={"catalyst.openova.io/family": label})
    assert mapped(obj).node.family == "cert-manager"


def test_family_without_label_strips_only_a_leading_bp_prefix() -> None:
    assert mapped(helm_release("bp-cert-manager")).node.family == "cert-manager"
    assert mapped(helm_release("cert-bp-manager")).node.family == "cert-bp-manager"


def test_contains_edge_runs_from_child_to_region() -> None:
    rels = mapped(helm_release("bp-cilium")).relationships
    assert rels == (Relationship(from_id="eu-west-1/bp-cilium", to_id=REGION, type="contains"),)


def test_depends_on_edges_run_from_dependency_to_dependent() -> None:
    obj = helm_release("bp-keycloak", depends_on=[{"name": "bp-cert-manager"}, {"name": "bp-cnpg"}])
    edges = [r for r in mapped(obj).relationships if r.type == "finish-to-start"]
    assert edges == [
        Relationship(
            from_id="eu-west-1/bp-cert-manager",
            to_id="eu-west-1/bp-keycloak",
            type="finish-to-start",
            condition="on-success",
        ),
        Relationship(
            from_id="eu-west-1/bp-cnpg",
            to_id="eu-west-1/bp-keycloak",
            type="finish-to-start",
            condition="on-success",
        ),
    ]


def test_depends_on_entries_without_a_name_are_skipped() -> None:
    obj = helm_release(
        "bp-x", depends_on=[{"namespace": "flux-system"}, {"name": ""}, {"name": "bp-y"}]
    )
    sources = [r.from_id for r in mapped(obj).relationships if r.type == "finish-to-start"]
    assert sources == ["eu-west-1/bp-y"]


def test_depends_on_in_another_namespace_still_points_into_the_region() -> None:
    obj = helm_release("bp-x", depends_on=[{"name": "bp-y", "namespace": "elsewhere"}])
    sources = [r.from_id for r in mapped(obj).relationships if r.type == "finish-to-start"]
    assert sources == ["eu-west-1/bp-y"]


def test_duplicate_depends_on_entries_yield_one_edge() -> None:
    obj = helm_release(
        "bp-x", depends_on=[{"name": "bp-y"}, {"name": "bp-y", "namespace": "other"}]
    )
    assert len(mapped(obj).relationships) == 2


def test_started_at_is_creation_timestamp_in_millis() -> None:
    node = mapped(helm_release("bp-x", created="2026-11-20T08:00:00Z")).node
    assert node.started_at == 1_795_161_600_000


@pytest.mark.parametrize(
    ("ready", "reason", "ended"),
    [
        ("True", "InstallSucceeded", 1_795_165_200_000),
        ("False", "InstallFailed", 1_795_165_200_000),
        ("False", "Progressing", None),
        ("Unknown", "Progressing", None),
    ],
)
def test_ended_at_is_ready_transition_only_when_finished(
    ready: str, reason: str, ended: int | None
) -> None:
    obj = helm_release(
        "bp-x", conditions=[condition("Ready", ready, reason, at="2026-11-20T09:00:00Z")]
    )
    assert mapped(obj).node.ended_at == ended


def test_pending_release_has_no_ended_at() -> None:
    assert mapped(helm_release("bp-x")).node.ended_at is None


def test_meta_of_the_real_upgrade_failed_release() -> None:
    node = mapped(upgrade_failed_release()).node
    assert node.meta == {
        "namespace": "flux-system",
        "readyReason": "UpgradeFailed",
        "readyMessage": "Helm upgrade failed for release keycloak/keycloak with chart "
        "keycloakx@7.1.3: context deadline exceeded",
        "generation": 1,
        "observedGeneration": 1,
        "lastAttemptedRevision": "7.1.3",
        "slot": "31",
        "component": "keycloak",
    }


def test_ready_message_is_cut_to_512_characters() -> None:
    obj = helm_release(
        "bp-x", conditions=[condition("Ready", "False", "InstallFailed", "x" * 2000)]
    )
    meta = mapped(obj).node.meta
    assert meta is not None
    assert meta["readyMessage"] == "x" * 512


def test_suspended_appears_only_when_true() -> None:
    obj = helm_release("bp-x")
    obj["spec"]["suspend"] = True
    assert (mapped(obj).node.meta or {})["suspended"] is True
    obj["spec"]["suspend"] = False
    assert "suspended" not in (mapped(obj).node.meta or {})


def test_chart_enrichment_goes_into_meta_chart() -> None:
    node = mapped(upgrade_failed_release(), ready_chart()).node
    assert (node.meta or {})["chart"] == {
        "ref": "flux-system/flux-system-bp-keycloak",
        "name": "keycloakx",
        "version": "7.1.3",
        "ready": "True",
        "reason": "ChartPullSucceeded",
    }


def test_a_failing_chart_never_changes_the_release_status() -> None:
    obj = helm_release("bp-x", conditions=[condition("Ready", "True", "InstallSucceeded")])
    chart = ready_chart()
    chart["status"]["conditions"][0].update(status="False", reason="ChartPullFailed")
    assert mapped(obj, chart).node.status == "succeeded"


def test_a_stalled_chart_fails_its_release_and_says_why_in_meta_chart() -> None:
    obj = helm_release("bp-x", conditions=[condition("Ready", "False", "SourceNotReady")])
    chart = ready_chart()
    chart["status"]["conditions"] = [
        condition("Stalled", "True", "InvalidChartReference", "no chart version '9.9.9'", at=STALL),
        condition("Ready", "False", "InvalidChartReference", "no chart version '9.9.9'", at=STALL),
    ]
    node = mapped(obj, chart).node
    assert node.status == "failed"
    assert node.ended_at == 1763715600000  # the moment the chart stalled
    assert (node.meta or {})["chart"] == {
        "ref": "flux-system/flux-system-bp-keycloak",
        "name": "keycloakx",
        "version": "7.1.3",
        "ready": "False",
        "reason": "InvalidChartReference",
        "message": "no chart version '9.9.9'",
        "stalled": True,
    }


def test_a_long_chart_stall_message_is_cut_like_a_ready_message() -> None:
    chart = ready_chart()
    chart["status"]["conditions"] = [
        condition("Stalled", "True", "InvalidChartReference", "x" * 4000)
    ]
    meta = (mapped(helm_release("bp-x"), chart).node.meta or {})["chart"]
    assert isinstance(meta, dict)
    assert meta["message"] == "x" * 512


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param(
            {"kind": "OCIRepository", "name": "podinfo"},
            {"kind": "OCIRepository", "namespace": "flux-system", "name": "podinfo"},
            id="oci-defaults-to-the-release-namespace",
        ),
        pytest.param(
            {"kind": "ExternalArtifact", "name": "podinfo", "namespace": "ci"},
            {"kind": "ExternalArtifact", "namespace": "ci", "name": "podinfo"},
            id="external-artifact",
        ),
        pytest.param({"kind": "HelmChart", "name": "podinfo"}, None, id="helm-chart-is-no-source"),
    ],
)
def test_chart_ref_to_a_source_goes_into_meta_source(
    ref: dict[str, str], expected: dict[str, str] | None
) -> None:
    meta = mapped(helm_release("bp-x", chart_ref=ref)).node.meta or {}
    assert meta.get("source") == expected


def test_the_real_release_serialises_to_contract_json() -> None:
    node = mapped(upgrade_failed_release()).node
    assert FlowNode.model_validate_json(node.wire()) == node
    encoded = node.wire().decode()
    assert encoded.startswith('{"id":"eu-west-1/bp-keycloak","flowId":"bootstrap","label"')
    assert "null" not in encoded


@pytest.mark.parametrize(
    ("obj", "reason_part"),
    [
        pytest.param("not an object", "expected an object", id="scalar"),
        pytest.param({"metadata": {}}, ".metadata.name", id="no-name"),
        pytest.param({"metadata": {"name": 7}}, ".metadata.name", id="name-not-string"),
        pytest.param(
            {"metadata": {"name": "x", "labels": {"catalyst.openova.io/family": 1}}},
            ".metadata.labels[catalyst.openova.io/family]",
            id="labels",
        ),
        pytest.param({"metadata": {"name": "x", "labels": ["a"]}}, ".metadata.labels", id="nomap"),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"dependsOn": {}}}, "dependsOn", id="deps"
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "status": {"conditions": [{"type": "Ready"}]}},
            "conditions[0]",
            id="condition-without-status",
        ),
        pytest.param(
            {"metadata": {"name": "x", "creationTimestamp": "yesterday"}},
            "creationTimestamp",
            id="bad-timestamp",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "status": {"helmChart": "no-slash"}},
            "helmChart",
            id="bad-chart-ref",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"chartRef": {"name": "podinfo"}}},
            ".spec.chartRef",
            id="chart-ref-without-kind",
        ),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"chartRef": "podinfo"}},
            ".spec.chartRef",
            id="chart-ref-not-an-object",
        ),
        pytest.param({"metadata": {"name": "x", "generation": "1"}}, "generation", id="gen"),
    ],
)
def test_unmappable_release_yields_a_reason_not_an_exception(obj: object, reason_part: str) -> None:
    parsed = parse_release(obj)
    assert isinstance(parsed, Unmappable)
    assert reason_part in parsed.reason


def test_a_label_the_mapper_does_not_read_cannot_make_a_release_unmappable() -> None:
    obj = helm_release("bp-cilium")
    obj["metadata"]["labels"] = {"team.example/owner": 7}
    assert not isinstance(parse_release(obj), Unmappable)
