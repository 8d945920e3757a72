"""Child processes of the local peers: free loopback ports, spawning with a log, stopping by PID."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final

_PR_SET_PDEATHSIG: Final = 1
_LOG_TAIL_BYTES: Final = 4000


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Pick ``count`` distinct free TCP ports on ``host``.

    The sockets are held open together so the kernel hands out distinct
    ports, then closed; a small race with other processes remains.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def parent_death_signal() -> None:
    """In the child: get SIGKILL if the parent dies, so nothing is left.

    SIGKILL, not SIGTERM: kube-apiserver answers SIGTERM with a graceful
    shutdown that waits on etcd, which dies at the same moment, and then
    hangs for minutes. A test cluster has nothing worth shutting down gently.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def log_tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - _LOG_TAIL_BYTES))
            return fh.read().decode(errors="replace")
    except OSError:
        return "<no log>"


def spawn(
    args: list[str], log: Path, *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` with stdout and stderr appended to ``log`` (after a ``==> command`` line).

    From the main thread the child also gets SIGKILL when this process dies,
    so a killed test run leaves nothing behind.
    """
    in_main = threading.current_thread() is threading.main_thread()
    with log.open("ab") as fh:
        fh.write(f"==> {' '.join(args)}\n".encode())
        fh.flush()
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=fh,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            # The parent-death signal is tied to the spawning thread, so
            # only ask for it from the main thread.
            preexec_fn=parent_death_signal if in_main else None,
        )


def terminate(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
