"""What the parts of the reflector share: the state `Watcher.__init__` sets, and their calls.

`Watcher` (`reflector.py`) is assembled from parts, one concern a module: the
LIST (`listing.py`) and what each failure of the API server makes it do
(`failures.py`). `ReflectorState` declares the attributes they read and,
for the type checker only, the methods they call across parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from flux_adapter.informer.store import Relist, Store
from flux_adapter.kube.errors import ApiError
from flux_adapter.kube.resources import Resource
from flux_adapter.observe.backoff import ReconnectBackoff
from flux_adapter.observe.metrics import Metrics


class ReflectorState:
    resource: Resource
    namespace: str | None
    page_limit: int
    request_timeout: float
    _store: Store
    _metrics: Metrics
    _backoff: ReconnectBackoff
    _connect_backoff: ReconnectBackoff
    _where: dict[str, str]
    _version: str | None
    _relist_reason: str
    _fresh_list: bool
    _trouble: str | None

    if TYPE_CHECKING:

        async def _list(self) -> None: ...

        def _commit(self, relist: Relist, version: str, pages: int) -> None: ...

        async def _page(self, params: Mapping[str, str]) -> tuple[list[Any], str, str | None]: ...

        def _api_failed(self, err: ApiError) -> float: ...

        async def _request(
            self, verb: str, params: Mapping[str, str]
        ) -> aiohttp.ClientResponse: ...
