"""One benchmark run end to end: the cluster up, the scenarios through both posters, the record.

Kept apart from the command line so the CI test runs exactly what
`python -m bench --quick` runs and asserts on the figures, not on text.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import Bench
from bench.regions import RegionsRun, regions_runs
from bench.report import (
    Check,
    Results,
    checks,
    checks_table,
    churn_table,
    latency_table,
    machine,
    machine_table,
    memory_table,
    noop_table,
    regions_keeping_up_table,
    regions_projection,
    regions_table,
    ring_table,
    sync_table,
    to_json,
)
from bench.ring import ring_runs
from bench.scenarios import POSTERS, Harness, Settings

SCENARIOS = ("initial-sync", "churn", "noop-churn", "memory", "ring", "regions", "all")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclasses.dataclass(frozen=True)
class Report:
    results: Results
    checks: list[Check]
    path: Path
    document: dict[str, Any]


def _say(text: str) -> None:
    print(text, flush=True)


def _wanted(scenario: str, quick: bool) -> tuple[str, ...]:
    if scenario != "all":
        return (scenario,)
    # Memory is left out of the CI run: it asserts nothing there; the ring
    # has a CI run of its own. The regions scenario starts 37 adapters one
    # run after another, about a quarter of an hour: it is asked for by name.
    return SCENARIOS[:3] if quick else SCENARIOS[:5]


async def _apart(
    bench: Bench, settings: Settings, logs: Path, wanted: tuple[str, ...], results: Results
) -> None:
    """The scenarios on the ring stand-in rather than the recorder, if wanted."""
    if "ring" in wanted:
        results.ring += await ring_runs(bench, settings.ring, settings.emit_interval, logs)
        _say("\n## ring\n" + ring_table(results.ring))
    if "regions" in wanted:
        results.regions += await _regions(bench, settings, logs)


async def _regions(bench: Bench, settings: Settings, logs: Path) -> list[RegionsRun]:
    """The regions scenario, each N's row printed as it ends, then the whole report."""
    load = settings.regions
    runs = await regions_runs(
        bench,
        load,
        settings.emit_interval,
        logs,
        lambda done: _say(f"\nregions N = {done.regions}\n" + regions_table([done])),
    )
    _say("\n## regions\n" + regions_table(runs))
    _say("\n### keeping up\n" + regions_keeping_up_table(runs))
    _say("\n### " + regions_projection(runs, load)[1])
    return runs


async def run(scenario: str, settings: Settings, quick: bool, out: Path = RESULTS) -> Report:
    """Run `scenario` ("all" for every one) and write its JSON; the report is returned too."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{scenario}{'-quick' if quick else ''}-{stamp}"
    logs = out / f"{name}-logs"
    wanted = _wanted(scenario, quick)
    results = Results()
    async with Bench(logs) as bench:
        info = machine(bench.cluster)
        _say("  ".join(f"{key}={value}" for key, value in info.items()))
        harness = Harness(bench, settings, logs)
        if "initial-sync" in wanted:
            for size in settings.sync_sizes:
                for poster in POSTERS:
                    results.sync.append(await harness.sync(poster, size))
            _say("\n## initial sync\n" + sync_table(results.sync))
        if "churn" in wanted:
            for poster in POSTERS:
                results.churn.append(await harness.churn(poster))
            _say("\n## churn\n" + churn_table(results.churn))
            _say("\n### latency, ms\n" + latency_table(results.churn))
            _say("\n### CPU seconds during the churn\n" + machine_table(results.churn))
        if "noop-churn" in wanted:
            for poster in POSTERS:
                results.noop.append(await harness.noop(poster))
            _say("\n## no-op churn\n" + noop_table(results.noop))
        if "memory" in wanted:
            for size in settings.memory_sizes:
                for poster in POSTERS:
                    results.memory.append(await harness.memory(poster, size))
            _say("\n## memory\n" + memory_table(results.memory))
        await _apart(bench, settings, logs, wanted, results)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    found = checks(results, settings, quick)
    _say("\n## targets\n" + checks_table(found))
    document = to_json(results, found, settings, info)
    path = out / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    _say(f"\nwrote {path}")
    return Report(results, found, path, document)
