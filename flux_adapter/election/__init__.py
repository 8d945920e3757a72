"""Leader election: client-go's Lease rules (pure) and the fenced elector that follows them.

It exposes the fence as seconds left; it never imports another stage.
"""
