"""A segment's renderings: edit its text, ask for another take, list them, go back to one.

Each changes what the next render of the project synthesises for that segment alone; nothing
is synthesised here. Going back to a take locks it (see voxflow.approval), because the take's
audio was made from the text and lexicon of its day.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from voxflow.approval import segment_at
from voxflow.db.models import Segment, SegmentCheck, SegmentTake
from voxflow.document import text_hash
from voxflow.errors import InputError
from voxflow.text import normalize_text


def _unlocked(segment: Segment, what: str) -> None:
    if segment.approved_key is not None:
        raise InputError(
            f"segment {segment.index} is approved, so its audio is locked: unlock it before you "
            f"{what} (voxflow segment unlock)"
        )


def edit(
    session: Session, project_id: int, chapter: int, index: int, text: str, max_chars: int
) -> Segment:
    """Replace the segment's text; the next render synthesises it (and only it) again."""
    segment = segment_at(session, project_id, chapter, index)
    _unlocked(segment, "edit it")
    cleaned = normalize_text(text)
    if not cleaned:
        raise InputError("the new text is empty: give the sentence as it should be read")
    if len(cleaned) > max_chars:
        raise InputError(
            f"the new text has {len(cleaned)} characters; this voice reads at most {max_chars} "
            "in one segment"
        )
    if segment.source_text is None and cleaned != segment.text:
        segment.source_text = segment.text
    segment.text, segment.text_hash = cleaned, text_hash(cleaned)
    session.add(segment)
    session.flush()
    return segment


def retake(session: Session, project_id: int, chapter: int, index: int) -> Segment:
    """Ask for a new rendering of the same text: the next take number after any seen so far."""
    segment = segment_at(session, project_id, chapter, index)
    _unlocked(segment, "render it again")
    highest = session.scalar(
        sa.select(sa.func.max(SegmentTake.take)).where(SegmentTake.segment_id == segment.id)
    )
    segment.take = max(segment.take, highest or 0) + 1
    session.add(segment)
    session.flush()
    return segment


def history(session: Session, project_id: int, chapter: int, index: int) -> Sequence[SegmentTake]:
    """The segment's renderings, oldest first."""
    segment = segment_at(session, project_id, chapter, index)
    statement = select(SegmentTake).where(SegmentTake.segment_id == segment.id)
    return session.exec(statement.order_by(SegmentTake.id)).all()


def checks(session: Session, segment_id: int) -> dict[str, SegmentCheck]:
    """The segment's speech-QA checks by audio key, to show beside its takes."""
    rows = session.exec(select(SegmentCheck).where(SegmentCheck.segment_id == segment_id))
    return {row.audio_key: row for row in rows}


def use(session: Session, project_id: int, chapter: int, index: int, number: int) -> Segment:
    """Go back to an earlier rendering (numbered from 1 in `history`): its text and audio,
    locked so the next render keeps that audio."""
    takes = history(session, project_id, chapter, index)
    if not 1 <= number <= len(takes):
        raise InputError(f"segment {index} has {len(takes)} takes; choose 1 to {len(takes)}")
    chosen = takes[number - 1]
    segment = segment_at(session, project_id, chapter, index)
    segment.text, segment.text_hash = chosen.text, text_hash(chosen.text)
    segment.take, segment.audio_key, segment.approved_key = (
        chosen.take,
        chosen.audio_key,
        chosen.audio_key,
    )
    session.add(segment)
    session.flush()
    return segment


def record(session: Session, made: Sequence[tuple[int, str]]) -> None:
    """Add a history row per (segment id, audio key) just synthesised, with the segment's text
    and take as they are now; a key already in a segment's history is not added twice."""
    if not made:
        return
    ids = [segment_id for segment_id, _ in made]
    rows = session.execute(
        sa.select(Segment.id, Segment.text, Segment.take).where(Segment.id.in_(ids))
    ).all()
    current = {row.id: (row.text, row.take) for row in rows}
    known = set(
        session.execute(
            sa.select(SegmentTake.segment_id, SegmentTake.audio_key).where(
                SegmentTake.segment_id.in_(ids)
            )
        ).all()
    )
    for segment_id, key in made:
        if (segment_id, key) in known or segment_id not in current:
            continue
        text, take = current[segment_id]
        session.add(SegmentTake(segment_id=segment_id, take=take, text=text, audio_key=key))
        known.add((segment_id, key))
    session.flush()
