"""Minimal CustomResourceDefinitions for the two Flux kinds flux-adapter reads.

These are written for the tests, not taken from Flux: one served and stored
version each, a ``status`` subresource, and an open schema that keeps every
field, so tests can store whatever shape the adapter has to cope with.
"""

from __future__ import annotations

from typing import Any, Final


def _crd(
    *,
    group: str,
    version: str,
    kind: str,
    plural: str,
    singular: str,
    short_names: list[str],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": short_names,
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


HELMRELEASE_CRD: Final[dict[str, Any]] = _crd(
    group="helm.toolkit.fluxcd.io",
    version="v2",
    kind="HelmRelease",
    plural="helmreleases",
    singular="helmrelease",
    short_names=["hr"],
)

HELMCHART_CRD: Final[dict[str, Any]] = _crd(
    group="source.toolkit.fluxcd.io",
    version="v1",
    kind="HelmChart",
    plural="helmcharts",
    singular="helmchart",
    short_names=["hc"],
)

CRDS: Final[tuple[dict[str, Any], ...]] = (HELMRELEASE_CRD, HELMCHART_CRD)
