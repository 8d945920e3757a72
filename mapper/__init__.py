"""Pure core of flux-adapter: Kubernetes objects in, the flow server's graph out.

No I/O, no clock, no globals: every function here is a function of its inputs.
"""

from mapper.contract import (
    DeleteNodes,
    DeleteRels,
    Envelope,
    FlowInstance,
    FlowNode,
    Relationship,
    RelKey,
    RelPair,
    Status,
    UpsertFlow,
    UpsertNodes,
    UpsertRels,
)
from mapper.diff import Resend, diff
from mapper.graph import Applied, Collision, Graph, Problem
from mapper.objects import Kind, ObjectKey, Unmappable, parse_chart, parse_release
from mapper.release import MappedRelease, map_release, node_id
from mapper.slim import slim
from mapper.state import GraphState, Keys
from mapper.wire import MAX_ENVELOPE_BYTES, Batch, batches, encode, split

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "Applied",
    "Batch",
    "Collision",
    "DeleteNodes",
    "DeleteRels",
    "Envelope",
    "FlowInstance",
    "FlowNode",
    "Graph",
    "GraphState",
    "Keys",
    "Kind",
    "MappedRelease",
    "ObjectKey",
    "Problem",
    "RelKey",
    "RelPair",
    "Relationship",
    "Resend",
    "Status",
    "Unmappable",
    "UpsertFlow",
    "UpsertNodes",
    "UpsertRels",
    "batches",
    "diff",
    "encode",
    "map_release",
    "node_id",
    "parse_chart",
    "parse_release",
    "slim",
    "split",
]
