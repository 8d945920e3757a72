"""What every stage uses: metrics, structured logs, redaction, durations, the heap trim."""
