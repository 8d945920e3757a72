"""A real kube-apiserver and etcd on loopback, for end-to-end tests and demos.

``LocalCluster`` starts etcd and kube-apiserver as child processes bound to
127.0.0.1 on free ports, with static-token authentication and RBAC, and stops
them again (by PID) when the ``with`` block ends, on ``stop()``, or at
interpreter exit. Everything it writes lives in one temporary directory.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from localcluster.client import ApiConnectionError, ApiError, KubeClient
from localcluster.errors import ClusterError
from localcluster.peers import ensure_peer
from localcluster.processes import free_ports, log_tail, spawn, terminate

ADMIN_USER: Final = "admin"
DEFAULT_USERS: Final = ("alice", "bob", "carol")


def ensure_apiserver_binary(timeout: float = 3600.0) -> Path:
    """Return the path of a kube-apiserver binary, building it from its module if needed.

    ``$KUBE_APISERVER_BINARY`` wins when set (see ``localcluster.peers``).

    Raises:
        ClusterError: the binary could not be built or found.
    """
    return _ensure("kube-apiserver", timeout)


def ensure_etcd_binary(timeout: float = 3600.0) -> Path:
    """Return the path of an etcd binary, built from ``go.etcd.io/etcd/server/v3`` if needed.

    Raises:
        ClusterError: the binary could not be built or found.
    """
    return _ensure("etcd", timeout)


def _ensure(name: str, timeout: float) -> Path:
    return ensure_peer(name, timeout).binary


_WORKDIR_PREFIX: Final = "localcluster-"
_OWNER_FILE: Final = "owner.pid"


def _sweep_stale_workdirs() -> None:
    """Remove work dirs left by a process that was killed (SIGKILL).

    Its children got SIGTERM through the parent-death signal, but nothing
    could remove its temp dir. Only dirs whose recorded owner is gone go.
    """
    for path in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        try:
            owner = int((path / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


_LIVE: weakref.WeakSet[LocalCluster] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for cluster in list(_LIVE):
        with contextlib.suppress(Exception):
            cluster.stop()


class LocalCluster:
    """etcd plus kube-apiserver on 127.0.0.1, started and stopped by PID.

    Use it as a context manager, or call ``start()`` and ``stop()``::

        with LocalCluster() as cluster:
            cluster.write_kubeconfig(path, user="alice")

    Authentication is by static bearer tokens: ``admin`` is in
    ``system:masters``; the other users (``users``) have no groups, so RBAC
    denies them everything a test does not grant. The apiserver's serving
    certificate is self-signed and written to its cert dir: ``ca_file``.
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        etcd_binary: str | os.PathLike[str] | None = None,
        users: Iterable[str] = DEFAULT_USERS,
        compaction_interval: str = "5s",
        service_cluster_ip_range: str = "10.0.0.0/24",
        extra_apiserver_args: Sequence[str] = (),
        ready_timeout: float = 60.0,
        build_timeout: float = 3600.0,
        keep_workdir: bool = False,
    ) -> None:
        self._binary = Path(binary) if binary is not None else None
        self._etcd_binary = Path(etcd_binary) if etcd_binary is not None else None
        self._users = [u for u in users if u != ADMIN_USER]
        self._compaction_interval = compaction_interval
        self._service_range = service_cluster_ip_range
        self._extra_args = list(extra_apiserver_args)
        self._ready_timeout = ready_timeout
        self._build_timeout = build_timeout
        self._keep_workdir = keep_workdir or os.environ.get("LOCALCLUSTER_KEEP") == "1"
        self._lock = threading.RLock()
        self._workdir: Path | None = None
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._tokens: dict[str, str] = {}
        self._etcd_port = 0
        self._peer_port = 0
        self._port = 0
        #: Seconds the last kube-apiserver start took until /readyz said ok.
        self.start_seconds: float | None = None
        #: Seconds the whole start() took (binary lookup, etcd, apiserver).
        self.total_start_seconds: float | None = None

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Build or find the binary, then start etcd and kube-apiserver."""
        with self._lock:
            if self._workdir is not None:
                return self
            began = time.monotonic()
            if self._binary is None:
                self._binary = ensure_apiserver_binary(self._build_timeout)
            if self._etcd_binary is None:
                self._etcd_binary = ensure_etcd_binary(self._build_timeout)
            _sweep_stale_workdirs()
            self._workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX))
            _LIVE.add(self)
            try:
                (self._workdir / _OWNER_FILE).write_text(str(os.getpid()))
                self._prepare_files()
                self._etcd_port, self._peer_port, self._port = free_ports(3)
                self._start_etcd()
                self._wait_etcd()
                self.start_apiserver()
            except BaseException:
                self.stop()
                raise
            self.total_start_seconds = time.monotonic() - began
            return self

    def stop(self) -> None:
        """Terminate every process this cluster started and remove its files."""
        with self._lock:
            for attr in ("_apiserver", "_etcd"):
                proc: subprocess.Popen[bytes] | None = getattr(self, attr)
                if proc is not None:
                    terminate(proc)
                    setattr(self, attr, None)
            workdir, self._workdir = self._workdir, None
            _LIVE.discard(self)
            if workdir is not None and not self._keep_workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver (etcd and its data stay)."""
        with self._lock:
            proc, self._apiserver = self._apiserver, None
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()

    def start_apiserver(self) -> None:
        """Start kube-apiserver on the same port, etcd and cert dir; wait ready."""
        with self._lock:
            if self._apiserver is not None and self._apiserver.poll() is None:
                raise ClusterError("kube-apiserver is already running")
            assert self._binary is not None
            args = [str(self._binary), *self._apiserver_args()]
            started = time.monotonic()
            self._apiserver = self._spawn(args, self.logs["apiserver"])
            self._wait_ready(self._apiserver)
            self.start_seconds = time.monotonic() - started

    @property
    def running(self) -> bool:
        proc = self._apiserver
        return proc is not None and proc.poll() is None

    # -- what tests use --------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ClusterError("cluster is not started")
        return self._workdir

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        if not self._port:
            raise ClusterError("cluster is not started")
        return self._port

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self._etcd_port}"

    @property
    def ca_file(self) -> Path:
        """The apiserver's self-signed serving certificate (and its CA)."""
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def admin_token(self) -> str:
        return self.token_for(ADMIN_USER)

    @property
    def users(self) -> list[str]:
        return list(self._users)

    def token_for(self, user: str) -> str:
        try:
            return self._tokens[user]
        except KeyError:
            raise ClusterError(f"no token for user {user!r}") from None

    @property
    def logs(self) -> dict[str, Path]:
        return {
            "etcd": self.workdir / "etcd.log",
            "apiserver": self.workdir / "kube-apiserver.log",
        }

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in (self._etcd, self._apiserver) if p is not None]

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        user: str = ADMIN_USER,
        server_url: str | None = None,
    ) -> Path:
        """Write a kubeconfig for ``user``; ``server_url`` may name a proxy.

        The CA is embedded, so the file outlives nothing it depends on except
        the running apiserver. JSON-quoted scalars keep the YAML valid.
        """
        ca_data = base64.b64encode(self.ca_file.read_bytes()).decode()
        server = server_url or self.url
        q = json.dumps
        text = "\n".join(
            [
                "apiVersion: v1",
                "kind: Config",
                "clusters:",
                "- name: localcluster",
                "  cluster:",
                f"    server: {q(server)}",
                f"    certificate-authority-data: {q(ca_data)}",
                "users:",
                f"- name: {q(user)}",
                "  user:",
                f"    token: {q(self.token_for(user))}",
                "contexts:",
                "- name: localcluster",
                "  context:",
                "    cluster: localcluster",
                f"    user: {q(user)}",
                "    namespace: default",
                "current-context: localcluster",
                "",
            ]
        )
        out = Path(path)
        out.write_text(text)
        out.chmod(0o600)
        return out

    # -- internals -------------------------------------------------------

    def _prepare_files(self) -> None:
        workdir = self.workdir
        (workdir / "certs").mkdir()
        (workdir / "etcd").mkdir(mode=0o700)
        self._tokens = {ADMIN_USER: secrets.token_hex(16)}
        for user in self._users:
            self._tokens[user] = secrets.token_hex(16)
        # token,user,uid[,"group1,group2"]
        rows = [f'{self._tokens[ADMIN_USER]},{ADMIN_USER},uid-admin,"system:masters"']
        rows += [f"{self._tokens[u]},{u},uid-{u}" for u in self._users]
        tokens = workdir / "tokens.csv"
        tokens.write_text("\n".join(rows) + "\n")
        tokens.chmod(0o600)
        key = workdir / "sa.key"
        pub = workdir / "sa.pub"
        for cmd in (
            ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
            ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(pub)],
        ):
            try:
                subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=True)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise ClusterError(f"{' '.join(cmd)} failed: {exc}") from exc

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        return spawn(args, log, cwd=self.workdir)

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self._etcd_port}"
        peer = f"http://127.0.0.1:{self._peer_port}"
        assert self._etcd_binary is not None
        args = [
            str(self._etcd_binary),
            "--name=localcluster",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=localcluster={peer}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-outputs=stderr",
            "--log-level=warn",
            "--unsafe-no-fsync",
        ]
        self._etcd = self._spawn(args, self.logs["etcd"])

    def _wait_etcd(self) -> None:
        deadline = time.monotonic() + 30.0
        url = f"{self.etcd_url}/health"
        while True:
            proc = self._etcd
            if proc is None or proc.poll() is not None:
                raise ClusterError(f"etcd exited early:\n{log_tail(self.logs['etcd'])}")
            try:
                with urllib.request.urlopen(url, timeout=2.0) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"etcd not healthy after 30s:\n{log_tail(self.logs['etcd'])}")
            time.sleep(0.05)

    def _apiserver_args(self) -> list[str]:
        workdir = self.workdir
        return [
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.port}",
            # Without these the apiserver derives its advertised address from
            # the host's default route (fails with no route) and writes it
            # into the default/kubernetes Endpoints; loopback is not allowed
            # there, so the reconciler is switched off instead.
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",
            f"--cert-dir={workdir / 'certs'}",
            f"--token-auth-file={workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={workdir / 'sa.pub'}",
            f"--service-account-signing-key-file={workdir / 'sa.key'}",
            f"--service-cluster-ip-range={self._service_range}",
            "--watch-cache=false",
            f"--etcd-compaction-interval={self._compaction_interval}",
            "--profiling=false",
            *self._extra_args,
        ]

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self._ready_timeout
        last = "no answer yet"
        client: KubeClient | None = None
        while True:
            if proc.poll() is not None:
                raise ClusterError(
                    f"kube-apiserver exited with {proc.returncode}:\n"
                    f"{log_tail(self.logs['apiserver'])}"
                )
            if self.ca_file.exists():
                if client is None:
                    client = KubeClient(self.url, self.admin_token, self.ca_file, timeout=2.0)
                try:
                    client.readyz()
                    return
                except ApiError as exc:
                    last = f"HTTP {exc.status}"
                except ApiConnectionError as exc:
                    last = str(exc)
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"kube-apiserver not ready after {self._ready_timeout}s "
                    f"({last}):\n{log_tail(self.logs['apiserver'])}"
                )
            time.sleep(0.1)
