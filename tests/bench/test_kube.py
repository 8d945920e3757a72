"""The benchmark's Kubernetes access: the library sends the token; every error status is raised."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from bench.kube import Kube, KubeError, WriteError
from bench.workload import Change

RELEASES = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/ns/helmreleases"


@dataclass
class Server:
    """An API server stand-in: answers by (method, path), records what it was sent."""

    url: str = ""
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    found = Server()

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        found.seen.append(
            (request.method, request.path_qs, dict(request.headers), json.loads(body or "null"))
        )
        status, reply = found.answers.get((request.method, request.path), (404, {}))
        if isinstance(reply, list):  # a watch: one JSON line per event
            stream = web.StreamResponse(status=status)
            await stream.prepare(request)
            for event in reply:
                await stream.write(json.dumps(event).encode() + b"\n")
            await stream.write_eof()
            return stream
        return web.json_response(reply, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}"
    yield found
    await runner.cleanup()


async def test_writes_carry_the_token_and_a_refusal_is_raised(server: Server) -> None:
    server.answers[("POST", RELEASES)] = (409, {"kind": "Status", "reason": "AlreadyExists"})
    server.answers[("PATCH", f"{RELEASES}/a/status")] = (422, {"kind": "Status"})
    async with Kube(server.url, "tok", None) as kube:
        await kube.create({"metadata": {"name": "a", "namespace": "ns"}})  # 409 counts as done
        with pytest.raises(WriteError, match="HTTP 422"):
            await kube.patch("ns", "a", {"status": {"n": 1}}, "status")
    (_, _, headers, body), (method, path, patch_headers, patch) = server.seen
    assert headers["Authorization"] == "Bearer tok"
    assert body == {"metadata": {"name": "a", "namespace": "ns"}}
    assert (method, path) == ("PATCH", f"{RELEASES}/a/status")
    assert patch_headers["Content-Type"] == "application/merge-patch+json"
    assert patch == {"status": {"n": 1}}


async def test_a_refused_paced_write_is_recorded_not_raised(server: Server) -> None:
    server.answers[("PATCH", f"{RELEASES}/a/status")] = (200, {})
    changes = [
        Change(seq=0, name="a", patch={"status": {}}, subresource="status"),
        Change(seq=1, name="b", patch={"status": {}}, subresource="status"),
    ]
    async with Kube(server.url, "tok", None) as kube:
        writes = await kube.paced("ns", changes, rate=100.0)
    assert [(write.name, write.ok) for write in writes] == [("a", True), ("b", False)]


async def test_list_and_watch_are_raw_json_and_an_error_status_is_raised(server: Server) -> None:
    listing = {"kind": "HelmReleaseList", "items": [], "metadata": {"resourceVersion": "5"}}
    events = [{"type": "ADDED", "object": {"metadata": {"name": str(n)}}} for n in range(3)]
    server.answers[("GET", RELEASES)] = (200, listing)
    async with Kube(server.url, "tok", None) as kube:
        assert await kube.list_releases("ns") == listing
        server.answers[("GET", RELEASES)] = (200, events)
        assert [event async for event in kube.watch_releases("ns", "5", 30)] == events
        server.answers[("GET", RELEASES)] = (403, {"kind": "Status", "reason": "Forbidden"})
        with pytest.raises(KubeError, match="HTTP 403"):
            await kube.list_releases("ns")
    watch = server.seen[1][1]
    assert "watch=1" in watch
    assert "resourceVersion=5" in watch
    assert "timeoutSeconds=30" in watch
