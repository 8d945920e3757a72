"""Command line entry point: `flux-adapter` and `python -m flux_adapter`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import structlog

from flux_adapter import __version__
from flux_adapter.observe.logs import configure_logging
from flux_adapter.observe.redact import redact_text
from flux_adapter.runtime.settings import Settings
from flux_adapter.runtime.settings_check import EXIT_CONFIG, ConfigError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flux-adapter",
        description=(
            "Watch Flux HelmReleases and keep an OpenovaFlow server's graph equal to them. "
            "Configured by environment variables (see the README)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"flux-adapter {__version__}")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print envelopes as JSON lines on stdout instead of POSTing "
        "(no FLOW_SERVER_URL needed, leader election off)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the environment, print the effective settings and exit",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)",
    )
    return parser


def _effective(settings: Settings) -> str:
    shown = settings.model_dump()
    return "\n".join(f"{name.upper()}={redact_text(str(value))}" for name, value in shown.items())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from flux_adapter.kube.source import KubeConfigError, vet_source

    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = load_settings(dry_run=args.dry_run)
    except ConfigError as err:
        problems.extend(err.lines)
    try:
        vet_source(args.kubeconfig, os.environ)
    except KubeConfigError as err:
        problems.append(str(err))
    if problems or settings is None:
        for line in problems:
            print(f"flux-adapter: config: {line}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(_effective(settings))
        return 0
    configure_logging(settings.log_level, settings.log_format)
    from flux_adapter.emit.http_sink import HttpSinkConfigError
    from flux_adapter.runtime.app import Adapter

    adapter = Adapter(settings, dry_run=args.dry_run, kubeconfig=args.kubeconfig)
    try:
        return asyncio.run(adapter.run())
    except KubeConfigError as err:
        print(f"flux-adapter: config: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except HttpSinkConfigError as err:
        # load_settings checks the same things; this is the last guard against a traceback.
        structlog.get_logger(__name__).error("flow_server_settings_unusable", error=str(err))
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
