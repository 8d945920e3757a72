"""`python -m bench <scenario> [--quick]`: measure the adapter against the per-event baseline.

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
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
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
