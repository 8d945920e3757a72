"""The real peers' binaries: built from their Go modules by ``scripts/build-peer`` and cached.

Each peer (kube-apiserver, etcd, helm-controller, source-controller, the
Helm CLI) is built once per version into
``${XDG_CACHE_HOME:-~/.cache}/flux-adapter/<name>-<version>/`` and reused
while the version is unchanged. ``$<NAME>_BINARY`` (``KUBE_APISERVER_BINARY``,
``ETCD_BINARY``, ...) names a binary to use instead; it is checked, never
guessed. For a Flux controller the CRDs are read from ``crds/`` beside
that binary (as the build lays them out), and the version reported is the
name of the binary's directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from localcluster.errors import PeerBuildError

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
BUILD_SCRIPT: Final = REPO_ROOT / "scripts" / "build-peer"
PEERS: Final = ("kube-apiserver", "etcd", "helm-controller", "source-controller", "helm")

_LOG_TAIL_BYTES: Final = 4000


@dataclass(frozen=True)
class Peer:
    """One built peer: its binary, and for a Flux controller the CRDs of the same module version."""

    name: str
    binary: Path

    @property
    def crd_dir(self) -> Path:
        """``config/crd/bases`` of the peer's own module, copied beside the binary by the build."""
        return self.binary.parent / "crds"

    @property
    def version(self) -> str:
        """The module version, from the cache directory's name (``<name>-<version>``)."""
        return self.binary.parent.name.removeprefix(f"{self.name}-")


def override_variable(name: str) -> str:
    """The variable naming a prebuilt binary: ``kube-apiserver`` → ``KUBE_APISERVER_BINARY``."""
    return name.upper().replace("-", "_") + "_BINARY"


def ensure_peer(name: str, timeout: float = 3600.0, *, progress: bool = True) -> Peer:
    """Return the peer ``name``, building it first if the cache lacks it.

    ``progress`` lets the build's progress lines through to this process's
    stderr (a cold build takes minutes, and says so); otherwise only their
    tail is kept, for the error. A cached peer prints one line.

    Raises:
        PeerBuildError: the name is unknown, the override is not executable,
            or the build failed (with the tail of its output).
    """
    if name not in PEERS:
        raise PeerBuildError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    variable = override_variable(name)
    override = os.environ.get(variable)
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise PeerBuildError(f"{variable}={override} is not executable")
        return Peer(name, path)
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.run(
                [str(BUILD_SCRIPT), name],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=sys.stderr if progress else errors,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerBuildError(f"{BUILD_SCRIPT} {name} failed to run: {exc}") from exc
        errors.seek(0)
        stderr_tail = errors.read()[-_LOG_TAIL_BYTES:].decode(errors="replace")
    lines = proc.stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise PeerBuildError(
            f"{BUILD_SCRIPT} {name} exited with {proc.returncode}; stderr ends with:\n{stderr_tail}"
        )
    path = Path(lines[-1])
    if not os.access(path, os.X_OK):
        raise PeerBuildError(f"{BUILD_SCRIPT} {name} printed {path}, which is not executable")
    return Peer(name, path)
