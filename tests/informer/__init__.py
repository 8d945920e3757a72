"""Tests of `flux_adapter.informer`, one behaviour a test."""
