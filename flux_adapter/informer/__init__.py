"""The watch side: reflectors that list and watch, and the store they keep.

It sees the API server only through `flux_adapter.kube.client` and hands changed
keys on through a `ChangeSink`; it never imports another stage.
"""
