"""The bearer token: sent on every request, picked up again when rotated, never logged."""

from __future__ import annotations

import os
from pathlib import Path

from structlog.testing import capture_logs

from tests.conftest import MakeRig
from tests.fakes.flow_server import FlowServer
from tests.support import eventually
from tests.support.objects import PROGRESSING

TOKEN = "s3cr3t-flow-token-9f8e7d6c5b4a"


def write_token(path: Path, token: str) -> None:
    """Write and move the mtime on visibly, as a secret rotation would."""
    path.write_text(token + "\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def test_token_is_sent_on_every_request_and_never_logged(
    make_rig: MakeRig, flow_server: FlowServer, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    write_token(path, TOKEN)
    flow_server.fail(500, times=2)
    flow_server.fail(400, times=1, method="POST")

    with capture_logs() as logs:
        rig = make_rig(token_file=path)
        await rig.start_synced()
        rig.apply("bp-cilium", family="network", ready=PROGRESSING)
        await rig.settle()
        await rig.stop()

    assert {seen.authorization for seen in flow_server.requests} == {f"Bearer {TOKEN}"}
    assert {entry["event"] for entry in logs} >= {"flow_server_unavailable", "envelope_rejected"}
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(rig.sink)


async def test_a_rotated_token_is_used_from_the_next_request(
    make_rig: MakeRig, flow_server: FlowServer, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    write_token(path, TOKEN)
    rig = make_rig(token_file=path)
    await rig.start_synced()

    write_token(path, "rotated-token")
    rig.apply("bp-cilium", family="network", ready=PROGRESSING)
    await rig.settle()

    assert flow_server.requests[-1].authorization == "Bearer rotated-token"
    assert rig.converged()


async def test_a_missing_token_file_is_waited_for(
    make_rig: MakeRig, flow_server: FlowServer, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    rig = make_rig(token_file=path)
    rig.load_kit()
    with capture_logs() as logs:
        await rig.start()
        await eventually(
            lambda: rig.metrics.value("flux_adapter_post_retries_total") >= 2, "two retries"
        )
    assert flow_server.requests == []
    assert any(str(path) in str(entry.get("detail")) for entry in logs)

    write_token(path, TOKEN)
    await rig.settle()
    assert rig.converged()
