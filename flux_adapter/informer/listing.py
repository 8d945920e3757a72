"""The paged LIST: pages read into one relist, and an expired continue token started over.

`list_pages` is a plain function of a page reader: it asks for pages of
`page_limit` objects until the server gives no continue token, feeding
every object into a relist it starts itself (the store's `Relist`). When the server has compacted
the snapshot a continue token points into (410), a consistent list can
only start over, once. `parse_page` reads one page's body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog

from flux_adapter.kube.errors import ApiError, ProtocolError

log = structlog.get_logger("flux_adapter.informer.reflector")


@dataclass(frozen=True, slots=True)
class Page:
    """One LIST page: its objects, the list's resourceVersion, the continue token (or `None`)."""

    items: list[Any]
    version: str
    token: str | None


class Collects(Protocol):
    def add(self, obj: Any) -> None:
        """Take one listed object."""


R = TypeVar("R", bound=Collects)


@dataclass(frozen=True, slots=True)
class Listed(Generic[R]):
    """A whole LIST, fed into `relist` (not committed yet): its version and how many pages."""

    relist: R
    version: str
    pages: int


async def list_pages(
    read_page: Callable[[Mapping[str, str]], Awaitable[Page]],
    start: Callable[[], R],
    *,
    page_limit: int,
    where: Mapping[str, str],
) -> Listed[R]:
    """Read every page with `read_page(params)` into a relist from `start()`.

    Raises what `read_page` raises, except a first 410 on a continue token,
    after which the list starts over with a new relist. `where` names the
    resource in logs.
    """
    relist = start()
    token: str | None = None
    restarted = False
    pages = 0
    while True:
        params = {"limit": str(page_limit)}
        if token is not None:
            params["continue"] = token
        try:
            page = await read_page(params)
        except ApiError as err:
            if not (err.expired and token is not None and not restarted):
                raise
            log.info("list_continue_expired", **where, pages=pages)
            relist = start()
            token, restarted, pages = None, True, 0
            continue
        pages += 1
        for item in page.items:
            relist.add(item)
        token = page.token
        if token is None:
            return Listed(relist, page.version, pages)


def parse_page(body: bytes, resource: str) -> Page:
    """One LIST page's body; `ProtocolError` when it is not a list with a resourceVersion."""
    try:
        decoded = _json_object(body)
        meta = decoded.get("metadata")
        items = decoded.get("items")
        if not isinstance(meta, Mapping) or not isinstance(items, list):
            raise ValueError("no metadata or items")
        version = meta.get("resourceVersion")
        token = meta.get("continue") or None
        if not isinstance(version, str) or not version:
            raise ValueError("no metadata.resourceVersion")
        if token is not None and not isinstance(token, str):
            raise ValueError("metadata.continue is not a string")
    except ValueError as err:
        raise ProtocolError("list", resource, str(err), body) from err
    return Page(items, version, token)


def _json_object(body: bytes) -> Mapping[str, Any]:
    """A body that must be a JSON object; `ValueError` otherwise."""
    decoded = json.loads(body)
    if not isinstance(decoded, Mapping):
        raise ValueError("the body is not a JSON object")
    return decoded
