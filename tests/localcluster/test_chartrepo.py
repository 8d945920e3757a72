"""The chart repository serves what source-controller reads: an index of versions, and packages."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

import yaml

from localcluster.chartrepo import CHART_SOURCES, ChartRepository, package_chart


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        body: bytes = answer.read()
        return body


def test_a_package_holds_the_chart_under_its_name_with_the_version_given(tmp_path: Path) -> None:
    packaged = package_chart(CHART_SOURCES / "settings", tmp_path, name="cilium", version="1.2.3")
    with tarfile.open(packaged.package) as tar:
        names = set(tar.getnames())
        member = tar.extractfile("cilium/Chart.yaml")
        assert member is not None
        chart = yaml.safe_load(member.read())
    assert {"cilium/Chart.yaml", "cilium/values.yaml", "cilium/templates/objects.yaml"} <= names
    assert (chart["name"], chart["version"], chart["apiVersion"]) == ("cilium", "1.2.3", "v2")


def test_a_package_digest_is_the_sha256_of_its_bytes_and_stable(tmp_path: Path) -> None:
    first = package_chart(CHART_SOURCES / "settings", tmp_path / "a", name="x", version="1.0.0")
    second = package_chart(CHART_SOURCES / "settings", tmp_path / "b", name="x", version="1.0.0")
    assert first.digest == hashlib.sha256(first.package.read_bytes()).hexdigest()
    assert first.digest == second.digest


def test_the_served_index_lists_each_published_version_with_its_package(tmp_path: Path) -> None:
    with ChartRepository(tmp_path) as repo:
        repo.publish("settings", name="app", version="1.0.0")
        repo.publish("rejected", name="app", version="2.0.0")
        index = yaml.safe_load(fetch(f"{repo.url}/index.yaml"))
        entries = {e["version"]: e for e in index["entries"]["app"]}
        assert index["apiVersion"] == "v1"
        assert set(entries) == {"1.0.0", "2.0.0"}
        package = fetch(f"{repo.url}/{entries['2.0.0']['urls'][0]}")
    assert hashlib.sha256(package).hexdigest() == entries["2.0.0"]["digest"]
    with tarfile.open(fileobj=io.BytesIO(package)) as tar:
        member = tar.extractfile("app/templates/objects.yaml")
        assert member is not None
        assert b"Bad_Name" in member.read()


def test_an_empty_repository_serves_an_index_with_no_entries(tmp_path: Path) -> None:
    with ChartRepository(tmp_path) as repo:
        index = yaml.safe_load(fetch(f"{repo.url}/index.yaml"))
    assert index["entries"] == {}
