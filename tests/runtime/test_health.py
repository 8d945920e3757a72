"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from flux_adapter.observe.metrics import Metrics
from flux_adapter.runtime.health import HealthServer, Heartbeat
from flux_adapter.runtime.supervisor import GaveUpError, SupervisedTasks, supervise


def get_status(url: str) -> int:
    """One probe as the kubelet sends it, from outside the event loop."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


async def test_endpoints_answer_from_their_checks() -> None:
    state: dict[str, str | None] = {"live": None, "ready": "helmreleases not listed yet"}
    metrics = Metrics()
    metrics.leader.set(1)
    server = HealthServer("127.0.0.1", 0, [lambda: state["live"]], lambda: state["ready"], metrics)
    port = await server.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200
            async with session.get(f"{base}/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["failures"] == ["helmreleases not listed yet"]
            state["ready"] = None
            state["live"] = "helmcharts watch loop is not running"
            async with session.get(f"{base}/readyz") as resp:
                assert resp.status == 200
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["failures"] == ["helmcharts watch loop is not running"]
            async with session.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                assert "flux_adapter_leader 1.0" in await resp.text()
    finally:
        await server.stop()


async def test_a_blocked_event_loop_turns_healthz_503_while_it_is_blocked() -> None:
    heartbeat = Heartbeat(stall_limit=0.5)
    server = HealthServer("127.0.0.1", 0, [heartbeat.check], lambda: None, Metrics())
    port = await server.start()
    beating = asyncio.create_task(heartbeat.run())
    seen: list[tuple[float, int]] = []

    def probe_for(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            status = get_status(f"http://127.0.0.1:{port}/healthz")
            seen.append((time.monotonic(), status))
            time.sleep(0.1)

    try:
        await asyncio.sleep(0.1)
        prober = threading.Thread(target=probe_for, args=(2.0,))
        prober.start()
        time.sleep(2.0)  # noqa: ASYNC251 - blocking the main loop is what is tested
        unblocked = time.monotonic()
        prober.join()
        assert seen[0][1] == 200
        assert any(status == 503 and at < unblocked for at, status in seen), seen
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(get_status, f"http://127.0.0.1:{port}/healthz") == 200
    finally:
        beating.cancel()
        await server.stop()


async def test_a_supervised_task_that_gives_up_turns_healthz_503() -> None:
    tasks = SupervisedTasks()
    server = HealthServer("127.0.0.1", 0, [tasks.check], lambda: None, Metrics())
    port = await server.start()
    url = f"http://127.0.0.1:{port}/healthz"

    async def broken() -> None:
        raise ValueError("a bug")

    try:
        assert await asyncio.to_thread(get_status, url) == 200
        with pytest.raises(GaveUpError):
            await supervise("emitter", broken, max_failures=2, backoff_start=0.01, tasks=tasks)
        assert await asyncio.to_thread(get_status, url) == 503
        assert tasks.check() == "emitter died and is not being restarted: ValueError: a bug"
    finally:
        await server.stop()


async def test_a_task_being_restarted_keeps_liveness_up() -> None:
    tasks = SupervisedTasks()
    restarts = 0

    async def flaky() -> None:
        nonlocal restarts
        restarts += 1
        if restarts < 3:
            raise ValueError("a passing fault")
        await asyncio.Event().wait()

    running = asyncio.create_task(
        supervise("watch", flaky, max_failures=5, backoff_start=0.01, tasks=tasks)
    )
    try:
        while restarts < 3:
            assert tasks.check() is None
            await asyncio.sleep(0.005)
        assert tasks.check() is None
    finally:
        running.cancel()


async def test_a_taken_port_is_reported_to_the_caller() -> None:
    first = HealthServer("127.0.0.1", 0, [], lambda: None, Metrics())
    port = await first.start()
    second = HealthServer("127.0.0.1", port, [], lambda: None, Metrics())
    try:
        with pytest.raises(OSError, match="in use"):
            await second.start()
    finally:
        await first.stop()
