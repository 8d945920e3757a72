"""Command line entry point: `flux-adapter` and `python -m flux_adapter`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from flux_adapter import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flux-adapter",
        description="Watch Flux HelmReleases and keep an OpenovaFlow server's graph equal to them.",
    )
    parser.add_argument("--version", action="version", version=f"flux-adapter {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
