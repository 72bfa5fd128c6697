"""Automatic retakes: after QA, render a flagged segment again or settle on its best take.

Pure decisions over the checks a segment has had for the text it reads now; the database side
(voxflow.qa.store) applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_RETAKES = 5  # automatic retakes of a flagged segment a project may ask for (CLI, web)


@dataclass(frozen=True, slots=True)
class Rendering:
    """One checked rendering of the segment's current text: its take, audio and verdict."""

    take: int
    audio_key: str
    wer: float
    flagged: bool


@dataclass(frozen=True, slots=True)
class Choice:
    """What to do with a segment: `retake` (render the next take), or use `best` (which may be
    the rendering in use already), or nothing (`best` None, not flagged)."""

    retake: bool = False
    best: Rendering | None = None


def rank(rendering: Rendering) -> tuple[bool, float, int]:
    """Better first: not flagged, then the lower word error rate, then the earlier take."""
    return (rendering.flagged, rendering.wer, rendering.take)


def choose(current: Rendering, renderings: Sequence[Rendering], max_retakes: int) -> Choice:
    """A flagged segment is retaken while it has had fewer than 1 + `max_retakes` checked
    renderings of this text; after that the best of them is kept. A passing one stays."""
    if not current.flagged:
        return Choice()
    if len(renderings) < 1 + max_retakes:
        return Choice(retake=True)
    return Choice(best=min(renderings, key=rank))
