"""`python -m bench <scenario> [--quick]`: measure the adapter against the per-event baseline.

`regions` (issue 24) is measured apart: N adapters into one flow, for
N in `--regions` (2,5,10,20), each run `--seconds` (180) long.

Starts a real etcd and kube-apiserver, the recording flow server, and for
each workload the real adapter process and then the baseline, prints the
tables as each scenario finishes and writes everything to
`bench/results/<scenario>-<time>.json` (git-ignored), with the processes'
logs beside it. `--quick` shrinks the workloads for CI and exits 1 when a
count target is missed; a full run reports missed targets and exits 0,
because a missed target is a figure to publish, not a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.runner import RESULTS, SCENARIOS, run
from bench.scenarios import QUICK, Settings


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"want numbers of regions like 2,5,10,20; got {text!r}")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--quick", action="store_true", help="CI size; asserts counts only")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where JSON and logs go")
    parser.add_argument(
        "--emit-interval", type=float, default=None, help="the adapter's EMIT_INTERVAL (s)"
    )
    parser.add_argument(
        "--rate", type=float, default=None, help="writes per second in churn and no-op churn"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="regions: each run's measured window (s)"
    )
    parser.add_argument(
        "--regions",
        type=_counts,
        default=None,
        metavar="N,N,...",
        help="regions: the numbers of regions to run (default 2,5,10,20; --quick 2)",
    )
    parser.add_argument(
        "--releases", type=int, default=None, help="regions: releases per region (default 200)"
    )
    parser.add_argument(
        "--ring-told",
        type=int,
        default=None,
        metavar="N",
        help="ring: the FLOW_SERVER_RING_CAPACITY the adapters are told (default: the "
        "stand-in's real ring); a larger one plays a user who left the default",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.ring_told is not None:
        settings = dataclasses.replace(
            settings, ring=dataclasses.replace(settings.ring, told=args.ring_told)
        )
    regions = settings.regions
    if args.seconds is not None:
        regions = dataclasses.replace(regions, seconds=args.seconds)
    if args.regions is not None:
        regions = dataclasses.replace(regions, counts=args.regions)
    if args.releases is not None:
        regions = dataclasses.replace(regions, releases=args.releases)
    settings = dataclasses.replace(settings, regions=regions)
    if args.emit_interval is not None:
        settings = dataclasses.replace(settings, emit_interval=args.emit_interval)
    if args.rate is not None:
        settings = dataclasses.replace(settings, rate=args.rate)
    logging.basicConfig(level=logging.WARNING)
    # SIGTERM unwinds like Ctrl-C, so every process the run started is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = asyncio.run(run(args.scenario, settings, args.quick, args.out))
    missed = [check for check in report.checks if not check.met]
    return 1 if args.quick and missed else 0


if __name__ == "__main__":
    sys.exit(main())
