"""The kit the demo applies: its HelmReleases, its charts, and the graph it must end as."""

from __future__ import annotations

import tarfile
from pathlib import Path

import yaml

from demo.bootstrap import (
    DELETED,
    FAILING,
    SAMPLE,
    Sample,
    expected_final,
    mismatches,
    publish_fix,
    publish_kit,
    release_object,
    repository_object,
)
from localcluster.chartrepo import ChartRepository


def sample(name: str, *deps: str) -> Sample:
    return Sample(name, "fam", name, "1.0.0", "ns", deps)


def test_a_release_installs_its_chart_from_the_kits_repository_after_its_dependencies() -> None:
    obj = release_object(sample("bp-mimir", "bp-seaweedfs", "bp-prometheus"), 15)

    assert obj["metadata"]["labels"] == {
        "app.kubernetes.io/part-of": "bootstrap-kit",
        "catalyst.openova.io/family": "fam",
        "catalyst.openova.io/slot": "15",
    }
    spec = obj["spec"]
    assert spec["chart"]["spec"] == {
        "chart": "bp-mimir",
        "version": "1.0.0",
        "sourceRef": {
            "kind": "HelmRepository",
            "name": "bootstrap-kit",
            "namespace": "flux-system",
        },
        "interval": "10m",
    }
    assert spec["dependsOn"] == [{"name": "bp-seaweedfs"}, {"name": "bp-prometheus"}]
    assert (spec["releaseName"], spec["targetNamespace"]) == ("mimir", "ns")
    assert spec["install"]["createNamespace"] is True


def test_a_release_without_dependencies_has_no_depends_on() -> None:
    assert "dependsOn" not in release_object(sample("bp-cilium"), 1)["spec"]


def test_the_repository_points_at_the_served_url() -> None:
    obj = repository_object("http://127.0.0.1:1234")

    assert obj["kind"] == "HelmRepository"
    assert obj["metadata"] == {"name": "bootstrap-kit", "namespace": "flux-system"}
    assert obj["spec"]["url"] == "http://127.0.0.1:1234"


def _templates(package: Path) -> str:
    with tarfile.open(package) as tar:
        return "".join(
            member.read().decode()
            for info in tar.getmembers()
            if "/templates/" in info.name and (member := tar.extractfile(info)) is not None
        )


def test_the_failing_releases_first_chart_holds_a_refused_object_and_its_fix_does_not(
    tmp_path: Path,
) -> None:
    failing = next(s for s in SAMPLE if s.name == FAILING)
    with ChartRepository(tmp_path) as repo:
        publish_kit(repo, SAMPLE, FAILING)
        fix = publish_fix(repo, failing)

    index = yaml.safe_load((tmp_path / "index.yaml").read_text())["entries"]
    assert {name: [v["version"] for v in versions] for name, versions in index.items()} == {
        s.chart: [s.version, fix.version] if s.name == FAILING else [s.version] for s in SAMPLE
    }
    assert "name: Bad_Name" in _templates(tmp_path / f"seaweedfs-{failing.version}.tgz")
    assert "Bad_Name" not in _templates(fix.package)
    assert "Bad_Name" not in _templates(tmp_path / "cilium-1.16.5.tgz")


def test_the_sample_is_sixteen_releases_whose_dependencies_are_in_it() -> None:
    names = {s.name for s in SAMPLE}

    assert len(SAMPLE) == 16
    assert {dep for s in SAMPLE for dep in s.depends_on} <= names
    assert {FAILING, DELETED} <= names


def test_nothing_depends_on_the_deleted_release() -> None:
    assert not [s.name for s in SAMPLE if DELETED in s.depends_on]


def test_mismatches_name_every_difference_from_the_expected_graph() -> None:
    expected = expected_final([sample("a"), sample("b", "a")], "b", "r")
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


def test_an_empty_flow_server_is_one_mismatch() -> None:
    expected = expected_final([sample("a")], "a", "r")

    assert mismatches(expected, None) == ["the flow server holds nothing for the flow"]
