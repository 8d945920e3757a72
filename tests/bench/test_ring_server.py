"""The ring stand-in's accounting per client and per region, in process, on literal envelopes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bench.ring_server import RingStandIn


def nodes(*ids: str) -> dict[str, Any]:
    return {"type": "upsert-nodes", "nodes": [{"id": node_id} for node_id in ids]}


async def _event(stream: aiohttp.ClientResponse) -> str:
    """The next event's name on an open stream."""
    name = ""
    while (line := await stream.content.readline()) not in (b"\n", b""):
        if line.startswith(b"event: "):
            name = line[7:].decode().strip()
    return name


async def _scenario() -> dict[str, Any]:
    server = RingStandIn(regions=["eu", "us"], ring_size=3, host="127.0.0.1", port=0)
    url = await server.start()
    flow = f"{url}/c/{{client}}/v1/flows/f"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(flow.format(client="us") + "/stream") as stream,
        ):
            assert await _event(stream) == "snapshot"
            for client, envelope in (("eu", nodes("eu", "eu/a")), ("us", nodes("us"))):
                async with session.post(
                    flow.format(client=client) + "/events", json=envelope
                ) as answer:
                    assert (await answer.json())["seq"] > 0
            assert await _event(stream) == "upsert-nodes"
            assert await _event(stream) == "upsert-nodes"
            async with session.get(flow.format(client="eu") + "/snapshot") as answer:
                assert len((await answer.json())["nodes"]) == 3
            # Two more of the other region's turn the ring of 3 over: eu's envelope goes.
            for index in range(2):
                async with session.post(
                    flow.format(client="us") + "/events", json=nodes(f"us/{index}")
                ) as answer:
                    answer.raise_for_status()
            await asyncio.sleep(0.2)
            async with session.get(f"{url}/_bench/regions/f") as answer:
                figures: dict[str, Any] = await answer.json()
            async with session.get(
                f"{url}/_bench/regions/f/posts", params={"client": "eu"}
            ) as answer:
                figures["eu_posts"] = (await answer.json())["posts"]
    finally:
        await server.close()
    return figures


def test_each_client_and_each_region_is_counted_apart() -> None:
    figures = asyncio.run(_scenario())
    eu, us = figures["clients"]["eu"], figures["clients"]["us"]
    assert (eu["posts"], eu["snapshot_gets"], eu["streams"]) == (1, 1, 0)
    assert eu["snapshot_bytes"] > 0
    assert (us["posts"], us["snapshot_gets"], us["streams"]) == (3, 0, 1)
    # The stream's opening snapshot event and the four envelopes (at least the first two read).
    assert us["stream_events"] >= 3
    assert us["stream_bytes"] > eu["post_bytes"]
    assert us["stream_dropped"] == 0
    assert figures["flow_sequence"] == 4
    regions = figures["regions"]
    assert (regions["eu"]["shown_nodes"], regions["us"]["shown_nodes"]) == (0, 3)
    assert regions["eu"]["missing_now"] == 2
    assert regions["eu"]["node_seconds"] > 0
    assert regions["us"]["node_seconds"] == 0
    assert regions["eu"]["envelopes"] == 1
    assert [post["status"] for post in figures["eu_posts"]] == [200]
