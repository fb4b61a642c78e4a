"""The orchestrator: queued tickets taken through coder and reviewer workers to ``done``."""
