"""What the newcomer watches: the flow server's graph, redrawn live, or as plain lines.

The live view shows what the flow server holds (its snapshot) on top and,
underneath as "the cluster", what Flux wrote (helm-controller's ``Ready``
condition of each release as it changes) with what the demo did as a Flux
user, so the adapter is visibly the thing carrying one to the other.
``--no-tty`` (or output that is not a terminal) prints one line per change
instead, which is what the test and CI logs read.
"""

from __future__ import annotations

import contextlib
import sys
from collections import deque
from collections.abc import Iterator
from typing import Final, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.text import Text
from rich.tree import Tree

from demo.flux import Ready
from demo.graph import STATUSES, FlowGraph, Region, Release

STYLES: Final[dict[str, str]] = {
    "succeeded": "bold green",
    "running": "bold blue",
    "pending": "grey62",
    "failed": "bold red",
}
GLYPHS: Final[dict[str, str]] = {
    "succeeded": "✔",
    "running": "◐",
    "pending": "○",
    "failed": "✘",
}
EVENTS_SHOWN: Final = 8


class Ui(Protocol):
    def say(self, text: str) -> None:
        """A one-off message: a phase starting, a file written, a warning."""

    def phase(self, text: str) -> contextlib.AbstractContextManager[None]:
        """Around a step that takes a while (a spinner on a terminal)."""

    def play(self) -> contextlib.AbstractContextManager[None]:
        """Around the play, while the graph is redrawn."""

    def cluster_event(self, elapsed: float, text: str) -> None:
        """Something the demo did, as a Flux user would (an apply, a chart published, a delete)."""

    def flux_event(self, elapsed: float, release: str, ready: Ready | None) -> None:
        """helm-controller changed ``release``'s ``Ready`` condition (``None``: it is gone)."""

    def show(self, elapsed: float, graph: FlowGraph) -> None:
        """The flow server's graph as last read."""


def _style(status: str) -> str:
    return STYLES.get(status, "bold")


def counts(releases: list[Release]) -> str:
    """``'9 succeeded · 2 running'``: the non-zero counts, best first."""
    seen = [s for s in reversed(STATUSES) if any(r.status == s for r in releases)]
    return " · ".join(f"{sum(r.status == s for r in releases)} {s}" for s in seen)


def _release_text(release: Release, name_width: int, family_width: int, needs_width: int) -> Text:
    """One row; the chart comes last so a narrow terminal cuts it first."""
    style = _style(release.status)
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{GLYPHS.get(release.status, '?')} ", style=style)
    text.append(f"{'  ' * release.depth}{release.label}".ljust(name_width + 1), style="bold")
    text.append(release.status.ljust(11), style=style)
    text.append((release.family or "").ljust(family_width + 1), style="cyan")
    needs = f"needs {', '.join(release.needs)}" if release.needs else ""
    text.append(needs.ljust(needs_width + 1), style="grey62")
    if release.chart:
        text.append(release.chart, style="grey50")
    return text


def _needs_width(release: Release) -> int:
    return len(f"needs {', '.join(release.needs)}") if release.needs else 0


def _region_tree(region: Region | None, releases: list[Release]) -> Tree:
    if region is None:
        root = Text("no region yet: the adapter sends it first", style="grey62")
    else:
        root = Text()
        root.append(f"{GLYPHS.get(region.status, '?')} region {region.label}  ", style="bold")
        root.append(region.status, style=_style(region.status))
        if releases:
            root.append(f"   {counts(releases)}", style="grey62")
    tree = Tree(root, guide_style="grey50")
    name_width = max((2 * r.depth + len(r.label) for r in releases), default=0)
    family_width = max((len(r.family or "") for r in releases), default=0)
    needs_width = max((_needs_width(r) for r in releases), default=0)
    for release in releases:
        tree.add(_release_text(release, name_width, family_width, needs_width))
    return tree


