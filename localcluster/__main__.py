"""Run a local cluster until interrupted: ``python -m localcluster``.

Starts etcd + kube-apiserver, applies the real Flux CRDs, writes one kubeconfig per
user into ``--kubeconfig-dir`` and waits for Ctrl-C or SIGTERM, then stops
everything it started.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from localcluster.apiserver import ADMIN_USER, LocalCluster
from localcluster.client import KubeClient
from localcluster.errors import ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcluster")
    parser.add_argument(
        "--kubeconfig-dir",
        type=Path,
        default=Path.cwd() / ".localcluster",
        help="where to write <user>.kubeconfig files (default: ./.localcluster)",
    )
    parser.add_argument("--binary", help="kube-apiserver binary (default: build/cache)")
    parser.add_argument("--no-crds", action="store_true", help="skip the Flux CRDs")
    parser.add_argument("--compaction-interval", default="5s", help="etcd compaction interval")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        with LocalCluster(args.binary, compaction_interval=args.compaction_interval) as cluster:
            # Installed once up: a Ctrl-C during start interrupts start(),
            # which cleans up after itself.
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
            if not args.no_crds:
                KubeClient.for_cluster(cluster).apply_crds()
            out: Path = args.kubeconfig_dir
            out.mkdir(parents=True, exist_ok=True)
            ready = cluster.start_seconds or 0.0
            print(f"kube-apiserver: {cluster.url} (ready in {ready:.1f}s)")
            for user in [ADMIN_USER, *cluster.users]:
                path = cluster.write_kubeconfig(out / f"{user}.kubeconfig", user)
                print(f"  {user:<8} {path}")
            print(f"logs: {cluster.workdir}  (Ctrl-C to stop)", flush=True)
            while not stop.wait(0.5):
                if not cluster.running:
                    print("kube-apiserver exited", file=sys.stderr)
                    return 1
    except ClusterError as exc:
        print(f"localcluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
