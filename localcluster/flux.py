"""The real Flux controllers (source-controller, helm-controller) as local processes.

Both are built from their Go modules (``localcluster.peers``) and run outside
the cluster as controller-runtime runs anywhere: the API server from
``KUBECONFIG`` (an admin kubeconfig written for them), metrics and health on
ports of their own on 127.0.0.1, leader election off (their default).
source-controller keeps its artifacts in the cluster's work directory and
serves them on 127.0.0.1, advertising that address in each HelmChart's
``status.artifact.url``, from where helm-controller downloads the chart and
checks its digest. Their logs sit beside the cluster's
(``helm-controller.log``, ``source-controller.log`` in ``cluster.workdir``).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from localcluster.apiserver import LocalCluster
from localcluster.errors import ClusterError
from localcluster.peers import ensure_peer
from localcluster.processes import free_ports, log_tail, spawn, terminate

CONTROLLERS: Final = ("source-controller", "helm-controller")
"""Start order: helm-controller asks source-controller for charts, never the reverse."""


class FluxControllers:
    """source-controller and helm-controller, started and stopped by PID.

    ``watch_label_selector`` is the controllers' own sharding flag
    (``--watch-label-selector``): with it they reconcile only the objects
    carrying that label (a HelmRelease passes it to its HelmChart through
    ``spec.chart.metadata.labels``), so objects written by hand elsewhere in
    the same cluster keep the status a test wrote. ``requeue_dependency`` is
    how soon a release waiting on ``dependsOn`` is looked at again
    (``--requeue-dependency``; 30 s upstream).
    """

    def __init__(
        self,
        cluster: LocalCluster,
        *,
        watch_label_selector: str | None = None,
        requeue_dependency: str = "2s",
        ready_timeout: float = 60.0,
        build_timeout: float = 3600.0,
    ) -> None:
        self._cluster = cluster
        self._selector = watch_label_selector
        self._requeue_dependency = requeue_dependency
        self._ready_timeout = ready_timeout
        self._build_timeout = build_timeout
        self._lock = threading.RLock()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._health: dict[str, int] = {}
        self._versions: dict[str, str] = {}
        self._storage_port = 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def logs(self) -> dict[str, Path]:
        """Each controller's log file, in the cluster's work directory."""
        return {name: self._cluster.workdir / f"{name}.log" for name in CONTROLLERS}

    @property
    def versions(self) -> dict[str, str]:
        """Each started controller's module version: ``{"helm-controller": "v1.6.4", ...}``."""
        return dict(self._versions)

    @property
    def storage_url(self) -> str:
        """Where source-controller serves its artifacts (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self._storage_port}"

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self._processes.items()}

    def start(self) -> Self:
        """Build or find both controllers, start them, and wait until each answers ``/readyz``.

        Raises:
            ClusterError: a controller could not be built, exited, or was not
                ready within ``ready_timeout`` seconds (with its log's tail).
        """
        with self._lock:
            if self._processes:
                return self
            binaries = {name: ensure_peer(name, self._build_timeout) for name in CONTROLLERS}
            workdir = self._cluster.workdir / "flux"
            workdir.mkdir(exist_ok=True)
            kubeconfig = self._cluster.write_kubeconfig(workdir / "kubeconfig")
            storage = workdir / "storage"
            storage.mkdir(exist_ok=True)
            ports = free_ports(5)
            self._storage_port = ports[0]
            try:
                for index, name in enumerate(CONTROLLERS):
                    metrics, health = ports[1 + 2 * index], ports[2 + 2 * index]
                    self._health[name] = health
                    self._versions[name] = binaries[name].version
                    args = [
                        str(binaries[name].binary),
                        f"--metrics-addr=127.0.0.1:{metrics}",
                        f"--health-addr=127.0.0.1:{health}",
                        f"--requeue-dependency={self._requeue_dependency}",
                        "--log-encoding=json",
                        "--log-level=info",
                        *self._own_args(name, storage),
                    ]
                    if self._selector:
                        args.append(f"--watch-label-selector={self._selector}")
                    env = {
                        **os.environ,
                        "KUBECONFIG": str(kubeconfig),
                        "RUNTIME_NAMESPACE": "flux-system",
                    }
                    self._processes[name] = spawn(
                        args, self.logs[name], cwd=self._cluster.workdir, env=env
                    )
                for name in CONTROLLERS:
                    self._wait_ready(name)
            except BaseException:
                self.stop()
                raise
            return self

    def _own_args(self, name: str, storage: Path) -> list[str]:
        if name != "source-controller":
            return []
        address = f"127.0.0.1:{self._storage_port}"
        return [
            f"--storage-path={storage}",
            f"--storage-addr={address}",
            f"--storage-adv-addr={address}",
        ]

    def check(self) -> None:
        """Raise ``ClusterError``, with its log's tail, if a started controller has exited."""
        with self._lock:
            for name, proc in self._processes.items():
                if proc.poll() is not None:
                    raise ClusterError(
                        f"{name} exited with {proc.returncode}:\n{log_tail(self.logs[name])}"
                    )

    def stop(self) -> None:
        """SIGTERM each controller (helm-controller first), SIGKILL after a grace period."""
        with self._lock:
            for name in reversed(CONTROLLERS):
                proc = self._processes.pop(name, None)
                if proc is not None:
                    terminate(proc)

    def _wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + self._ready_timeout
        url = f"http://127.0.0.1:{self._health[name]}/readyz"
        last = "no answer yet"
        while True:
            proc = self._processes[name]
            if proc.poll() is not None:
                raise ClusterError(
                    f"{name} exited with {proc.returncode}:\n{log_tail(self.logs[name])}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2.0) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = str(exc)
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name} not ready after {self._ready_timeout}s ({last}):\n"
                    f"{log_tail(self.logs[name])}"
                )
            time.sleep(0.2)
