"""Tests of `flux_adapter.emit`, one behaviour a test."""
