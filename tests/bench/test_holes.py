"""The stand-in's hole accounting, on literal envelopes and times."""

from __future__ import annotations

from typing import Any

import pytest

from bench.holes import Holes


def nodes(*ids: str) -> dict[str, Any]:
    return {"type": "upsert-nodes", "nodes": [{"id": node_id} for node_id in ids]}


def rels(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "upsert-rels",
        "relationships": [{"fromId": a, "toId": b, "type": "contains"} for a, b in pairs],
    }


def test_an_evicted_upsert_opens_a_hole_until_the_key_is_upserted_again() -> None:
    holes = Holes("eu")
    holes.accepted(1, nodes("eu", "eu/a"), None, now=0.0, size=100)
    holes.accepted(2, nodes("us/x"), None, now=1.0)
    holes.accepted(3, nodes("us/y"), (1, nodes("eu", "eu/a")), now=2.0)
    assert holes.figures(now=3.0).node_seconds == pytest.approx(2.0)
    holes.accepted(4, nodes("eu/a"), (2, nodes("us/x")), now=5.0)
    figures = holes.figures(now=10.0)
    # "eu/a" was missing 2 -> 5, "eu" from 2 on and still.
    assert figures.node_seconds == pytest.approx(3.0 + 8.0)
    assert figures.longest == pytest.approx(8.0)
    assert figures.holes == 2
    assert figures.missing_now == 1
    assert (figures.envelopes, figures.bytes) == (2, 100)


def test_an_eviction_of_an_older_upsert_of_a_key_changes_nothing() -> None:
    holes = Holes("eu")
    holes.accepted(1, nodes("eu/a"), None, now=0.0)
    holes.accepted(2, nodes("eu/a"), None, now=1.0)
    holes.accepted(3, nodes("us/x"), (1, nodes("eu/a")), now=2.0)
    assert holes.figures(now=9.0).node_seconds == 0.0


def test_a_deleted_key_is_not_missing() -> None:
    holes = Holes("eu")
    holes.accepted(1, nodes("eu/a"), None, now=0.0)
    holes.accepted(2, {"type": "delete-nodes", "ids": ["eu/a"]}, None, now=1.0)
    holes.accepted(3, nodes("us/x"), (1, nodes("eu/a")), now=2.0)
    assert holes.figures(now=9.0).holes == 0


def test_edges_belong_to_the_region_of_their_target() -> None:
    holes = Holes("eu")
    holes.accepted(1, rels(("eu/a", "eu"), ("us/x", "us")), None, now=0.0)
    holes.accepted(2, nodes("us/y"), (1, rels(("eu/a", "eu"), ("us/x", "us"))), now=1.0)
    figures = holes.figures(now=4.0)
    assert figures.edge_seconds == pytest.approx(3.0)
    assert figures.node_seconds == 0.0


def test_a_lost_flow_makes_every_wanted_key_missing() -> None:
    holes = Holes("eu")
    holes.accepted(1, nodes("eu", "eu/a"), None, now=0.0)
    holes.lost(now=1.0)
    holes.accepted(1, nodes("eu", "eu/a"), None, now=1.5)
    figures = holes.figures(now=2.0)
    assert figures.node_seconds == pytest.approx(1.0)
    assert figures.longest == pytest.approx(0.5)
