"""Tests of `flux_adapter.election`, one behaviour a test."""
