"""The load generator's side of the API server: many writes, kept-alive connections, paced.

`localcluster.KubeClient` opens a TLS connection per request, which at 200
writes a second would spend the CPU the adapter is being measured on; this
client keeps a pool of connections open instead. Each write's send and
completion times are kept, since latency is measured from the write.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from bench.workload import Change

RELEASES = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/{ns}/helmreleases"


class WriteError(RuntimeError):
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
    def __init__(self, url: str, token: str, ca_file: Path, *, connections: int = 32) -> None:
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(ssl=self._ssl, limit=self._connections)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=60),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, method: str, path: str, body: Any, content_type: str) -> int:
        if self._session is None:
            raise RuntimeError("use Kube as an async context manager")
        async with self._session.request(
            method,
            self._url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": content_type},
        ) as answer:
            text = await answer.read()
            if answer.status >= 300 and answer.status != 409:
                raise WriteError(f"{method} {path}: HTTP {answer.status}: {text[:300]!r}")
            return answer.status

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
