"""The processes a benchmark starts, and what is read from them: /proc, logs, /metrics.

Each is started with the interpreter running the harness and stopped by its
own PID. CPU and memory come from the kernel's accounting (`/proc/PID/stat`,
`/proc/PID/status`), not from the process's opinion of itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from prometheus_client.parser import text_string_to_metric_families

from bench.cluster import Bench
from bench.workload import REGION
from localcluster.processes import free_ports

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Usage:
    """A process's CPU seconds so far and its memory now, resident and peak (MB, 10^6 bytes)."""

    cpu: float
    rss_mb: float
    peak_mb: float


def usage(pid: int) -> Usage:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime and stime are 14 and 15.
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    memory: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) * 1024 / 1e6
    return Usage(cpu, memory["VmRSS"], memory["VmHWM"])


class Child:
    """A started process whose output goes to files under the run's directory."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.stdout = logs / f"{name}.out"
        self.stderr = logs / f"{name}.err"
        self.started = time.monotonic()
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def usage(self) -> Usage:
        self.check()
        return usage(self.pid)

    def check(self) -> None:
        code = self.proc.poll()
        if code is not None:
            tail = self.stderr.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {code}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    env.update(extra)
    return env


class Adapter(Child):
    """The real adapter process, `python -m flux_adapter`, as an operator would run it."""

    def __init__(
        self,
        bench: Bench,
        *,
        flow_id: str,
        namespace: str,
        emit_interval: float,
        logs: Path,
        flow_server: str | None = None,
        settings: dict[str, str] | None = None,
        region: str = REGION,
        name: str | None = None,
    ) -> None:
        """`flow_server`: another stand-in than the recorder; `settings`: more variables.

        `name` names its log files (default `adapter-<flow_id>`), for several
        adapters posting into one flow.
        """
        (port,) = free_ports(1)
        self.health = f"http://127.0.0.1:{port}"
        env = _env(
            FLOW_SERVER_URL=flow_server or bench.recorder_url,
            FLOW_ID=flow_id,
            REGION_KEY=region,
            NAMESPACE_FILTER=namespace,
            EMIT_INTERVAL=str(emit_interval),
            HEALTH_LISTEN_ADDR=f"127.0.0.1:{port}",
            LEADER_ELECTION="false",
            LOG_LEVEL="info",
            LOG_FORMAT="json",
            **(settings or {}),
        )
        args = ["-m", "flux_adapter", "--kubeconfig", str(bench.kubeconfig)]
        super().__init__(name or f"adapter-{flow_id}", args, env, logs)

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, keyed `name{label=value,...}` with labels sorted."""
        self.check()
        with urllib.request.urlopen(self.health + "/metrics", timeout=10) as answer:
            text = answer.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def listed_at(self) -> float | None:
        """When the last of the initial LISTs was applied, from the adapter's own log line.

        The log stamps wall-clock time; it is moved onto the monotonic clock
        with the offset between the two clocks read now.
        """
        offset = time.time() - time.monotonic()
        seen: dict[str, float] = {}
        for line in self.stderr.read_text(errors="replace").splitlines():
            record = _json(line)
            if record is None or record.get("event") != "listed":
                continue
            if record.get("reason") == "initial" and isinstance(record.get("timestamp"), str):
                stamp = datetime.fromisoformat(record["timestamp"]).timestamp()
                seen.setdefault(str(record.get("resource")), stamp - offset)
        return max(seen.values()) if len(seen) == 2 else None


class Baseline(Child):
    """The naive per-event poster (`bench/baseline.py`), labelled as such everywhere."""

    def __init__(self, bench: Bench, *, flow_id: str, namespace: str, logs: Path) -> None:
        args = [
            "-m",
            "bench.baseline",
            "--api",
            bench.cluster.url,
            "--ca",
            str(bench.cluster.ca_file),
            "--namespace",
            namespace,
            "--flow-server",
            bench.recorder_url,
            "--flow-id",
            flow_id,
            "--region",
            REGION,
        ]
        env = _env(BENCH_KUBE_TOKEN=bench.cluster.admin_token)
        super().__init__(f"baseline-{flow_id}", args, env, logs)

    def said(self, event: str) -> list[dict[str, Any]]:
        found = []
        for line in self.stdout.read_text(errors="replace").splitlines():
            record = _json(line)
            if record is not None and record.get("event") == event:
                found.append(record)
        return found


def _json(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
