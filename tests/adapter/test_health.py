"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import aiohttp

from flux_adapter.health import HealthServer, WatchPulse, watch_liveness
from flux_adapter.metrics import Metrics


def test_a_live_watch_that_heard_recently_is_healthy() -> None:
    pulse = WatchPulse("helmreleases", alive=True, last_heard=100.0, inactivity_timeout=90.0)
    assert watch_liveness(pulse, now=279.0) is None


def test_a_watch_silent_for_twice_its_deadline_fails_liveness() -> None:
    pulse = WatchPulse("helmreleases", alive=True, last_heard=100.0, inactivity_timeout=90.0)
    reason = watch_liveness(pulse, now=281.0)
    assert reason is not None
    assert "helmreleases" in reason


def test_a_dead_watch_loop_fails_liveness() -> None:
    pulse = WatchPulse("helmcharts", alive=False, last_heard=100.0, inactivity_timeout=90.0)
    assert watch_liveness(pulse, now=100.0) == "helmcharts watch loop is not running"


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
