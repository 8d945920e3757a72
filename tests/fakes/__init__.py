"""Stand-ins for the adapter's peers, faithful to their contracts, for tests and benchmarks."""
