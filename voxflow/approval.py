"""Approving a segment's take: its audio is locked until the user unlocks it.

A lexicon change, new voice parameters or a re-render compute a new audio key from the spoken
text; an approved segment keeps the key it had when approved, so its audio never changes behind
the user's back.
"""

from __future__ import annotations

from sqlmodel import Session

from voxflow.db import repository
from voxflow.db.models import Segment, SegmentStatus
from voxflow.errors import InputError


def segment_at(session: Session, project_id: int, chapter_index: int, index: int) -> Segment:
    """The segment at `index` of a chapter, or an InputError naming what is missing."""
    chapter = repository.get_chapter(session, project_id, chapter_index)
    rows = repository.list_segments(session, chapter.id, offset=index, limit=1)
    if not rows or rows[0].index != index:
        raise InputError(f"chapter {chapter_index} has no segment {index}")
    return rows[0]


def approve(session: Session, project_id: int, chapter_index: int, index: int) -> Segment:
    """Lock the segment's current audio; only a synthesised segment can be approved."""
    segment = segment_at(session, project_id, chapter_index, index)
    if segment.status != SegmentStatus.done or not segment.audio_key:
        raise InputError(
            f"segment {index} of chapter {chapter_index} has no audio yet: approve it once it "
            "is synthesised"
        )
    segment.approved_key = segment.audio_key
    session.add(segment)
    session.flush()
    return segment


def unlock(session: Session, project_id: int, chapter_index: int, index: int) -> Segment:
    """Let later changes render the segment again."""
    segment = segment_at(session, project_id, chapter_index, index)
    segment.approved_key = None
    session.add(segment)
    session.flush()
    return segment
