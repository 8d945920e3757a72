"""The Flux CustomResourceDefinitions the clusters serve, read from the controllers' own modules.

They come from ``config/crd/bases`` of the same helm-controller and
source-controller module versions that ``scripts/build-peer`` builds (the
build copies them beside each binary), never from a hand-kept copy: their
schemas (a name at most 253 characters, ``status.observedGeneration``
defaulting to -1, the condition fields required) are what the adapter meets
in a real cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from localcluster.errors import PeerBuildError
from localcluster.peers import ensure_peer

JsonObj = dict[str, Any]

CRD_SOURCES = ("helm-controller", "source-controller")
"""The peers whose modules carry the CRDs: HelmRelease; HelmChart, HelmRepository and more."""


def read_crds(directory: Path) -> list[JsonObj]:
    """Every CustomResourceDefinition in the YAML files of ``directory``, sorted by file name.

    Raises:
        PeerBuildError: the directory holds no CRD (the build did not copy them).
    """
    found: list[JsonObj] = []
    for path in sorted(directory.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                found.append(document)
    if not found:
        raise PeerBuildError(f"no CustomResourceDefinition in {directory}")
    return found


def flux_crds() -> list[JsonObj]:
    """The CRDs of helm-controller and source-controller, building the controllers if needed.

    Raises:
        PeerBuildError: a controller could not be built.
    """
    crds: list[JsonObj] = []
    for name in CRD_SOURCES:
        crds.extend(read_crds(ensure_peer(name).crd_dir))
    return crds


def served_version(crd: JsonObj) -> str:
    """The version a CRD stores (``spec.versions[].storage``), which it also serves."""
    versions = crd["spec"]["versions"]
    for version in versions:
        if version.get("storage"):
            return str(version["name"])
    return str(versions[-1]["name"])
