"""The benchmark's API server access on kubernetes-asyncio: paced writes, the baseline's reads.

`localcluster.KubeClient` is synchronous, which at 200 writes a second would
need as many threads; this client sends through the library's `ApiClient`
instead, over a pool of `connections` kept-alive connections. Bodies stay raw
JSON (`_preload_content=False`), so the library returns an error status
rather than raising it: each call checks it. Each write's send and
completion times are kept, since latency is measured from the write. The
baseline poster (`bench/baseline.py`) lists and watches through it, so it
reads the API server with the adapter's own library, loaded the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from bench.workload import Change
from flux_adapter.kube.lazy_import import install

install()  # the library without its ~1,260 generated modules

from kubernetes_asyncio.client import ApiClient, Configuration  # noqa: E402

RELEASES = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/{ns}/helmreleases"

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
"""The limit on one write, answer included (60 s)."""

READ_TIMEOUT = 120.0
"""Seconds to connect, and for each read of a LIST's or a watch's answer."""


class KubeError(RuntimeError):
    """The API server answered a request the benchmark relies on with an error status."""


class WriteError(KubeError):
    """The API server refused a write the benchmark relies on."""


@dataclass(frozen=True, slots=True)
class Write:
    """One paced write as it happened."""

    seq: int
    name: str
    sent: float
    done: float
    ok: bool


class Kube:
    """Writes to one API server as one bearer token; use as an async context manager."""

    def __init__(
        self, url: str, token: str, ca_file: Path | None, *, connections: int = 32
    ) -> None:
        """`ca_file` is the API server's CA bundle (None: the system's)."""
        configuration = Configuration(
            host=url.rstrip("/"),
            api_key={"BearerToken": token},
            api_key_prefix={"BearerToken": "Bearer"},
        )
        configuration.ssl_ca_cert = None if ca_file is None else str(ca_file)
        configuration.connection_pool_maxsize = connections
        self._configuration = configuration
        self._client: ApiClient | None = None

    async def __aenter__(self) -> Self:
        # The library opens its aiohttp session here, inside the running loop.
        self._client = ApiClient(self._configuration)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _send(self, method: str, path: str, body: Any, content_type: str) -> int:
        """Send one write and return its status; 409 (already there) counts as done.

        Raises `WriteError` for any other status from 300 up, and what aiohttp
        raises (`aiohttp.ClientError`, `TimeoutError`) when there is no answer.
        """
        if self._client is None:
            raise RuntimeError("use Kube as an async context manager")
        answer: aiohttp.ClientResponse = await self._client.call_api(
            path,
            method,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        async with answer:
            text = await answer.read()
            if answer.status >= 300 and answer.status != 409:
                raise WriteError(f"{method} {path}: HTTP {answer.status}: {text[:300]!r}")
            return answer.status

    async def _open(
        self, path: str, query: list[tuple[str, str]], read_timeout: float
    ) -> aiohttp.ClientResponse:
        """GET `path`; the answer's body is left unread. Raises `KubeError` on an error status."""
        if self._client is None:
            raise RuntimeError("use Kube as an async context manager")
        answer: aiohttp.ClientResponse = await self._client.call_api(
            path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(
                sock_connect=READ_TIMEOUT, sock_read=read_timeout
            ),
        )
        if answer.status >= 300:
            async with answer:
                text = await answer.read()
            raise KubeError(f"GET {path}: HTTP {answer.status}: {text[:300]!r}")
        return answer

    async def list_releases(self, namespace: str) -> dict[str, Any]:
        """`namespace`'s HelmReleases in one unpaginated LIST (`items`, `metadata`).

        Raises `KubeError`, `aiohttp.ClientError` or `TimeoutError`.
        """
        path = RELEASES.format(ns=quote(namespace, safe=""))
        async with await self._open(path, [], READ_TIMEOUT) as answer:
            listing: dict[str, Any] = json.loads(await answer.read())
        return listing

    async def watch_releases(
        self, namespace: str, resource_version: str, timeout_seconds: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events (`type`, `object`) on `namespace`'s HelmReleases after `resource_version`.

        The server ends the watch after `timeout_seconds`; each read waits
        at most that plus 5 seconds. Raises `KubeError`, `aiohttp.ClientError`
        or `TimeoutError`.
        """
        path = RELEASES.format(ns=quote(namespace, safe=""))
        query = [
            ("watch", "1"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        async with await self._open(path, query, timeout_seconds + 5) as answer:
            async for line in answer.content:
                if line.strip():
                    event: dict[str, Any] = json.loads(line)
                    yield event

    async def create_namespace(self, name: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await self._send("POST", "/api/v1/namespaces", namespace, "application/json")

    async def create(self, obj: dict[str, Any]) -> None:
        path = RELEASES.format(ns=quote(obj["metadata"]["namespace"], safe=""))
        await self._send("POST", path, obj, "application/json")

    async def patch(
        self, namespace: str, name: str, body: dict[str, Any], subresource: str | None
    ) -> None:
        path = RELEASES.format(ns=quote(namespace, safe="")) + "/" + quote(name, safe="")
        if subresource is not None:
            path += "/" + subresource
        await self._send("PATCH", path, body, "application/merge-patch+json")

    async def all_of(self, writes: Iterable[Any], concurrency: int = 24) -> None:
        """Run coroutines `concurrency` at a time, as fast as the server takes them."""
        gate = asyncio.Semaphore(concurrency)

        async def one(write: Any) -> None:
            async with gate:
                await write

        async with asyncio.TaskGroup() as group:
            for write in writes:
                group.create_task(one(write))

    async def paced(
        self, namespace: str, changes: Sequence[Change], rate: float, concurrency: int = 32
    ) -> list[Write]:
        """Send `changes` at `rate` per second, each on its schedule, at most `concurrency` at once.

        Writes to one release never overlap: two in flight could be applied
        out of order, leaving the older status in place, and the newer write
        would then rightly never reach the flow server. A write the server
        refuses is recorded, not raised.
        """
        gate = asyncio.Semaphore(concurrency)
        turns: dict[str, asyncio.Lock] = {}
        done: list[Write] = []

        async def one(change: Change) -> None:
            async with turns.setdefault(change.name, asyncio.Lock()), gate:
                sent = time.monotonic()
                try:
                    await self.patch(namespace, change.name, change.patch, change.subresource)
                except (WriteError, aiohttp.ClientError, TimeoutError):
                    ok = False
                else:
                    ok = True
                done.append(Write(change.seq, change.name, sent, time.monotonic(), ok))

        start = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for index, change in enumerate(changes):
                due = start + index / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                group.create_task(one(change))
        return sorted(done, key=lambda write: write.seq)
