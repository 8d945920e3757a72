"""Tests of `flux_adapter.runtime`, one behaviour a test."""
