"""The Kubernetes API client: kubernetes-asyncio set up and vetted, typed errors, what is watched.

The package `__init__` imports nothing, so importing a sibling module does
not load the library.
"""
