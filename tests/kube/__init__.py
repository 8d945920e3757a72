"""Tests of `flux_adapter.kube`, one behaviour a test."""
