"""The chart rendered offline by Helm itself (embedded through helm-python-sdk)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "chart" / "flux-adapter"

RELEASE = "flux-adapter"
"""The release name the tests install under."""
NAMESPACE = "flux-adapter"
"""The namespace the tests install into (where the pods and their Lease live)."""

REQUIRED: dict[str, Any] = {
    "flowServer": {"url": "https://flow.example.com"},
    "flowId": "bootstrap",
    "regionKey": "eu-west-1",
}
"""The three values an install needs, and nothing else."""

Manifest = dict[str, Any]


@cache
def chart() -> helm_python.Chart:
    return helm_python.Chart.load(CHART)


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` laid over it, nested mappings merged key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def with_required(override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return merged(REQUIRED, override or {})


def render_files(values: Mapping[str, Any], namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path to rendered text, exactly as `helm template` would write it."""
    return chart().render(dict(values), name=RELEASE, namespace=namespace)


def render(
    override: Mapping[str, Any] | None = None, *, namespace: str = NAMESPACE
) -> list[Manifest]:
    """Every Kubernetes object an install with REQUIRED plus `override` creates."""
    manifests: list[Manifest] = []
    for path, text in sorted(render_files(with_required(override), namespace).items()):
        if path.endswith("NOTES.txt"):
            continue
        manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return manifests


def notes(override: Mapping[str, Any] | None = None) -> str:
    files = render_files(with_required(override))
    return next(text for path, text in files.items() if path.endswith("NOTES.txt"))


def only(manifests: list[Manifest], kind: str) -> Manifest:
    """The one object of `kind`; fails if there is none or more than one."""
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def daemonset(override: Mapping[str, Any] | None = None) -> Manifest:
    return only(render(override), "DaemonSet")


def container(override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = daemonset(override)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env(override: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The container's environment, by variable name."""
    return {item["name"]: item for item in container(override)["env"]}
