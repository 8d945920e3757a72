"""Fakes of the adapter's two peers, faithful where the adapter looks."""
