"""The process: settings, the command line, the wiring of the stages, supervision, probes.

It may import every stage; nothing imports it (`docs/design.md`, "Layout").
"""
