"""A sink for operators and demos: each envelope becomes one JSON line on stdout.

It answers snapshot checks with what it has printed so far, as if stdout were
a flow server that never forgets: the first check finds nothing, so the
whole graph is printed once, and later periodic checks find it all there,
so only real changes are printed after that. Stdout has no ring and no
sequence numbers: `post` answers none, so the emitter never re-upserts for
the ring here.
"""

from __future__ import annotations

import sys
from typing import TextIO

from flux_adapter.emit.sink import Snapshot
from mapper import Batch, GraphState


class DryRunSink:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._printed = GraphState()
        self._wrote = False

    async def post(self, batch: Batch) -> int | None:
        self._stream.write(batch.body.decode("utf-8") + "\n")
        self._stream.flush()
        self._printed.fold(batch.envelope)
        self._wrote = True
        return None

    async def snapshot(self, region: str) -> Snapshot | None:
        if not self._wrote:
            return None
        return {
            "type": "snapshot",
            "nodes": [
                node.model_dump(mode="json", by_alias=True, exclude_none=True)
                for node in self._printed.nodes.values()
            ],
            "relationships": [
                rel.model_dump(mode="json", by_alias=True, exclude_none=True)
                for rel in self._printed.rels.values()
            ],
        }

    async def close(self) -> None:
        self._stream.flush()
