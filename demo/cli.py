"""``python -m demo``: start everything, play a bootstrap, check it, draw it, stop everything.

Exit codes, so a script or the test can tell what went wrong:

- 0: the flow server's graph ended equal to the cluster, picture written
  (or, without Graphviz, its ``.dot`` and the command that renders it);
- 1: the play ran but did not end as it should: Flux did not reach a stage
  in time (the output says what helm-controller said), the flow server's
  graph never matched the cluster, or the adapter, the flow server, a Flux
  controller or the apiserver died during the play;
- 2: bad command line;
- 3: the demo could not set up (a peer's build, etcd, a controller, a child process);
- 130 / 143: stopped by SIGINT (Ctrl-C) / SIGTERM, after stopping every
  process the demo started and removing its temporary files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any, Final

from demo.bootstrap import (
    DELETED,
    FAILING,
    FIXED_VERSION,
    NAMESPACE,
    SAMPLE,
    SOURCE,
    Expected,
    expected_final,
    mismatches,
    publish_kit,
    repository_object,
)
from demo.dot import to_dot
from demo.flux import ready_of
from demo.graph import FlowGraph
from demo.play import Observer, Player, StuckError
from demo.processes import (
    REPO_ROOT,
    Child,
    ChildError,
    FlowServerError,
    fetch_snapshot,
    start_adapter,
    start_flow_server,
)
from demo.render import can_install, install_dot, render, render_command
from demo.view import LiveUi, PlainUi, Ui
from localcluster import (
    HELMREPOSITORY,
    ApiConnectionError,
    ApiError,
    ClusterError,
    KubeClient,
    LocalCluster,
    ensure_apiserver_binary,
)
from localcluster.chartrepo import ChartRepository
from localcluster.flux import FluxControllers

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_SETUP: Final = 3
EXIT_SIGINT: Final = 130
EXIT_SIGTERM: Final = 143

ADAPTER_USER: Final = "flux-adapter"
OUTPUTS: Final = ("snapshot.json", "demo.dot", "demo.svg", "demo.png")
"""Removed first, so a run that fails early leaves no picture from an earlier run."""
READY_TIMEOUT: Final = 120.0
"""Generous: the machine may be busy with other people's tests."""

Json = dict[str, Any]


class Stopped(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C does, through every ``finally``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be above 0 and at most 3600")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/demo",
        description="Start a real kube-apiserver, Flux's source-controller and "
        "helm-controller, a flow server and the adapter; bootstrap sixteen HelmReleases "
        "from charts served on 127.0.0.1 and watch the flow server's graph follow what "
        "helm-controller writes, live; draw the result.",
        epilog="Exit codes: 0 ok, 1 a stage did not come in time or the graph did not match "
        "the cluster, 2 usage, 3 set-up failed, 130/143 interrupted.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "demo-output",
        help="where the picture, snapshot.json and logs go (default: demo-output/)",
    )
    parser.add_argument(
        "--no-tty",
        action="store_true",
        help="print plain progress lines instead of the live view (implied without a terminal)",
    )
    parser.add_argument("--region", default="fsn1", help="REGION_KEY for the adapter")
    parser.add_argument("--flow", default="bootstrap", help="FLOW_ID for the adapter")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=180.0,
        help="seconds each stage may take: the failure shown, every release green, "
        "the graph equal to the cluster after the delete (default: 180)",
    )
    return parser


