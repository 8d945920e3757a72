"""The two processes the demo runs beside the cluster: the flow server and the adapter.

Each child gets its own session, so a Ctrl-C in the terminal reaches only
the demo, which then stops the adapter first (letting it flush), then the
flow server, then the cluster. If the demo itself is killed outright, the
parent-death signal takes the children down with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from flux_adapter.runtime.settings import Settings

# Private to localcluster, but the same need: children must not outlive the demo.
from localcluster.processes import parent_death_signal

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
START_TIMEOUT: Final = 60.0
STOP_GRACE: Final = 15.0
TAIL_BYTES: Final = 3000

Json = dict[str, Any]


class ChildError(RuntimeError):
    """A child process could not start, or stopped when it should be running."""


class Child:
    """One subprocess started by the demo, logging to a file, stopped by its PID."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        # Truncated: a log left by an earlier run must not be read as this one's.
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd=REPO_ROOT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=parent_death_signal,
            )

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        try:
            return self.log.read_bytes()[-TAIL_BYTES:].decode(errors="replace")
        except OSError:
            return "<no log>"

    def check(self) -> None:
        """Raise ``ChildError`` with the end of its log if the child has exited."""
        code = self.proc.poll()
        if code is not None:
            raise ChildError(f"{self.name} exited with {code}; its log ends with:\n{self.tail()}")

    def stop(self, grace: float = STOP_GRACE) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; return the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


_LISTENING = re.compile(r"listening (http://\S+)")


def start_flow_server(log: Path) -> tuple[Child, str]:
    """Start the project's flow server stand-in on a free port; return it and its URL."""
    child = Child(
        "flow server",
        [sys.executable, "-m", "tests.fakes.flow_server", "--port", "0"],
        log,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return child, found.group(1)
        child.check()
        time.sleep(0.05)
    child.stop()
    raise ChildError(f"flow server did not listen within {START_TIMEOUT:.0f}s:\n{child.tail()}")


def adapter_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This environment without any adapter setting the caller had, plus ``settings``.

    A newcomer's shell may carry a real ``FLOW_SERVER_URL`` or token file;
    the demo's adapter must post to the demo's server and nowhere else.
    """
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    env.update(settings)
    return env


def start_adapter(kubeconfig: Path, settings: Mapping[str, str], log: Path) -> Child:
    return Child(
        "adapter",
        [sys.executable, "-m", "flux_adapter", "--kubeconfig", str(kubeconfig)],
        log,
        adapter_env(settings),
    )


class FlowServerError(RuntimeError):
    """The flow server could not be read."""


def fetch_snapshot(base_url: str, flow_id: str, timeout: float = 5.0) -> Json | None:
    """The server's snapshot envelope for ``flow_id``; ``None`` when it answers 404."""
    url = f"{base_url}/v1/flows/{flow_id}/snapshot"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body: Json = json.loads(resp.read())
            return body
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            return None
        raise FlowServerError(f"GET {url}: HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise FlowServerError(f"GET {url}: {exc}") from exc