def render(graph: FlowGraph, events: list[str], elapsed: float, source: str) -> RenderableType:
    """The whole live screen for one read of the flow server."""
    trees: list[RenderableType] = [_region_tree(r, list(r.releases)) for r in graph.regions]
    if not graph.regions:
        trees.append(_region_tree(None, []))
    if graph.loose:
        trees.append(Text(f"outside any region: {', '.join(r.label for r in graph.loose)}"))
    held = Panel(
        Group(*trees),
        title=f"[bold]the flow server holds[/] [grey62]({source})[/]",
        subtitle=f"{elapsed:5.1f}s",
        border_style="grey50",
        padding=(0, 1),
    )
    wrote = Panel(
        Group(*(Text(e, style="grey70", no_wrap=True, overflow="ellipsis") for e in events))
        if events
        else Text(""),
        title="[bold]the cluster[/] [grey62](what helm-controller wrote; what the demo did)[/]",
        border_style="grey35",
        padding=(0, 1),
    )
    return Group(held, wrote)


def flux_text(release: str, ready: Ready | None) -> str:
    """``'bp-cilium  Ready=True InstallSucceeded: Helm install succeeded for ...'``."""
    said = "gone from the cluster (helm-controller uninstalled it)" if ready is None else ready
    return f"{release:<20} {said}"


class LiveUi:
    """A terminal: spinners for phases, the graph redrawn in place during the play."""

    def __init__(self, source: str, console: Console | None = None) -> None:
        self.console = console if console is not None else Console()
        self.source = source
        self._events: deque[str] = deque(maxlen=EVENTS_SHOWN)
        self._graph = FlowGraph.from_snapshot(None)
        self._elapsed = 0.0
        self._live: Live | None = None

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    @contextlib.contextmanager
    def phase(self, text: str) -> Iterator[None]:
        with self.console.status(text):
            yield
        self.console.print(f"[green]✔[/] {text}", highlight=False)

    @contextlib.contextmanager
    def play(self) -> Iterator[None]:
        with Live(
            self._screen(), console=self.console, auto_refresh=False, transient=False
        ) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    def _screen(self) -> RenderableType:
        return render(self._graph, list(self._events), self._elapsed, self.source)

    def _redraw(self) -> None:
        if self._live is not None:
            self._live.update(self._screen(), refresh=True)

    def _event(self, elapsed: float, text: str) -> None:
        self._events.append(f"{elapsed:5.1f}s  {text}")
        self._elapsed = elapsed
        self._redraw()

    def cluster_event(self, elapsed: float, text: str) -> None:
        self._event(elapsed, f"cluster  {text}")

    def flux_event(self, elapsed: float, release: str, ready: Ready | None) -> None:
        self._event(elapsed, f"flux     {flux_text(release, ready)}")

    def show(self, elapsed: float, graph: FlowGraph) -> None:
        self._graph = graph
        self._elapsed = elapsed
        self._redraw()


class PlainUi:
    """No terminal: one line per change; the demo's writes, Flux's and the server's interleaved."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self._statuses: dict[str, str] = {}

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def say(self, text: str) -> None:
        self._line(text)

    @contextlib.contextmanager
    def phase(self, text: str) -> Iterator[None]:
        self._line(f"{text} ...")
        yield

    @contextlib.contextmanager
    def play(self) -> Iterator[None]:
        yield

    def cluster_event(self, elapsed: float, text: str) -> None:
        self._line(f"[{elapsed:6.1f}s] cluster  {text}")

    def flux_event(self, elapsed: float, release: str, ready: Ready | None) -> None:
        self._line(f"[{elapsed:6.1f}s] flux     {flux_text(release, ready)}")

    def show(self, elapsed: float, graph: FlowGraph) -> None:
        now = graph.statuses()
        for node_id in sorted(now.keys() | self._statuses.keys()):
            before, after = self._statuses.get(node_id), now.get(node_id)
            if before == after:
                continue
            change = after if before is None else f"{before} -> {after or 'deleted'}"
            self._line(f"[{elapsed:6.1f}s] flow     {node_id:<26} {change}")
        self._statuses = now