class Demo:
    """Owns every process and file the demo makes, so ``close()`` can undo them all."""

    def __init__(self, args: argparse.Namespace, ui: Ui) -> None:
        self.args = args
        self.ui = ui
        self.output: Path = args.output.resolve()
        self.logs = self.output / "logs"
        self.tmp: Path | None = None
        self.cluster: LocalCluster | None = None
        self.controllers: FluxControllers | None = None
        self.repo: ChartRepository | None = None
        self.flow_server: Child | None = None
        self.adapter: Child | None = None
        self.flow_url = ""
        self.playing = False

    # -- set-up ------------------------------------------------------------

    def _start_cluster(self) -> KubeClient:
        hint = "the first run builds it from its Go module: several minutes"
        with self.ui.phase(f"kube-apiserver binary ({hint})"):
            binary = ensure_apiserver_binary()
        with self.ui.phase("starting etcd and kube-apiserver on 127.0.0.1"):
            self.cluster = LocalCluster(binary, users=(ADAPTER_USER,))
            self.cluster.start()
        kube = KubeClient.for_cluster(self.cluster)
        hint = "the first run builds both controllers from their Go modules: several minutes"
        with self.ui.phase(f"Flux CRDs ({hint}), namespace {NAMESPACE}, the adapter's RBAC"):
            kube.apply_crds()
            kube.create_namespace(NAMESPACE)
            for group, resource in (
                ("helm.toolkit.fluxcd.io", "helmreleases"),
                ("source.toolkit.fluxcd.io", "helmcharts"),
            ):
                kube.grant(
                    ADAPTER_USER,
                    resources=[resource],
                    verbs=["list", "watch"],
                    api_groups=[group],
                    namespace=NAMESPACE,
                )
        return kube

    def _start_flux(self, kube: KubeClient) -> None:
        assert self.cluster is not None
        assert self.tmp is not None
        with self.ui.phase("starting source-controller and helm-controller on 127.0.0.1"):
            self.controllers = FluxControllers(self.cluster)
            self.controllers.start()
        versions = ", ".join(f"{n} {v}" for n, v in self.controllers.versions.items())
        self.ui.say(f"Flux: {versions}")
        with self.ui.phase(
            f"serving the kit's {len(SAMPLE)} charts on 127.0.0.1 (HelmRepository {SOURCE})"
        ):
            self.repo = ChartRepository(self.tmp / "charts").start()
            publish_kit(self.repo, SAMPLE, FAILING)
            kube.create(repository_object(self.repo.url))
            deadline = time.monotonic() + READY_TIMEOUT
            while (ready := ready_of(kube.get(HELMREPOSITORY, NAMESPACE, SOURCE))).status != "True":
                self.check()
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"source-controller did not fetch {self.repo.url}/index.yaml in "
                        f"{READY_TIMEOUT:.0f}s: {ready}"
                    )
                time.sleep(0.2)

    def _start_peers(self, kubeconfig: Path) -> None:
        with self.ui.phase("starting the flow server stand-in"):
            self.flow_server, self.flow_url = start_flow_server(self.logs / "flow-server.log")
        settings = {
            "FLOW_SERVER_URL": self.flow_url,
            "FLOW_ID": self.args.flow,
            "REGION_KEY": self.args.region,
            "NAMESPACE_FILTER": NAMESPACE,
            "HEALTH_LISTEN_ADDR": "127.0.0.1:0",
            "LEADER_ELECTION": "false",
            "LOG_FORMAT": "json",
        }
        with self.ui.phase("starting the adapter (python -m flux_adapter); it sends its region"):
            self.adapter = start_adapter(kubeconfig, settings, self.logs / "adapter.log")
            deadline = time.monotonic() + READY_TIMEOUT
            while self.args.region not in self.read().statuses():
                self.check()
                if time.monotonic() > deadline:
                    raise ChildError(
                        f"the adapter sent no region node in {READY_TIMEOUT:.0f}s:\n"
                        f"{self.adapter.tail()}"
                    )
                time.sleep(0.1)

    # -- while playing -----------------------------------------------------

    def snapshot(self) -> Json | None:
        return fetch_snapshot(self.flow_url, self.args.flow)

    def read(self) -> FlowGraph:
        return FlowGraph.from_snapshot(self.snapshot())

    def check(self) -> None:
        for child in (self.adapter, self.flow_server):
            if child is not None:
                child.check()
        if self.cluster is not None and not self.cluster.running:
            raise ChildError("kube-apiserver exited")
        if self.controllers is not None:
            self.controllers.check()

    def run(self) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        for stale in OUTPUTS:
            (self.output / stale).unlink(missing_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="flux-adapter-demo-"))
        dot_bin = shutil.which("dot")
        if dot_bin is None and can_install():
            with self.ui.phase("installing Debian's graphviz for the picture (only once)"):
                dot_bin = install_dot(self.logs / "apt.log")
            if dot_bin is None:
                self.ui.say(f"graphviz did not install (see {self._show(self.logs)}/apt.log)")
        kube = self._start_cluster()
        assert self.cluster is not None
        self._start_flux(kube)
        kubeconfig = self.cluster.write_kubeconfig(self.tmp / "adapter.kubeconfig", ADAPTER_USER)
        self._start_peers(kubeconfig)

        expected = expected_final(SAMPLE, DELETED, self.args.region)
        self.ui.say(
            f"bootstrapping {len(SAMPLE)} HelmReleases with helm-controller: {FAILING}'s first "
            f"chart is one the API server rejects, fixed with chart {FIXED_VERSION}; "
            f"{DELETED} is deleted at the end (Ctrl-C stops)"
        )
        self.playing = True
        started = time.monotonic()
        observer = Observer(self.ui, kube, self.read, self.check, started)
        converged = False
        assert self.repo is not None
        player = Player(
            kube,
            self.repo,
            SAMPLE,
            observer,
            region=self.args.region,
            failing=FAILING,
            deleted=DELETED,
            timeout=self.args.timeout,
        )
        with self.ui.play():
            try:
                player.run()
            except StuckError as stuck:
                self.ui.say(f"demo: {stuck}")
            else:
                converged = observer.until(
                    time.monotonic() + self.args.timeout,
                    lambda _: not mismatches(expected, self.snapshot()),
                )
                observer.until(time.monotonic() + 1.0)
        return self._finish(expected, converged, time.monotonic() - started, dot_bin)

    # -- the end -----------------------------------------------------------

    def _finish(self, expected: Expected, converged: bool, seconds: float, dot: str | None) -> int:
        snapshot = self.snapshot()
        graph = FlowGraph.from_snapshot(snapshot)
        (self.output / "snapshot.json").write_text(json.dumps(_sorted(snapshot), indent=2) + "\n")
        dot_file = self.output / "demo.dot"
        title = f"flow {self.args.flow}: Flux HelmReleases of region {self.args.region}"
        dot_file.write_text(to_dot(graph, title))
        pictures = self._pictures(dot, dot_file)
        self.ui.say(f"snapshot: {self._show(self.output / 'snapshot.json')}")
        self.ui.say(f"picture:  {pictures}")
        self.ui.say(f"logs:     {self._show(self.logs)}/ (the adapter's JSON log is adapter.log)")
        problems = mismatches(expected, snapshot)
        if converged and not problems:
            kept = len(expected.families)
            self.ui.say(
                f"done in {seconds:.1f}s: the flow server holds what the cluster says: "
                f"{kept} releases succeeded ({FAILING} recovered with chart {FIXED_VERSION}), "
                f"{DELETED} gone."
            )
            return EXIT_OK
        self.ui.say("the flow server's graph does not match the cluster:")
        for line in problems:
            self.ui.say(f"  {line}")
        return EXIT_FAILED

    def _pictures(self, dot: str | None, dot_file: Path) -> str:
        if dot is None:
            cmd = " ".join(render_command(dot_file, "png"))
            return (
                f"{self._show(dot_file)} (Graphviz is not installed; "
                f"apt-get install graphviz, then: {cmd})"
            )
        try:
            written = render(dot, dot_file)
        except RuntimeError as exc:
            return f"{self._show(dot_file)} (rendering failed: {exc})"
        return ", ".join(self._show(p) for p in [*written, dot_file])

    @staticmethod
    def _show(path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def close(self) -> None:
        """Stop the adapter (it flushes), the flow server, Flux, the cluster; remove files.

        The controllers' logs are copied to the output's ``logs/`` first, as
        they live in the cluster's work directory, which goes with it.
        """
        for child in (self.adapter, self.flow_server):
            if child is not None:
                child.stop()
        self.adapter = self.flow_server = None
        if self.controllers is not None:
            self.controllers.stop()
            for log in self.controllers.logs.values():
                with contextlib.suppress(OSError):
                    shutil.copyfile(log, self.logs / log.name)
            self.controllers = None
        if self.repo is not None:
            self.repo.stop()
            self.repo = None
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _sorted(snapshot: Json | None) -> Json:
    """The snapshot with its lists in a stable order, for people and diffs to read."""
    if snapshot is None:
        return {"type": "snapshot"}
    out = dict(snapshot)
    if "nodes" in out:
        out["nodes"] = sorted(out["nodes"], key=lambda n: str(n.get("id")))
    if "relationships" in out:
        out["relationships"] = sorted(
            out["relationships"],
            key=lambda r: (str(r.get("type")), str(r.get("fromId")), str(r.get("toId"))),
        )
    return out


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(EXIT_SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plain = args.no_tty or not sys.stdout.isatty()
    ui: Ui = PlainUi() if plain else LiveUi(f"GET /v1/flows/{args.flow}/snapshot")
    demo = Demo(args, ui)
    signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        code = demo.run()
    except KeyboardInterrupt:
        code = EXIT_SIGINT
    except Stopped as stop:
        code = stop.code
    except (ClusterError, ChildError, FlowServerError, ApiError, ApiConnectionError) as exc:
        ui.say(f"demo: {exc}")
        code = EXIT_FAILED if demo.playing else EXIT_SETUP
    finally:
        # Cleanup must not be cut short by a second Ctrl-C or another SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.close()
    if code in (EXIT_SIGINT, EXIT_SIGTERM):
        ui.say(
            "stopped: the adapter, the flow server, Flux's controllers, kube-apiserver and "
            "etcd are down"
        )
    return code
