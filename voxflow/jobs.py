"""Cut a chapter into synthesis jobs: consecutive segments bounded by count and characters."""

from __future__ import annotations

from collections.abc import Sequence


def plan_jobs(lengths: Sequence[int], max_segments: int, max_chars: int) -> list[tuple[int, int]]:
    """Return [start, end) ranges over segment positions.

    A job holds at most `max_segments` segments and `max_chars` characters, except that a
    single segment longer than `max_chars` still gets a job of its own.
    """
    if max_segments < 1 or max_chars < 1:
        raise ValueError("max_segments and max_chars must be positive")
    jobs: list[tuple[int, int]] = []
    start, chars = 0, 0
    for position, length in enumerate(lengths):
        count = position - start
        if count and (count >= max_segments or chars + length > max_chars):
            jobs.append((start, position))
            start, chars = position, 0
        chars += length
    if start < len(lengths):
        jobs.append((start, len(lengths)))
    return jobs
