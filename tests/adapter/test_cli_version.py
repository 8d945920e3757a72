"""The entry points exist and answer --version without any configuration."""

from __future__ import annotations

import subprocess
import sys

from flux_adapter import __version__


def test_python_dash_m_prints_the_version_and_exits_zero() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flux_adapter", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"flux-adapter {__version__}"
    assert __version__ == "0.1.0"
