"""The Helm CLI, built from its Go module, run against a LocalCluster with a home of its own.

``scripts/build-peer helm`` builds it (``helm.sh/helm/v4``); every run gets
``KUBECONFIG`` and Helm's cache, config and data directories under
``workdir``, so nothing reads or writes the user's own Helm setup.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from localcluster.peers import ensure_peer


class HelmError(RuntimeError):
    """A helm command exited non-zero; the message holds the command and its output."""


class HelmCli:
    """``helm`` with one kubeconfig: ``HelmCli(kubeconfig, workdir).run("lint", chart)``."""

    def __init__(self, kubeconfig: Path, workdir: Path, binary: Path | None = None) -> None:
        self._kubeconfig = kubeconfig
        self._workdir = workdir
        self._binary = binary

    @property
    def binary(self) -> Path:
        """The helm binary, built on first use (raises ``PeerBuildError`` if it cannot be)."""
        if self._binary is None:
            self._binary = ensure_peer("helm").binary
        return self._binary

    def run(self, *args: str, timeout: float = 120.0) -> str:
        """Run ``helm *args``; its stdout.

        Raises:
            HelmError: helm exited non-zero or did not finish within ``timeout`` seconds.
        """
        home = self._workdir / "helm-home"
        env = {
            **os.environ,
            "KUBECONFIG": str(self._kubeconfig),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        command = [str(self.binary), *args]
        try:
            done = subprocess.run(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise HelmError(f"{' '.join(command)} did not finish in {timeout}s") from exc
        if done.returncode != 0:
            raise HelmError(
                f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done.stdout
