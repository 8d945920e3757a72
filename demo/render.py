"""Graphviz for the final picture: found, installed from Debian if allowed, or explained.

A newcomer on a bare Debian machine should still get a PNG, so the demo
installs ``graphviz`` when it runs as root (the same way the e2e tooling
installs etcd); anyone else gets the ``.dot`` file and the command that
renders it, never a failed demo over a picture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

PACKAGE: Final = "graphviz"
APT_TIMEOUT: Final = 900.0
"""apt may wait for another install's dpkg lock on a shared machine."""
RENDER_TIMEOUT: Final = 120.0
PNG_DPI: Final = 96


def _apt(args: list[str], log: Path) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        try:
            done = subprocess.run(
                ["apt-get", "-o", "DPkg::Lock::Timeout=600", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                timeout=APT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
    return done.returncode == 0


def can_install() -> bool:
    """Installing system packages is only done as root: never prompt for a password."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def install_dot(log: Path) -> str | None:
    """Install Debian's graphviz (refreshing the package lists if the first try fails)."""
    install = ["install", "-y", "-q", "--no-install-recommends", PACKAGE]
    if not _apt(install, log) and not (_apt(["update", "-q"], log) and _apt(install, log)):
        return None
    return shutil.which("dot")


def render_command(dot_file: Path, fmt: str) -> list[str]:
    """The ``dot`` invocation for ``fmt``, shared by the demo and the hint it prints."""
    out = dot_file.with_suffix(f".{fmt}")
    extra = [f"-Gdpi={PNG_DPI}"] if fmt == "png" else []
    return ["dot", f"-T{fmt}", *extra, "-o", str(out), str(dot_file)]


def render(dot_bin: str, dot_file: Path) -> list[Path]:
    """Render ``dot_file`` to SVG and PNG beside it; raise ``RuntimeError`` with dot's words."""
    written: list[Path] = []
    for fmt in ("svg", "png"):
        cmd = [dot_bin, *render_command(dot_file, fmt)[1:]]
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=RENDER_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"{' '.join(cmd)}: {exc}") from exc
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.decode(errors='replace')}")
        written.append(dot_file.with_suffix(f".{fmt}"))
    return written
