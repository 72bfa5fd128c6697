"""Waits between tries of what comes back by itself: a broker, a database, TorchServe."""

from __future__ import annotations

from collections.abc import Iterator


def backoff(first_s: float = 0.5, cap_s: float = 10.0) -> Iterator[float]:
    """0.5, 1, 2, 4, 8, 10, 10, … seconds: quick after a blip, patient through a restart."""
    delay = first_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)
