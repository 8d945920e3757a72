"""The LIST: pages read whole, the store replaced at once, an expired continue token started over.

A part of `Watcher` (`reflector.py`), which holds the state it works on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import structlog

from flux_adapter.informer.reflector_state import ReflectorState
from flux_adapter.informer.store import Relist
from flux_adapter.kube.errors import ApiError, ProtocolError
from flux_adapter.observe.heap import return_free_memory

log = structlog.get_logger("flux_adapter.informer.reflector")


class Listing(ReflectorState):
    async def _list(self) -> None:
        relist = self._store.relist(self.resource.kind)
        token: str | None = None
        restarted = False
        pages = 0
        while True:
            params = {"limit": str(self.page_limit)}
            if token is not None:
                params["continue"] = token
            try:
                items, version, token = await self._page(params)
            except ApiError as err:
                if not (err.expired and token is not None and not restarted):
                    raise
                # The continue token outlived the server's snapshot: a consistent
                # list can only start over.
                log.info("list_continue_expired", **self._where, pages=pages)
                relist = self._store.relist(self.resource.kind)
                token, restarted, pages = None, True, 0
                continue
            pages += 1
            for item in items:
                relist.add(item)
            if token is None:
                break
        self._commit(relist, version, pages)

    def _commit(self, relist: Relist, version: str, pages: int) -> None:
        relist.commit()
        return_free_memory()
        self._metrics.relists.labels(resource=self.resource.kind, reason=self._relist_reason).inc()
        log.info(
            "listed",
            **self._where,
            reason=self._relist_reason,
            resource_version=version,
            objects=self._store.count(self.resource.kind),
            pages=pages,
        )
        self._version = version
        self._fresh_list = True
        self._trouble = None

    async def _page(self, params: Mapping[str, str]) -> tuple[list[Any], str, str | None]:
        """(items, list resourceVersion, continue token or None) of one LIST page."""
        response = await self._request("list", params)
        try:
            async with asyncio.timeout(self.request_timeout):
                body = await response.read()
        finally:
            response.release()
        try:
            decoded = response_json(body)
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
            raise ProtocolError("list", self.resource.name, str(err), body) from err
        return items, version, token


def response_json(body: bytes) -> Mapping[str, Any]:
    decoded = json.loads(body)
    if not isinstance(decoded, Mapping):
        raise ValueError("the body is not a JSON object")
    return decoded
