"""Fixtures shared by the adapter tests: the fake flow server and emitter rigs on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.adapter.rig import Rig
from tests.fakes.flow_server import FlowServer

MakeServer = Callable[..., Awaitable[FlowServer]]
MakeRig = Callable[..., Rig]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """Start fake flow servers with the given settings; all are closed after the test."""
    servers: list[FlowServer] = []

    async def make(**settings: Any) -> FlowServer:
        server = FlowServer(**settings)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def flow_server(make_server: MakeServer) -> FlowServer:
    return await make_server()


@pytest.fixture
async def make_rig(flow_server: FlowServer) -> AsyncIterator[MakeRig]:
    """Build emitter rigs (on `flow_server` unless told otherwise); all are stopped afterwards."""
    rigs: list[Rig] = []

    def make(server: FlowServer | None = None, **settings: Any) -> Rig:
        rig = Rig(server or flow_server, **settings)
        rigs.append(rig)
        return rig

    yield make
    flow_server.heal()
    await flow_server.accept()
    for rig in rigs:
        await rig.stop()


@pytest.fixture
def rig(make_rig: MakeRig) -> Rig:
    return make_rig()
