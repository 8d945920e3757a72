"""Tests of `flux_adapter.observe`, one behaviour a test."""
