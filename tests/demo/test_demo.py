"""The demo, run as a newcomer's script would run it: the real Flux controllers bootstrap the kit.

It needs etcd, the locally built kube-apiserver and Flux's source-controller
and helm-controller (built on first use, so the first run on a machine is
slow: the timeouts allow for the builds). One run of the demo serves the
tests that read its output; the signal tests start their own.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.bootstrap import FAILING, FIXED_VERSION, SAMPLE

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 2700.0
"""Cold builds of kube-apiserver and the controllers on a busy 2-core machine, plus the play."""

R = "fsn1"


def demo_command(output: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "demo", "--no-tty", "--output", str(output), *args]


def demo_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep + path if path else ''}"}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    output: Path

    def snapshot(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.output / "snapshot.json").read_text())
        return found

    def lines(self, source: str, subject: str) -> list[str]:
        """The rest of each line printed under ``source`` (flux, flow, cluster) for ``subject``."""
        pattern = re.compile(rf"^\[ *[0-9.]+s\] {source} +{re.escape(subject)} +(.*)$", re.M)
        return pattern.findall(self.out)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    output = tmp_path_factory.mktemp("demo")
    # What an earlier run into the same directory leaves must not mislead this one.
    (output / "logs").mkdir()
    (output / "logs" / "flow-server.log").write_text("listening http://127.0.0.1:9\n")
    done = subprocess.run(
        demo_command(output),
        cwd=REPO_ROOT,
        env=demo_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, output)


def test_the_demo_exits_0_and_draws_the_picture(run: Run) -> None:
    assert run.code == 0, f"stdout:\n{run.out}\nstderr:\n{run.err}"
    for name in ("demo.dot", "demo.svg", "demo.png"):
        assert (run.output / name).stat().st_size > 0, name
    assert (run.output / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_logs_of_the_adapter_and_of_both_controllers_are_kept(run: Run) -> None:
    logs = run.output / "logs"
    assert "adapter_stopped" in (logs / "adapter.log").read_text()
    assert "running 'install' action" in (logs / "helm-controller.log").read_text()
    assert "stored fetched index" in (logs / "source-controller.log").read_text()


def test_helm_controller_installs_every_release_and_its_own_messages_are_printed(
    run: Run,
) -> None:
    for sample in SAMPLE:
        version = FIXED_VERSION if sample.name == FAILING else sample.version
        installed = (
            f"Ready=True InstallSucceeded: Helm install succeeded for release "
            f"{sample.target_namespace}/{sample.release_name}.v1 with chart "
            f"{sample.chart}@{version}"
        )
        said = run.lines("flux", sample.name)
        assert installed in said, said


def test_a_release_waiting_on_its_dependencies_is_running_with_flux_saying_which(
    run: Run,
) -> None:
    waiting = run.lines("flux", "bp-grafana")
    assert "Ready=False DependencyNotReady: dependency 'flux-system/bp-loki' is not ready" in (
        waiting
    ), waiting
    flow = run.lines("flow", f"{R}/bp-grafana")
    assert [change.split()[-1] for change in flow][-2:] == ["running", "succeeded"], flow


def test_seaweedfs_fails_on_the_rejected_chart_and_recovers_on_the_published_fix(
    run: Run,
) -> None:
    flux = run.lines("flux", "bp-seaweedfs")
    failed = [line for line in flux if line.startswith("Ready=False InstallFailed")]
    assert failed, flux
    assert "with chart seaweedfs@4.0.0" in failed[0]
    assert 'ConfigMap "Bad_Name" is invalid' in failed[0]
    assert run.lines("cluster", "edited HelmRelease bp-seaweedfs:") == [
        "chart seaweedfs 4.0.0 -> 4.0.1"
    ]
    flow = run.lines("flow", f"{R}/bp-seaweedfs")
    failed_at = max(i for i, change in enumerate(flow) if change.endswith("-> failed"))
    assert flow[failed_at + 1 :] in (
        ["failed -> running", "running -> succeeded"],
        ["failed -> succeeded"],
    ), flow
    seaweedfs = next(n for n in run.snapshot()["nodes"] if n["id"] == f"{R}/bp-seaweedfs")
    assert seaweedfs["status"] == "succeeded"
    assert seaweedfs["meta"]["chart"]["version"] == "4.0.1"
    assert seaweedfs["meta"]["readyReason"] == "InstallSucceeded"


def test_trivy_is_deleted_and_its_node_goes(run: Run) -> None:
    assert run.lines("cluster", "deleted HelmRelease") == ["bp-trivy"]
    assert run.lines("flux", "bp-trivy")[-1] == (
        "gone from the cluster (helm-controller uninstalled it)"
    )
    assert run.lines("flow", f"{R}/bp-trivy")[-1] == "succeeded -> deleted"
    assert f"{R}/bp-trivy" not in {n["id"] for n in run.snapshot()["nodes"]}


def test_the_final_graph_holds_every_other_release_succeeded_in_its_family(run: Run) -> None:
    nodes = {n["id"]: n for n in run.snapshot()["nodes"]}
    assert {i: n["status"] for i, n in nodes.items()} == {
        R: "succeeded",
        **{f"{R}/{s.name}": "succeeded" for s in SAMPLE if s.name != "bp-trivy"},
    }
    assert nodes[f"{R}/bp-seaweedfs"]["family"] == "storage"
    assert nodes[f"{R}/bp-hcloud-ccm"]["family"] == "cloud"
    contained = {r["fromId"] for r in run.snapshot()["relationships"] if r["type"] == "contains"}
    assert contained == set(nodes) - {R}


def test_the_final_graph_has_the_kits_depends_on_edges(run: Run) -> None:
    dependencies = {
        (r["fromId"].removeprefix(f"{R}/"), r["toId"].removeprefix(f"{R}/"))
        for r in run.snapshot()["relationships"]
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
        demo_command(tmp_path),
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
        assert {"etcd", "kube-apiserver", "source-controller", "helm-controller"} <= names, cmdlines
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


def test_helm_controller_dying_mid_play_fails_the_demo_and_names_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        demo_command(tmp_path),
        cwd=REPO_ROOT,
        env=demo_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        seen = _wait_for_line(proc, "cluster  created HelmRelease", RUN_TIMEOUT)
        (controller,) = [
            p
            for p in _children(proc.pid)
            if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].endswith(b"/helm-controller")
        ]
        os.kill(controller, signal.SIGKILL)
        assert proc.wait(timeout=120) == 1
        assert proc.stdout is not None
        seen += proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    assert "demo: helm-controller exited with -9" in seen, seen


def test_a_stage_that_does_not_come_in_time_fails_the_demo_with_helm_controllers_words(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        demo_command(tmp_path, "--timeout", "0.5"),
        cwd=REPO_ROOT,
        env=demo_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    assert done.returncode == 1, done.stdout
    said = done.stdout.split("demo: no sign of the flow server showing bp-seaweedfs failed ")[1]
    assert said.startswith("within 0.5s; what helm-controller says:\n  bp-cert-manager: "), said
    assert "the flow server's graph does not match the cluster:" in said
    assert (tmp_path / "snapshot.json").exists()
