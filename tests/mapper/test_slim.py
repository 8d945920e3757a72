"""The store keeps only what the mapper reads."""

from __future__ import annotations

import json

from mapper.slim import slim
from tests.fixtures import ready_chart, upgrade_failed_release


def test_slim_release_drops_managed_fields_values_and_history() -> None:
    slimmed = slim("HelmRelease", upgrade_failed_release())
    assert "managedFields" not in slimmed["metadata"]
    assert "values" not in slimmed["spec"]
    assert "history" not in slimmed["status"]
    assert [c["type"] for c in slimmed["status"]["conditions"]] == ["Ready"]
    assert slimmed["status"]["helmChart"] == "flux-system/flux-system-bp-keycloak"
    assert len(json.dumps(slimmed)) * 4 < len(json.dumps(upgrade_failed_release()))


def test_slim_chart_keeps_chart_name_revision_and_ready() -> None:
    slimmed = slim("HelmChart", ready_chart())
    assert slimmed["spec"] == {"chart": "keycloakx", "version": "7.1.x"}
    assert slimmed["status"]["artifact"] == {"revision": "7.1.3"}
    assert [c["type"] for c in slimmed["status"]["conditions"]] == ["Ready"]
    assert slimmed["metadata"]["labels"] == {
        "helm.toolkit.fluxcd.io/name": "bp-keycloak",
        "helm.toolkit.fluxcd.io/namespace": "flux-system",
    }


def test_slim_copies_wrong_types_as_they_are() -> None:
    assert slim("HelmRelease", {"metadata": "oops", "spec": [1]}) == {
        "metadata": "oops",
        "spec": [1],
    }


def test_slim_keeps_conditions_it_cannot_name_so_the_mapper_can_refuse_them() -> None:
    obj = {"metadata": {"name": "x"}, "status": {"conditions": [{}, {"type": 3}, "junk"]}}
    assert slim("HelmRelease", obj)["status"]["conditions"] == [{}, {"type": 3}, "junk"]


def test_slim_drops_the_resource_version_so_a_no_op_write_packs_equal() -> None:
    before = upgrade_failed_release()
    after = upgrade_failed_release()
    after["metadata"]["resourceVersion"] = "999999"
    after["metadata"].setdefault("annotations", {})["touched"] = "now"
    assert "resourceVersion" not in slim("HelmRelease", before)["metadata"]
    assert slim("HelmRelease", after) == slim("HelmRelease", before)


def test_slim_keeps_only_the_labels_the_mapper_reads() -> None:
    obj = {
        "metadata": {
            "name": "bp-harbor",
            "labels": {
                "catalyst.openova.io/family": "registry",
                "catalyst.openova.io/slot": "2",
                "catalyst.openova.io/component": "harbor",
                "app.kubernetes.io/managed-by": "flux",
                "kustomize.toolkit.fluxcd.io/name": "bootstrap",
            },
        }
    }
    assert slim("HelmRelease", obj)["metadata"]["labels"] == {
        "catalyst.openova.io/family": "registry",
        "catalyst.openova.io/slot": "2",
        "catalyst.openova.io/component": "harbor",
    }


def test_slim_copies_labels_of_the_wrong_type_as_they_are() -> None:
    assert slim("HelmChart", {"metadata": {"labels": ["x"]}})["metadata"]["labels"] == ["x"]


def test_slim_keeps_what_the_status_fold_reads_chart_ref_and_condition_generations() -> None:
    obj = upgrade_failed_release()
    obj["metadata"]["generation"] = 12
    obj["spec"]["chartRef"] = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "name": "keycloakx",
        "namespace": "flux-system",
    }
    obj["status"]["conditions"].append(
        {
            "lastTransitionTime": "2026-11-20T09:19:41Z",
            "message": "Failed to upgrade after 4 attempt(s)",
            "observedGeneration": 12,
            "reason": "RetriesExceeded",
            "status": "True",
            "type": "Stalled",
        }
    )

    slimmed = slim("HelmRelease", obj)

    assert slimmed["metadata"]["generation"] == 12
    assert slimmed["spec"]["chartRef"] == {
        "kind": "HelmChart",
        "name": "keycloakx",
        "namespace": "flux-system",
    }
    assert [(c["type"], c["observedGeneration"]) for c in slimmed["status"]["conditions"]] == [
        ("Ready", 1),
        ("Stalled", 12),
    ]


def test_slim_chart_keeps_its_stalled_condition() -> None:
    obj = ready_chart()
    obj["status"]["conditions"].insert(
        0,
        {
            "lastTransitionTime": "2026-11-21T09:00:02Z",
            "message": "invalid chart reference: no 'keycloakx' chart matching '9.9.9'",
            "observedGeneration": 2,
            "reason": "InvalidChartReference",
            "status": "True",
            "type": "Stalled",
        },
    )
    slimmed = slim("HelmChart", obj)
    assert slimmed["status"]["conditions"][0] == obj["status"]["conditions"][0]
