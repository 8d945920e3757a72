"""The peers of an end-to-end run as real processes: the adapter and the flow-server stand-in.

Both are driven from synchronous tests over loopback HTTP, the way an
operator's tools would see them: the adapter is configured only by its
environment and a kubeconfig, and is observed only through the flow server's
snapshot, its probes, its metrics and its log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from localcluster.processes import free_ports, parent_death_signal

REPO = Path(__file__).resolve().parents[2]
PATIENCE = 90.0
"""Seconds before a convergence wait fails: generous, it only bounds a failing test."""

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T], what: str, timeout: float = PATIENCE, every: float = 0.2
) -> T:
    """Poll until `probe()` is truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        time.sleep(every)
        last = probe()
    return last


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while http_get(url)[0] != 200:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited {proc.returncode}: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never answered: {log.read_text()[-2000:]}")
        time.sleep(0.1)


class FlowServerProcess:
    """The fake flow server as its own process, restartable on the same port with empty memory."""

    def __init__(self, workdir: Path, ring_size: int | None = None) -> None:
        self.port = free_ports(1)[0]
        self.ring_size = ring_size
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"flow-server-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FlowServerProcess:
        ring = [] if self.ring_size is None else ["--ring-size", str(self.ring_size)]
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.flow_server", "--port", str(self.port), *ring],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=parent_death_signal,
            )
        _wait_healthy(f"{self.url}/healthz", self._proc, self.log)
        return self

    def restart(self) -> None:
        """Kill and start again: everything the server held is gone, as after a real restart."""
        self.kill()
        self.start()

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def snapshot(self, flow_id: str) -> dict[str, Any] | None:
        status, body = http_get(f"{self.url}/v1/flows/{flow_id}/snapshot")
        if status == 404:
            return None
        if status != 200:
            raise AssertionError(f"snapshot answered {status}: {body[:500]!r}")
        data: dict[str, Any] = json.loads(body)
        return data

    def region(
        self, flow_id: str, region: str
    ) -> tuple[dict[str, Any], dict[tuple[str, str, str], Any]]:
        """This region's nodes by id and edges by key, as an adapter owns them."""
        snap = self.snapshot(flow_id) or {}

        def mine(node_id: str) -> bool:
            return node_id == region or node_id.startswith(region + "/")

        nodes = {n["id"]: n for n in snap.get("nodes", []) if mine(n["id"])}
        rels = {
            (r["fromId"], r["toId"], r["type"]): r
            for r in snap.get("relationships", [])
            if mine(r["toId"])
        }
        return nodes, rels

    def post(self, flow_id: str, envelope: dict[str, Any]) -> int:
        """POST one envelope as another poster would; answers its sequence number."""
        request = urllib.request.Request(
            f"{self.url}/v1/flows/{flow_id}/events",
            data=json.dumps(envelope).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            seq: int = json.loads(answer.read())["seq"]
            return seq

    def posted_statuses(self, flow_id: str, node_id: str) -> list[str]:
        """Every status the server accepted for `node_id`, in the order the POSTs arrived."""
        status, body = http_get(f"{self.url}/_fake/requests")
        assert status == 200, body
        found: list[str] = []
        for seen in json.loads(body)["requests"]:
            envelope = seen.get("envelope") or {}
            if seen["flowId"] != flow_id or envelope.get("type") != "upsert-nodes":
                continue
            found += [node["status"] for node in envelope["nodes"] if node["id"] == node_id]
        return found

    def attack(self, attack: str | None) -> None:
        """Turn the server hostile (`tests.fakes.flow_server.ATTACKS`), or back with `None`."""
        request = urllib.request.Request(
            f"{self.url}/_fake/attack",
            data=json.dumps({"attack": attack}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def post_count(self, flow_id: str) -> int:
        status, body = http_get(f"{self.url}/_fake/requests")
        assert status == 200, body
        requests = json.loads(body)["requests"]
        return sum(1 for r in requests if r["method"] == "POST" and r["flowId"] == flow_id)


class AdapterProcess:
    """`python -m flux_adapter`, configured by environment variables and a kubeconfig only."""

    def __init__(self, env: Mapping[str, str], kubeconfig: Path, workdir: Path, name: str) -> None:
        self.health_port = free_ports(1)[0]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FLOW_", "REGION_"))},
            "HEALTH_LISTEN_ADDR": f"127.0.0.1:{self.health_port}",
            "LOG_FORMAT": "json",
            "KUBECONFIG": str(kubeconfig),
            **env,
        }
        self.log = workdir / f"adapter-{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("adapter not started")
        return self._proc

    def start(self) -> AdapterProcess:
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "flux_adapter"],
                cwd=REPO,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # A killed test run takes its adapters with it.
                preexec_fn=parent_death_signal,
            )
        _wait_healthy(f"http://127.0.0.1:{self.health_port}/metrics", self.proc, self.log)
        return self

    def probe(self, path: str) -> int:
        return http_get(f"http://127.0.0.1:{self.health_port}{path}")[0]

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels` (0 when absent)."""
        status, body = http_get(f"http://127.0.0.1:{self.health_port}/metrics")
        if status != 200:
            return 0.0
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            metric, _, label_text = series.partition("{")
            if metric != name:
                continue
            found = dict(
                part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
            )
            if all(found.get(k) == json.dumps(v) for k, v in labels.items()):
                total += float(value)
        return total

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events

    def signal(self, signum: signal.Signals) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
