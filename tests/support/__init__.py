"""Shared helpers for the tests: a recording change sink, waiting without sleeps, fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mapper import Keys
from tests.fixtures import bootstrap_kit, ready_chart, upgrade_failed_release

REGION = "eu-1"

__all__ = [
    "PATIENCE",
    "REGION",
    "RecordingSink",
    "bootstrap_kit",
    "eventually",
    "node",
    "ready_chart",
    "upgrade_failed_release",
]


class RecordingSink:
    """A ChangeSink that remembers every notification, as copies."""

    def __init__(self) -> None:
        self.calls: list[Keys] = []

    def notify(self, keys: Keys) -> None:
        self.calls.append(Keys(nodes=set(keys.nodes), rels=set(keys.rels)))

    def times_node(self, node_id: str) -> int:
        """In how many notifications this node id appeared."""
        return sum(1 for keys in self.calls if node_id in keys.nodes)


PATIENCE = 30.0
"""Seconds before `eventually` gives up: generous, it only bounds a failing test."""


async def eventually(check: Callable[[], bool], what: str, deadline: float = PATIENCE) -> None:
    """Wait until `check()` holds, polling, so no test depends on how fast a machine is."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while not check():
        if loop.time() > give_up:
            raise AssertionError(f"never happened within {deadline} s: {what}")
        await asyncio.sleep(0.01)


def node(name: str) -> str:
    return f"{REGION}/{name}"
