"""Temporal workflow definitions: deterministic, thin, and free of I/O."""
