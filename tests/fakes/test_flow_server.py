"""The fake flow server keeps the contract the adapter is tested against."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import MakeServer
from tests.fakes.flow_server import FlowServer

FLOW = "demo"


def node(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "flowId": FLOW, "label": node_id, "status": "running", **extra}


def edge(from_id: str, to_id: str, kind: str = "finish-to-start") -> dict[str, Any]:
    return {"fromId": from_id, "toId": to_id, "type": kind}


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, envelope: object, flow: str = FLOW) -> tuple[int, str]:
        body = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        async with self.session.post(
            f"{self.url}/v1/flows/{flow}/events",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as answer:
            return answer.status, await answer.text()

    async def snapshot(self, flow: str = FLOW) -> tuple[int, Any]:
        async with self.session.get(f"{self.url}/v1/flows/{flow}/snapshot") as answer:
            if answer.status != 200:
                return answer.status, await answer.text()
            return answer.status, await answer.json()


@pytest.fixture
async def client(flow_server: FlowServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, flow_server.url)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_answer_ok(client: Client, path: str) -> None:
    async with client.session.get(client.url + path) as answer:
        assert (answer.status, await answer.text()) == (200, "ok")


async def test_an_unknown_flow_has_no_snapshot(client: Client) -> None:
    assert (await client.snapshot())[0] == 404


async def test_accepted_envelopes_are_numbered_per_flow(client: Client) -> None:
    envelope = {"type": "upsert-nodes", "nodes": [node("a")]}

    assert await client.post(envelope) == (200, '{"seq": 1}')
    assert await client.post(envelope) == (200, '{"seq": 2}')
    assert await client.post(envelope, flow="other") == (200, '{"seq": 1}')


@pytest.mark.parametrize(
    "envelope",
    [
        b"{not json",
        ["upsert-nodes"],
        {"nodes": [node("a")]},
        {"type": "upsert-everything", "nodes": [node("a")]},
        {"type": "upsert-nodes"},
        {"type": "upsert-nodes", "nodes": []},
        {"type": "upsert-rels", "relationships": [{"fromId": "a"}]},
        {"type": "delete-rels", "pairs": []},
        {"type": "delete-nodes", "ids": [3]},
        {"type": "upsert-nodes", "nodes": [{"label": "no id"}]},
        {"type": "upsert-flow"},
    ],
)
async def test_invalid_envelopes_get_400_with_a_text_reason(
    client: Client, envelope: object
) -> None:
    status, reason = await client.post(envelope)

    assert status == 400
    assert reason
    assert (await client.snapshot())[0] == 404


async def test_a_node_missing_optional_and_required_fields_is_stored_as_it_came(
    client: Client,
) -> None:
    await client.post({"type": "upsert-nodes", "nodes": [{"id": "bare"}]})

    assert await client.snapshot() == (200, {"type": "snapshot", "nodes": [{"id": "bare"}]})


async def test_bodies_over_one_mebibyte_get_413(client: Client) -> None:
    def body(size: int) -> bytes:
        head = b'{"type":"upsert-nodes","nodes":[{"id":"a","label":"'
        tail = b'"}]}'
        return head + b"x" * (size - len(head) - len(tail)) + tail

    assert (await client.post(body(1_048_576)))[0] == 200
    assert (await client.post(body(1_048_577)))[0] == 413


async def test_an_upsert_replaces_the_whole_node(client: Client) -> None:
    await client.post({"type": "upsert-nodes", "nodes": [node("a", family="x")]})
    await client.post({"type": "upsert-nodes", "nodes": [node("a", status="failed")]})

    _, snapshot = await client.snapshot()
    assert snapshot["nodes"] == [{**node("a"), "status": "failed"}]


async def test_edges_survive_delete_nodes_until_delete_rels(client: Client) -> None:
    await client.post({"type": "upsert-nodes", "nodes": [node("a"), node("b")]})
    await client.post({"type": "upsert-rels", "relationships": [edge("a", "b")]})
    await client.post({"type": "delete-nodes", "ids": ["a", "b"]})

    assert await client.snapshot() == (
        200,
        {"type": "snapshot", "relationships": [edge("a", "b")]},
    )

    await client.post({"type": "delete-rels", "pairs": [edge("a", "b")]})
    assert await client.snapshot() == (200, {"type": "snapshot"})


async def test_relationships_merge_by_from_to_and_type(client: Client) -> None:
    await client.post({"type": "upsert-rels", "relationships": [edge("a", "b")]})
    conditional = {**edge("a", "b"), "condition": "on-success"}
    await client.post(
        {"type": "upsert-rels", "relationships": [conditional, edge("a", "b", "triggers")]}
    )

    _, snapshot = await client.snapshot()
    assert sorted(snapshot["relationships"], key=lambda r: r["type"]) == [
        conditional,
        edge("a", "b", "triggers"),
    ]


async def test_the_flow_shows_only_after_upsert_flow(client: Client) -> None:
    flow = {"id": FLOW, "status": "running", "startedAt": 1}
    await client.post({"type": "upsert-nodes", "nodes": [node("a")]})
    assert "flow" not in (await client.snapshot())[1]

    await client.post({"type": "upsert-flow", "flow": flow})
    assert (await client.snapshot())[1]["flow"] == flow


async def test_an_envelope_evicted_from_the_ring_takes_its_effect_along(
    make_server: MakeServer,
) -> None:
    server = await make_server(ring_size=2)
    async with aiohttp.ClientSession() as session:
        client = Client(session, server.url)
        await client.post({"type": "upsert-nodes", "nodes": [node("first")]})
        await client.post({"type": "upsert-nodes", "nodes": [node("second")]})
        await client.post({"type": "upsert-nodes", "nodes": [node("third")]})

        _, snapshot = await client.snapshot()
    assert sorted(n["id"] for n in snapshot["nodes"]) == ["second", "third"]


async def test_restart_forgets_every_flow(client: Client, flow_server: FlowServer) -> None:
    await client.post({"type": "upsert-nodes", "nodes": [node("a")]})

    flow_server.restart()

    assert (await client.snapshot())[0] == 404
    assert await client.post({"type": "upsert-nodes", "nodes": [node("a")]}) == (200, '{"seq": 1}')


async def test_deleting_a_flow_forgets_it(client: Client) -> None:
    await client.post({"type": "upsert-nodes", "nodes": [node("a")]})

    async with client.session.delete(f"{client.url}/v1/flows/{FLOW}") as answer:
        assert answer.status == 204
    assert (await client.snapshot())[0] == 404


async def test_injected_failures_run_out_after_the_given_count(
    client: Client, flow_server: FlowServer
) -> None:
    flow_server.fail(503, times=2, retry_after="4")
    envelope = {"type": "upsert-nodes", "nodes": [node("a")]}

    async with client.session.post(f"{client.url}/v1/flows/{FLOW}/events", json=envelope) as answer:
        assert (answer.status, answer.headers["Retry-After"]) == (503, "4")
    assert (await client.snapshot())[0] == 503
    assert (await client.post(envelope))[0] == 200
    assert [seen.status for seen in flow_server.requests] == [503, 503, 200]


async def test_a_hung_request_is_answered_only_after_heal_and_not_applied(
    client: Client, flow_server: FlowServer
) -> None:
    flow_server.hang(times=1)

    hung = asyncio.create_task(client.post({"type": "upsert-nodes", "nodes": [node("a")]}))
    await asyncio.sleep(0.2)
    assert not hung.done()

    flow_server.heal()
    assert (await hung)[0] == 503
    assert (await client.snapshot())[0] == 404


async def test_refusing_drops_connections_until_accepting_on_the_same_port(
    client: Client, flow_server: FlowServer
) -> None:
    assert (await client.snapshot())[0] == 404
    await flow_server.refuse()

    with pytest.raises(aiohttp.ClientConnectionError):
        await client.snapshot()

    await flow_server.accept()
    assert (await client.snapshot())[0] == 404


async def test_runs_as_a_process_with_controls_over_http() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.flow_server",
        "--ring-size",
        "16",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("listening http://127.0.0.1:")
        url = line.split()[1]
        async with aiohttp.ClientSession() as session:
            client = Client(session, url)
            async with session.post(
                f"{url}/_fake/fail", json={"status": 500, "times": 1}
            ) as answer:
                assert answer.status == 200
            assert (await client.post({"type": "upsert-nodes", "nodes": [node("a")]}))[0] == 500
            assert (await client.post({"type": "upsert-nodes", "nodes": [node("a")]}))[0] == 200
            async with session.get(f"{url}/_fake/requests") as answer:
                seen = (await answer.json())["requests"]
            assert [(r["method"], r["status"]) for r in seen] == [("POST", 500), ("POST", 200)]
            async with session.post(f"{url}/_fake/restart") as answer:
                assert answer.status == 200
            assert (await client.snapshot())[0] == 404
    finally:
        process.terminate()
        assert await process.wait() == 0


async def read_events(
    answer: aiohttp.ClientResponse, count: int
) -> list[tuple[str, str | None, Any]]:
    """The next `count` events of a stream: name, id and parsed data."""
    events: list[tuple[str, str | None, Any]] = []
    fields: dict[str, str] = {}
    while len(events) < count:
        line = (await answer.content.readline()).decode().rstrip("\n")
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        events.append((fields["event"], fields.get("id"), json.loads(fields["data"])))
        fields = {}
    return events


async def test_the_stream_opens_with_the_snapshot_then_numbers_every_envelope(
    client: Client, flow_server: FlowServer
) -> None:
    first = {"type": "upsert-nodes", "nodes": [node("a")]}
    await client.post(first)
    async with client.session.get(f"{client.url}/v1/flows/{FLOW}/stream") as answer:
        assert answer.headers["Content-Type"] == "text/event-stream"
        assert await read_events(answer, 1) == [
            ("snapshot", "1", {"type": "snapshot", "nodes": [node("a")]})
        ]
        second = {"type": "upsert-rels", "relationships": [edge("a", "b")]}
        await client.post(second)
        await client.post(first, flow="other")
        await client.post(first)
        assert await read_events(answer, 2) == [
            ("upsert-rels", "2", second),
            ("upsert-nodes", "3", first),
        ]
    assert [seen.flow_id for seen in flow_server.streams] == [FLOW]
    assert flow_server.requests[-1].method == "POST"


async def test_an_unknown_flow_streams_an_empty_snapshot_numbered_zero(client: Client) -> None:
    async with client.session.get(f"{client.url}/v1/flows/{FLOW}/stream") as answer:
        assert await read_events(answer, 1) == [("snapshot", "0", {"type": "snapshot"})]


async def test_the_stream_sends_heartbeats(make_server: MakeServer) -> None:
    server = await make_server(heartbeat=0.05)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/v1/flows/{FLOW}/stream") as answer,
    ):
        events = await read_events(answer, 3)
    assert [name for name, _, _ in events] == ["snapshot", "heartbeat", "heartbeat"]
    assert events[1][1] is None


async def test_a_restart_ends_the_stream_and_counts_again_from_one(
    client: Client, flow_server: FlowServer
) -> None:
    envelope = {"type": "upsert-nodes", "nodes": [node("a")]}
    await client.post(envelope)
    await client.post(envelope)
    async with client.session.get(f"{client.url}/v1/flows/{FLOW}/stream") as answer:
        await read_events(answer, 1)
        flow_server.restart()
        assert await answer.content.read() == b""
    assert await client.post(envelope) == (200, '{"seq": 1}')


async def test_a_slow_reader_loses_the_oldest_events(
    client: Client, flow_server: FlowServer
) -> None:
    async with client.session.get(f"{client.url}/v1/flows/{FLOW}/stream") as answer:
        await read_events(answer, 1)
        # Hold the server's writer so everything posted now waits in its buffer.
        reader = next(iter(flow_server._readers[FLOW]))
        reader.wake.set = lambda: None  # type: ignore[method-assign]
        for index in range(40):
            await client.post({"type": "upsert-nodes", "nodes": [node(f"n{index}")]})
        del reader.wake.set
        reader.wake.set()
        events = await read_events(answer, 16)
    assert [seq for _, seq, _ in events] == [str(seq) for seq in range(25, 41)]


async def test_a_stream_can_be_refused_as_by_a_proxy_without_sse(
    client: Client, flow_server: FlowServer
) -> None:
    flow_server.stream_enabled = False
    async with client.session.get(f"{client.url}/v1/flows/{FLOW}/stream") as answer:
        assert answer.status == 404
