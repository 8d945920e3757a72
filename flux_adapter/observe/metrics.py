"""Every Prometheus metric the adapter exports, on a registry the process owns.

Components receive a `Metrics` instead of touching a global registry, so a
test can build its own and read the values back.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "flux_adapter_"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.watch_events = Counter(
            PREFIX + "watch_events",
            "Watch events received, by resource and event type.",
            ["resource", "type"],
            registry=r,
        )
        self.relists = Counter(
            PREFIX + "relists",
            "Full LISTs, by resource and reason (initial, expired, error).",
            ["resource", "reason"],
            registry=r,
        )
        self.watch_restarts = Counter(
            PREFIX + "watch_restarts",
            "Watch streams re-opened, by resource and reason.",
            ["resource", "reason"],
            registry=r,
        )
        self.skipped_objects = Counter(
            PREFIX + "skipped_objects",
            "Objects that could not be mapped and were skipped, by resource.",
            ["resource"],
            registry=r,
        )
        self.envelopes = Counter(
            PREFIX + "envelopes",
            "Envelopes sent to the flow server, by type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.post_retries = Counter(
            PREFIX + "post_retries",
            "POSTs retried after a transient failure.",
            registry=r,
        )
        self.resyncs = Counter(
            PREFIX + "resyncs",
            "Snapshot checks against the flow server, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.post_latency = Histogram(
            PREFIX + "post_latency_seconds",
            "Time for one POST to the flow server.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.change_latency = Histogram(
            PREFIX + "change_to_ack_seconds",
            "Time from a change reaching the adapter to its acknowledgement by the server.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.pending_keys = Gauge(
            PREFIX + "pending_diff_keys",
            "Node and relationship keys changed but not yet acknowledged.",
            registry=r,
        )
        self.nodes_held = Gauge(
            PREFIX + "nodes",
            "Nodes in the desired graph, the region node included.",
            registry=r,
        )
        self.leader = Gauge(
            PREFIX + "leader",
            "1 while this copy holds the lease and may post, else 0.",
            registry=r,
        )
        self.envelope_limit = Gauge(
            PREFIX + "envelope_limit_bytes",
            "Largest envelope body sent now: 1 MiB, or less once a 413 taught a smaller limit.",
            registry=r,
        )
        self.refreshed_keys = Counter(
            PREFIX + "ring_refreshed_keys",
            "Nodes and edges upserted again, unchanged, before the flow server's ring evicted "
            "them, by kind (node, edge).",
            ["kind"],
            registry=r,
        )
        self.flow_restarts = Counter(
            PREFIX + "flow_restarts",
            "Times a sequence number lower than one already passed was confirmed by a snapshot "
            "check to mean the flow server had lost the flow, by where it was heard "
            "(post, stream).",
            ["source"],
            registry=r,
        )
        self.flow_loss_suspicions = Counter(
            PREFIX + "flow_loss_suspicions",
            "Sequence numbers lower than one already passed, each checked against a snapshot, "
            "by where they were heard (post, stream) and verdict (confirmed, not_confirmed).",
            ["source", "verdict"],
            registry=r,
        )
        self.bad_answers = Counter(
            PREFIX + "bad_answers",
            "Answers of the flow server that could not be read or broke the contract, by "
            "operation (post, snapshot, stream) and kind (seq, json, shape, too_large, too_deep).",
            ["operation", "kind"],
            registry=r,
        )
        self.flow_sequence = Gauge(
            PREFIX + "flow_sequence",
            "The flow's newest sequence number this copy knows.",
            registry=r,
        )
        self.ring_capacity = Gauge(
            PREFIX + "ring_capacity_envelopes",
            "The flow server's ring as this copy refreshes by: FLOW_SERVER_RING_CAPACITY, "
            "or the smaller bound a snapshot check taught.",
            registry=r,
        )
        self.ring_headroom = Gauge(
            PREFIX + "ring_headroom_envelopes",
            "Envelopes the flow can still accept before this region's oldest key is evicted "
            "(NaN while nothing is tracked).",
            registry=r,
        )
        self.stream_connected = Gauge(
            PREFIX + "stream_connected",
            "1 while the flow's event stream is followed, else 0.",
            registry=r,
        )
        self.last_post_success = Gauge(
            PREFIX + "last_successful_post_timestamp_seconds",
            "Unix time of the last 2xx from the flow server.",
            registry=r,
        )

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """A sample's current value (0 when absent); for tests and health checks."""
        found = self.registry.get_sample_value(name, labels or {})
        return 0.0 if found is None else found
