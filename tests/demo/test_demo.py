"""The demo, run as a newcomer's script would run it, against the real apiserver.

It needs etcd and the locally built kube-apiserver (built on first use, so
the first run on a machine is slow: the timeouts allow for the build).
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 2700.0
"""A cold kube-apiserver build on a busy 2-core machine, plus the play."""

R = "fsn1"


def demo_command(output: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "demo", "--no-tty", "--output", str(output), *args]


def demo_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep + path if path else ''}"}


def test_demo_plays_the_bootstrap_and_draws_the_converged_graph(tmp_path: Path) -> None:
    # What an earlier run into the same directory leaves must not mislead this one.
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "flow-server.log").write_text("listening http://127.0.0.1:9\n")
    done = subprocess.run(
        demo_command(tmp_path, "--speed", "20"),
        cwd=REPO_ROOT,
        env=demo_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"

    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    statuses = {n["id"]: n["status"] for n in snapshot["nodes"]}
    assert statuses == {
        R: "succeeded",
        f"{R}/bp-cilium": "succeeded",
        f"{R}/bp-cert-manager": "succeeded",
        f"{R}/bp-external-secrets": "succeeded",
        f"{R}/bp-openbao": "succeeded",
        f"{R}/bp-kyverno": "succeeded",
        f"{R}/bp-keycloak": "succeeded",
        f"{R}/bp-hcloud-ccm": "succeeded",
        f"{R}/bp-hcloud-csi": "succeeded",
        f"{R}/bp-seaweedfs": "succeeded",
        f"{R}/bp-velero": "succeeded",
        f"{R}/bp-cnpg": "succeeded",
        f"{R}/bp-prometheus": "succeeded",
        f"{R}/bp-loki": "succeeded",
        f"{R}/bp-mimir": "succeeded",
        f"{R}/bp-grafana": "succeeded",
    }
    assert f"{R}/bp-trivy" not in statuses
    families = {n["id"]: n.get("family") for n in snapshot["nodes"]}
    assert families[f"{R}/bp-seaweedfs"] == "storage"
    assert families[f"{R}/bp-hcloud-ccm"] == "cloud"
    seaweedfs = next(n for n in snapshot["nodes"] if n["id"] == f"{R}/bp-seaweedfs")
    assert seaweedfs["meta"]["chart"]["name"] == "seaweedfs"
    assert seaweedfs["meta"]["readyReason"] == "InstallSucceeded"

    dependencies = {
        (r["fromId"].removeprefix(f"{R}/"), r["toId"].removeprefix(f"{R}/"))
        for r in snapshot["relationships"]
        if r["type"] == "finish-to-start"
    }
    assert dependencies == {
        ("bp-cilium", "bp-cert-manager"),
        ("bp-cert-manager", "bp-external-secrets"),
        ("bp-cert-manager", "bp-openbao"),
        ("bp-external-secrets", "bp-openbao"),
        ("bp-cert-manager", "bp-kyverno"),
        ("bp-cert-manager", "bp-keycloak"),
        ("bp-external-secrets", "bp-keycloak"),
        ("bp-hcloud-ccm", "bp-hcloud-csi"),
        ("bp-hcloud-csi", "bp-seaweedfs"),
        ("bp-seaweedfs", "bp-velero"),
        ("bp-hcloud-csi", "bp-cnpg"),
        ("bp-hcloud-csi", "bp-prometheus"),
        ("bp-seaweedfs", "bp-loki"),
        ("bp-seaweedfs", "bp-mimir"),
        ("bp-prometheus", "bp-mimir"),
        ("bp-loki", "bp-grafana"),
        ("bp-mimir", "bp-grafana"),
    }
    contained = {r["fromId"] for r in snapshot["relationships"] if r["type"] == "contains"}
    assert contained == set(statuses) - {R}

    # The server showed the failure, then the recovery, then the delete.
    out = done.stdout
    assert re.search(rf"flow +{R}/bp-seaweedfs +\w+ -> failed$", out, re.M), out
    assert re.search(rf"flow +{R}/bp-seaweedfs +failed -> (running|succeeded)$", out, re.M), out
    assert re.search(rf"flow +{R}/bp-trivy +succeeded -> deleted$", out, re.M), out

    for name in ("demo.dot", "demo.svg", "demo.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "adapter_stopped" in (tmp_path / "logs" / "adapter.log").read_text()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def _wait_for_line(proc: subprocess.Popen[bytes], wanted: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while wanted.encode() not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} in time; output so far:\n{seen.decode()}"
            if sel.select(timeout=left):
                chunk = os.read(proc.stdout.fileno(), 65536)
                assert chunk, f"demo exited early ({proc.wait()}):\n{seen.decode()}"
                seen += chunk
    return seen.decode()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_play_stops_everything_the_demo_started(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    proc = subprocess.Popen(
        demo_command(tmp_path, "--speed", "0.5"),
        cwd=REPO_ROOT,
        env=demo_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        _wait_for_line(proc, "cluster  created HelmRelease", RUN_TIMEOUT)
        children = _children(proc.pid)
        cmdlines = {p: Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in children}
        names = {Path(c[0].decode()).name for c in cmdlines.values()}
        assert {"etcd", "kube-apiserver"} <= names, cmdlines
        (adapter,) = [c for c in cmdlines.values() if b"flux_adapter" in c]
        kubeconfig = Path(adapter[adapter.index(b"--kubeconfig") + 1].decode())
        assert kubeconfig.exists()

        proc.send_signal(signum)
        assert proc.wait(timeout=120) == code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    assert [p for p in children if not _gone(p)] == []
    assert not kubeconfig.parent.exists()
