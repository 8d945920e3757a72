"""Reading HelmReleases and HelmCharts into views: what is read, what is ignored, what fails."""

from __future__ import annotations

from typing import Any

from mapper.objects import (
    LABELS_READ,
    ChartView,
    ReleaseView,
    Unmappable,
    parse_chart,
    parse_release,
)
from mapper.slim import slim


def read(obj: dict[str, Any]) -> ReleaseView:
    view = parse_release(obj)
    assert isinstance(view, ReleaseView), view
    return view


def refused(obj: object) -> str:
    view = parse_release(obj)
    assert isinstance(view, Unmappable), view
    return view.reason


def read_chart(obj: dict[str, Any]) -> ChartView:
    view = parse_chart(obj)
    assert isinstance(view, ChartView), view
    return view


def test_a_release_reads_every_field_the_mapper_uses() -> None:
    view = read(
        {
            "metadata": {
                "name": "bp-harbor",
                "namespace": "flux-system",
                "creationTimestamp": "2026-11-20T09:00:00Z",
                "generation": 3,
                "labels": {"catalyst.openova.io/family": "registry"},
            },
            "spec": {
                "dependsOn": [{"name": "bp-cilium"}],
                "suspend": True,
                "chartRef": {"kind": "OCIRepository", "name": "harbor"},
            },
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded"}],
                "observedGeneration": 2,
                "lastAttemptedRevision": "1.2.3",
                "helmChart": "flux-system/flux-system-bp-harbor",
            },
        }
    )
    assert view.key == ("flux-system", "bp-harbor")
    assert view.metadata.created_ms == 1_795_165_200_000
    assert view.metadata.generation == 3
    assert view.metadata.labels.family == "registry"
    assert [dep.name for dep in view.spec.depends_on] == ["bp-cilium"]
    assert view.spec.suspend is True
    assert view.source == ("OCIRepository", ("flux-system", "harbor"))
    ready = view.condition("Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("True", "Succeeded")
    assert view.status.observed_generation == 2
    assert view.status.last_attempted_revision == "1.2.3"
    assert view.status.helm_chart == ("flux-system", "flux-system-bp-harbor")


def test_fields_the_mapper_does_not_declare_are_ignored() -> None:
    view = read(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "metadata": {"name": "bp-a", "uid": "1234", "annotations": {"a": "b"}},
            "spec": {"interval": "10m", "chart": {"spec": {"chart": "a"}}},
            "status": {"history": [{"chartVersion": "1.0.0"}]},
        }
    )
    assert view.key == ("", "bp-a")


def test_an_unread_malformed_field_does_not_fail_the_parse() -> None:
    read(
        {
            "metadata": {"name": "bp-a", "annotations": 7, "labels": {"team.example/owner": 7}},
            "spec": {
                "values": "not an object",
                "interval": 10,
                "dependsOn": [{"name": "b", "x": 1}],
            },
            "status": {"history": "not a list", "lastAttemptedGeneration": "2"},
        }
    )


def test_a_dependency_namespace_is_not_read_so_it_cannot_fail_the_parse() -> None:
    view = read(
        {"metadata": {"name": "bp-a"}, "spec": {"dependsOn": [{"name": "b", "namespace": 7}]}}
    )
    assert [dep.name for dep in view.spec.depends_on] == ["b"]


def test_a_wrong_typed_chart_ref_gives_an_error_naming_spec_chart_ref() -> None:
    assert refused({"metadata": {"name": "bp-a"}, "spec": {"chartRef": "podinfo"}}) == (
        "HelmRelease .spec.chartRef: expected an object, got str"
    )


def test_a_chart_ref_without_a_kind_names_the_missing_kind() -> None:
    reason = refused({"metadata": {"name": "bp-a"}, "spec": {"chartRef": {"name": "podinfo"}}})
    assert reason == "HelmRelease .spec.chartRef.kind: missing or empty"


