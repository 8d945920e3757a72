"""The synthetic region node that groups this cluster's releases on the canvas."""

from __future__ import annotations

from collections import Counter

from mapper.contract import FlowNode, Status
from mapper.status import worst


class RegionRollup:
    """Children's statuses as counts, so one release's change costs O(1), not O(cluster)."""

    def __init__(self, region: str, flow_id: str) -> None:
        self.region = region
        self.flow_id = flow_id
        self.counts: Counter[Status] = Counter()

    def add(self, status: Status) -> None:
        self.counts[status] += 1

    def remove(self, status: Status) -> None:
        self.counts[status] -= 1
        if self.counts[status] <= 0:
            del self.counts[status]

    def node(self) -> FlowNode:
        return region_node(self.region, self.flow_id, worst(self.counts))


def region_node(region: str, flow_id: str, status: Status) -> FlowNode:
    return FlowNode(id=region, flow_id=flow_id, label=region, region=region, status=status)
