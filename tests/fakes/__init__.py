"""Stand-ins for the adapter's two peers, faithful where it looks, for tests and benchmarks."""