def test_a_condition_error_names_its_index_in_the_list() -> None:
    reason = refused(
        {
            "metadata": {"name": "bp-a"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Stalled"}]},
        }
    )
    assert reason == "HelmRelease .status.conditions[1].status: missing or empty"


def test_a_malformed_condition_of_a_type_the_mapper_does_not_read_does_not_fail_the_parse() -> None:
    view = read(
        {
            "metadata": {"name": "bp-a"},
            "status": {
                "conditions": [
                    {"type": "Released", "status": 5, "lastTransitionTime": "never"},
                    {"type": "Ready", "status": "True"},
                ]
            },
        }
    )
    ready = view.condition("Ready")
    assert ready is not None
    assert ready.status == "True"


def test_a_condition_error_keeps_its_index_past_conditions_not_read() -> None:
    reason = refused(
        {
            "metadata": {"name": "bp-a"},
            "status": {"conditions": [{"type": "Released"}, {"type": "Stalled", "status": 1}]},
        }
    )
    assert reason == "HelmRelease .status.conditions[1].status: expected a string, got int"


def test_a_condition_without_a_type_is_refused() -> None:
    reason = refused({"metadata": {"name": "bp-a"}, "status": {"conditions": [{"status": "True"}]}})
    assert reason == "HelmRelease .status.conditions[0].type: missing or empty"


def test_a_release_and_its_slim_form_read_alike_past_a_malformed_unread_condition() -> None:
    obj = {
        "metadata": {"name": "bp-a"},
        "status": {
            "conditions": [
                {"type": "Reconciling", "status": None},
                {"type": "Ready", "status": "False", "reason": "UpgradeFailed"},
            ]
        },
    }
    assert read(obj).condition("Ready") == read(slim("HelmRelease", obj)).condition("Ready")


def test_a_label_error_names_the_label_key_in_brackets() -> None:
    reason = refused({"metadata": {"name": "bp-a", "labels": {"catalyst.openova.io/slot": 7}}})
    assert (
        reason
        == "HelmRelease .metadata.labels[catalyst.openova.io/slot]: expected a string, got int"
    )


def test_a_generation_written_as_a_string_is_refused_not_converted() -> None:
    assert "generation: expected an integer, got str" in refused(
        {"metadata": {"name": "bp-a", "generation": "1"}}
    )


def test_a_generation_written_as_a_boolean_is_refused() -> None:
    assert "generation: expected an integer, got bool" in refused(
        {"metadata": {"name": "bp-a", "generation": True}}
    )


def test_suspend_written_as_a_string_is_refused_not_converted() -> None:
    assert refused({"metadata": {"name": "bp-a"}, "spec": {"suspend": "true"}}) == (
        "HelmRelease .spec.suspend: expected a boolean, got str"
    )


def test_a_timestamp_that_is_not_rfc_3339_says_so() -> None:
    assert refused({"metadata": {"name": "bp-a", "creationTimestamp": "yesterday"}}) == (
        "HelmRelease .metadata.creationTimestamp: not an RFC 3339 timestamp: 'yesterday'"
    )


def test_every_problem_of_an_object_is_named_in_its_reason() -> None:
    reason = refused(
        {"metadata": {"name": "bp-a"}, "status": {"conditions": "none", "helmChart": "no-slash"}}
    )
    assert reason == (
        "HelmRelease .status.conditions: expected a list, got str; "
        ".status.helmChart: expected <namespace>/<name>, got 'no-slash'"
    )


def test_an_object_that_is_not_a_mapping_is_refused_at_the_root() -> None:
    assert refused(["a", "list"]) == "HelmRelease : expected an object, got list"


def test_null_sections_and_lists_read_as_empty() -> None:
    view = read(
        {
            "metadata": {"name": "bp-a", "namespace": None, "labels": None},
            "spec": {"dependsOn": None, "chartRef": None},
            "status": None,
        }
    )
    assert view.key == ("", "bp-a")
    assert view.metadata.labels.family is None
    assert view.spec.depends_on == ()
    assert view.status.conditions == ()
    assert view.chart_key is None


def test_an_empty_helm_chart_reference_reads_as_none() -> None:
    assert read({"metadata": {"name": "bp-a"}, "status": {"helmChart": ""}}).chart_key is None


def test_the_last_condition_of_a_type_is_the_one_read() -> None:
    view = read(
        {
            "metadata": {"name": "bp-a"},
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "Ready", "status": "True"},
                ]
            },
        }
    )
    ready = view.condition("Ready")
    assert ready is not None
    assert ready.status == "True"


def test_a_chart_ref_without_a_namespace_is_in_the_release_namespace() -> None:
    view = read(
        {
            "metadata": {"name": "bp-a", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "HelmChart", "name": "shared"}},
        }
    )
    assert view.chart_key == ("apps", "shared")


def test_a_chart_ref_to_another_kind_overrides_the_helm_chart_in_status() -> None:
    view = read(
        {
            "metadata": {"name": "bp-a", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "a"}},
            "status": {"helmChart": "apps/apps-bp-a"},
        }
    )
    assert view.chart_key is None


def test_recurring_strings_are_shared_between_views() -> None:
    first = read({"metadata": {"name": "bp-a", "namespace": "".join(["team", "-a"])}})
    second = read({"metadata": {"name": "bp-b", "namespace": "".join(["team-", "a"])}})
    assert first.namespace is second.namespace


def test_the_labels_slimming_keeps_are_the_ones_the_views_declare() -> None:
    assert LABELS_READ == {
        "HelmRelease": (
            "catalyst.openova.io/family",
            "catalyst.openova.io/slot",
            "catalyst.openova.io/component",
        ),
        "HelmChart": ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"),
    }


def test_a_chart_version_is_its_artifact_revision_before_its_requested_range() -> None:
    chart = {"metadata": {"name": "c"}, "spec": {"version": "6.x"}}
    assert read_chart(chart).version == "6.x"
    assert read_chart(chart | {"status": {"artifact": {"revision": "6.5.0"}}}).version == "6.5.0"


def test_a_chart_owner_namespace_defaults_to_the_chart_namespace() -> None:
    chart = read_chart(
        {
            "metadata": {
                "name": "apps-bp-a",
                "namespace": "apps",
                "labels": {"helm.toolkit.fluxcd.io/name": "bp-a"},
            }
        }
    )
    assert chart.owner == ("apps", "bp-a")


def test_a_chart_stall_counts_only_when_it_is_true() -> None:
    def stalled(status: str) -> ChartView:
        cond = {"type": "Stalled", "status": status, "reason": "InvalidChartReference"}
        return read_chart({"metadata": {"name": "c"}, "status": {"conditions": [cond]}})

    assert stalled("False").stalled is None
    assert stalled("True").stalled is not None


def test_a_chart_error_is_reported_as_a_helm_chart() -> None:
    view = parse_chart({"metadata": {"name": "c"}, "status": {"artifact": {"revision": 6}}})
    assert view == Unmappable("HelmChart .status.artifact.revision: expected a string, got int")
