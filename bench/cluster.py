"""What a benchmark run shares: one real kube-apiserver, one recording flow server, the releases.

The API server runs as production ones do, unlike the e2e tests' (which
make expiry easy to provoke): the watch cache on and etcd compacted every
five minutes, so a benchmark measures the adapter and not a flood of
relists. Namespaces of releases are created once per run and reused by
every scenario that needs that many.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from bench.kube import Kube
from bench.workload import release, release_name, status
from localcluster import KubeClient, LocalCluster


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = LocalCluster(
            compaction_interval="5m",
            extra_apiserver_args=["--watch-cache=true"],
        )
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.recorder_url = ""
        self._recorder: subprocess.Popen[bytes] | None = None
        self._populated: set[str] = set()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # From this thread, not a worker: the parent-death signal that stops
        # etcd and the API server with us is only armed from the main thread.
        self.cluster.start()
        admin = KubeClient.for_cluster(self.cluster)
        await asyncio.to_thread(admin.apply_crds)
        self.cluster.write_kubeconfig(self.kubeconfig)
        self._recorder, self.recorder_url = await asyncio.to_thread(_start_recorder, self.workdir)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._recorder is not None:
            self._recorder.terminate()
            self._recorder.wait(timeout=15)
        await asyncio.to_thread(self.cluster.stop)

    def neighbours(self) -> dict[str, int]:
        """The processes that share the machine with a poster under test, by role."""
        found = {"load generator": os.getpid()}
        if self._recorder is not None:
            found["flow server (recorder)"] = self._recorder.pid
        etcd, apiserver = self.cluster.pids
        found["etcd"] = etcd
        found["kube-apiserver"] = apiserver
        return found

    def kube(self) -> Kube:
        return Kube(self.cluster.url, self.cluster.admin_token, self.cluster.ca_file)

    async def populated(self, releases: int, namespace: str | None = None) -> str:
        """A namespace (default `bench-<releases>`) of `releases` Ready releases; made once."""
        namespace = namespace or f"bench-{releases}"
        if namespace in self._populated:
            return namespace
        async with self.kube() as kube:
            await kube.create_namespace(namespace)
            await kube.all_of(kube.create(release(namespace, i)) for i in range(releases))
            await kube.all_of(
                kube.patch(namespace, release_name(i), {"status": status(0, ready=True)}, "status")
                for i in range(releases)
            )
        self._populated.add(namespace)
        return namespace

    async def summary(self, flow_id: str) -> dict[str, int]:
        """How many POSTs the recorder took for `flow_id`, and the nodes and edges it holds."""
        found: dict[str, int] = await self._get(f"/_bench/flows/{flow_id}")
        return found

    async def posts(self, flow_id: str, since: int = 0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await self._get(f"/_bench/flows/{flow_id}/posts?since={since}")
        )["posts"]
        return found

    async def _get(self, path: str) -> Any:
        assert self._session is not None
        async with self._session.get(self.recorder_url + path) as answer:
            answer.raise_for_status()
            return await answer.json()

    async def holds(
        self, flow_id: str, *, nodes: int, rels: int, deadline: float, alive: Callable[[], None]
    ) -> None:
        """Wait until the recorder holds exactly this many nodes and edges for `flow_id`.

        `alive` raises when the poster has died, so a crash is reported at
        once instead of as a timeout.
        """
        give_up = time.monotonic() + deadline
        while True:
            alive()
            found = await self.summary(flow_id)
            if found["nodes"] == nodes and found["rels"] == rels:
                return
            if time.monotonic() > give_up:
                raise TimeoutError(f"{flow_id}: want {nodes} nodes, {rels} edges; have {found}")
            await asyncio.sleep(0.05)


def _start_recorder(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `bench.recorder` and return it with the URL it printed once listening."""
    with (workdir / "recorder.err").open("wb") as errors:
        recorder = subprocess.Popen(
            [sys.executable, "-m", "bench.recorder"],
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    assert recorder.stdout is not None
    line = recorder.stdout.readline()
    if not line.startswith(b"listening "):
        recorder.kill()
        recorder.wait()
        raise RuntimeError(f"the recorder did not start: {line!r}")
    return recorder, line.split()[1].decode()
