"""Typed reads from the plain dicts the Kubernetes API returns.

Every read names the path it failed at, so an object that cannot be mapped is
logged with the field to look at instead of a stack trace.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


class MalformedError(ValueError):
    """A field is present but of the wrong type or shape."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedError(path, f"expected an object, got {type(value).__name__}")
    return value


def child(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """An optional nested object: absent or null reads as empty."""
    value = parent.get(key)
    if value is None:
        return {}
    return mapping(value, f"{path}.{key}")


def items(parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedError(f"{path}.{key}", f"expected a list, got {type(value).__name__}")
    return value


def opt_str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    """Interned: a namespace, a reason or a label value recurs in thousands of views."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedError(f"{path}.{key}", f"expected a string, got {type(value).__name__}")
    return sys.intern(value)


def opt_int(parent: Mapping[str, Any], key: str, path: str) -> int | None:
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedError(f"{path}.{key}", f"expected an integer, got {type(value).__name__}")
    return value


def opt_bool(parent: Mapping[str, Any], key: str, path: str) -> bool | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MalformedError(f"{path}.{key}", f"expected a boolean, got {type(value).__name__}")
    return value


def str_map(
    parent: Mapping[str, Any], key: str, path: str, names: tuple[str, ...]
) -> dict[str, str]:
    """The entries `names` of a label map; only what is read must be a string.

    Reading exactly the labels slimming keeps means a full object and its
    slim form always map alike.
    """
    raw = child(parent, key, path)
    out: dict[str, str] = {}
    for name in names:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MalformedError(f"{path}.{key}[{name}]", "expected a string value")
        out[name] = sys.intern(value)
    return out
