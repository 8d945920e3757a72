"""The flow-server side: the emitter, delivery and loss detection, the sinks, the ring.

It is told what changed and how long the fence has left; it never touches
Kubernetes and never imports another stage.
"""
