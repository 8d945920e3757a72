"""The shared fixtures (real kube-apiserver objects and the bootstrap kit), loaded once."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@cache
def _load_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHARED / name).read_text())
    return data


def upgrade_failed_release() -> dict[str, Any]:
    return copy.deepcopy(_load_json("helmrelease-upgrade-failed.json"))


def ready_chart() -> dict[str, Any]:
    return copy.deepcopy(_load_json("helmchart-ready.json"))


@cache
def _kit() -> tuple[dict[str, Any], ...]:
    docs = yaml.safe_load_all((SHARED / "bootstrap-kit.yaml").read_text())
    return tuple(doc for doc in docs if doc)


def bootstrap_kit() -> list[dict[str, Any]]:
    return copy.deepcopy(list(_kit()))
