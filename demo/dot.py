"""The flow graph as Graphviz DOT: the picture the demo leaves behind.

Pure text, so it can be tested with literals and written even where Graphviz
is missing. Layout choices are for a README-sized picture: dependencies run
left to right, each region is a cluster framed in its rolled-up status, and
the colour legend sits in the title so it never disturbs the layout.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Final

from demo.graph import FlowGraph, Release

COLOURS: Final[dict[str, tuple[str, str]]] = {
    "pending": ("#eceff1", "#78909c"),
    "running": ("#bbdefb", "#1565c0"),
    "succeeded": ("#c8e6c9", "#2e7d32"),
    "failed": ("#ffcdd2", "#c62828"),
}
"""Fill and border per status, in the legend's (life-cycle) order; Material shades."""
UNKNOWN_COLOURS: Final = ("#ffffff", "#212121")
FONT: Final = "Helvetica"
DETAIL_COLOUR: Final = "#455a64"


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _colours(status: str) -> tuple[str, str]:
    return COLOURS.get(status, UNKNOWN_COLOURS)


def _release_line(release: Release) -> str:
    details = [d for d in (release.family, release.chart) if d]
    if release.status != "succeeded" and release.reason:
        details.append(release.reason)
    label = f"<b>{html.escape(release.label)}</b>"
    if details:
        small = html.escape(" · ".join(details))
        label += f'<br/><font point-size="10" color="{DETAIL_COLOUR}">{small}</font>'
    fill, border = _colours(release.status)
    return f'{_quote(release.id)} [label=<{label}>, fillcolor="{fill}", color="{border}"];'


def _legend(title: str) -> str:
    cells = "".join(
        f'<td bgcolor="{fill}" border="1" color="{border}">&nbsp;{status}&nbsp;</td>'
        for status, (fill, border) in COLOURS.items()
    )
    return (
        '<<table border="0" cellspacing="6" cellpadding="3">'
        f'<tr><td colspan="{len(COLOURS)}"><b>{html.escape(title)}</b></td></tr>'
        f"<tr>{cells}</tr></table>>"
    )


def _indent(lines: Iterable[str], by: str = "  ") -> list[str]:
    return [f"{by}{line}" for line in lines]


def to_dot(graph: FlowGraph, title: str) -> str:
    """DOT source for ``graph``; ``title`` heads the picture above the colour legend."""
    lines = [
        "digraph flow {",
        f'  graph [rankdir=LR, fontname="{FONT}", fontsize=16, labelloc=t, '
        f"label={_legend(title)}, nodesep=0.25, ranksep=0.55, pad=0.3, bgcolor=white];",
        f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=13, '
        'penwidth=1.6, margin="0.14,0.06"];',
        '  edge [color="#78909c", arrowsize=0.7, penwidth=1.2];',
    ]
    for index, region in enumerate(graph.regions):
        _, border = _colours(region.status)
        label = f"<b>region {html.escape(region.label)}</b> · {html.escape(region.status)}"
        lines += [
            f"  subgraph cluster_{index} {{",
            f'    label=<{label}>; labeljust=l; fontsize=15; style="rounded"; '
            f'color="{border}"; penwidth=2;',
            *_indent((_release_line(r) for r in region.releases), "    "),
            "  }",
        ]
    lines += _indent(_release_line(r) for r in graph.loose)
    lines += [f"  {_quote(src)} -> {_quote(dst)};" for src, dst in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
