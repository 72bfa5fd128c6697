"""Speech QA in the database: which renderings await a check, their scores, and retakes.

A check belongs to one rendering (segment id and audio key), so a re-render checks only the
segments whose audio changed, and a take's score stays with it when the user goes back to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from voxflow.db.models import Segment, SegmentCheck, SegmentStatus, SegmentTake
from voxflow.lexicon.store import project_lexicon
from voxflow.qa.choice import Rendering, choose
from voxflow.qa.scoring import SegmentScore


@dataclass(frozen=True, slots=True)
class Unchecked:
    """A synthesised segment whose audio has no check yet, with the words it should say."""

    segment_id: int
    index: int
    take: int
    audio_key: str
    expected: str


def _of_audio_in_use() -> sa.ColumnElement[bool]:
    """Join condition: the check belongs to the audio the segment uses now."""
    return sa.and_(
        SegmentCheck.segment_id == Segment.id, SegmentCheck.audio_key == Segment.audio_key
    )


def unchecked(
    session: Session, project_id: int, chapter_id: int, after: int, limit: int
) -> list[Unchecked]:
    """Up to `limit` of a chapter's synthesised segments past index `after` with no check of
    their current audio, in reading order; expected text has the lexicon's respellings."""
    statement = (
        select(Segment)
        .outerjoin(SegmentCheck, _of_audio_in_use())
        .where(
            Segment.chapter_id == chapter_id,
            Segment.status == SegmentStatus.done,
            col(Segment.audio_key).is_not(None),
            col(Segment.index) > after,
            col(SegmentCheck.id).is_(None),
        )
        .order_by(col(Segment.index))
        .limit(limit)
    )
    written = project_lexicon(session, project_id).written()
    return [
        Unchecked(s.id, s.index, s.take, s.audio_key, written.apply(s.text))
        for s in session.exec(statement)
    ]


def save(session: Session, pending: Unchecked, score: SegmentScore, recognizer: str) -> None:
    """Store one rendering's check (a check already stored for it is kept)."""
    exists = session.exec(
        select(SegmentCheck.id).where(
            SegmentCheck.segment_id == pending.segment_id,
            SegmentCheck.audio_key == pending.audio_key,
        )
    ).first()
    if exists is not None:
        return
    session.add(
        SegmentCheck(
            segment_id=pending.segment_id,
            audio_key=pending.audio_key,
            take=pending.take,
            expected=pending.expected,
            heard=score.heard,
            wer=score.wer,
            missing=" ".join(score.missing),
            added=" ".join(score.added),
            reason=score.reason,
            recognizer=recognizer,
        )
    )
    session.flush()


def current_checks(
    session: Session, chapter_id: int, *, flagged_only: bool = False
) -> list[tuple[Segment, SegmentCheck]]:
    """The chapter's segments with the check of the audio they use now, in reading order."""
    statement = (
        select(Segment, SegmentCheck)
        .join(SegmentCheck, _of_audio_in_use())
        .where(Segment.chapter_id == chapter_id)
        .order_by(col(Segment.index))
    )
    if flagged_only:
        statement = statement.where(SegmentCheck.reason != "")
    return list(session.exec(statement).all())


def flagged_now() -> sa.Exists:
    """A SQL condition on Segment: its current audio has a check that flagged it (filters)."""
    return sa.select(SegmentCheck.id).where(_of_audio_in_use(), SegmentCheck.reason != "").exists()


def flagged_counts(session: Session, chapter_ids: Sequence[int]) -> dict[int, int]:
    """How many segments speech QA flags now in each chapter (absent: none), in one query."""
    statement = (
        select(Segment.chapter_id, sa.func.count())
        .where(col(Segment.chapter_id).in_(list(chapter_ids)), flagged_now())
        .group_by(col(Segment.chapter_id))
    )
    return {chapter_id: count for chapter_id, count in session.exec(statement).all()}


def _renderings(session: Session, segment_id: int, expected: str) -> list[Rendering]:
    rows = session.exec(
        select(SegmentCheck).where(
            SegmentCheck.segment_id == segment_id, SegmentCheck.expected == expected
        )
    ).all()
    return [Rendering(r.take, r.audio_key, r.wer, bool(r.reason)) for r in rows]


def _next_take(session: Session, segment: Segment) -> int:
    highest = [
        session.scalar(sa.select(sa.func.max(table.take)).where(table.segment_id == segment.id))
        for table in (SegmentTake, SegmentCheck)
    ]
    return max(segment.take, *(h or 0 for h in highest)) + 1


def settle_flagged(session: Session, chapter_id: int, max_retakes: int) -> list[int]:
    """For each flagged, unapproved segment: ask for another take (its index is returned, to be
    synthesised), or, once it has had its retakes, use its best checked take."""
    retakes: list[int] = []
    for segment, check in current_checks(session, chapter_id, flagged_only=True):
        if segment.approved_key is not None:
            continue
        current = Rendering(check.take, check.audio_key, check.wer, True)
        choice = choose(current, _renderings(session, segment.id, check.expected), max_retakes)
        if choice.retake:
            segment.take = _next_take(session, segment)
            retakes.append(segment.index)
        elif choice.best is not None and choice.best.audio_key != segment.audio_key:
            segment.take, segment.audio_key = choice.best.take, choice.best.audio_key
        session.add(segment)
    session.flush()
    return retakes


def project_scores(session: Session, chapter_ids: Sequence[int]) -> dict[int, list[SegmentScore]]:
    """Each chapter's checked segments as scores, for the book's QA report."""
    scores: dict[int, list[SegmentScore]] = {}
    for chapter_id in chapter_ids:
        scores[chapter_id] = [
            SegmentScore(
                index=segment.index,
                expected=check.expected,
                heard=check.heard,
                wer=check.wer,
                missing=tuple(check.missing.split()),
                added=tuple(check.added.split()),
                flagged=bool(check.reason),
                reason=check.reason,
            )
            for segment, check in current_checks(session, chapter_id)
        ]
    return scores
