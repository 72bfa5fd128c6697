"""Segment outcomes into the database and into job totals: the one bookkeeping path.

The direct-mode activity, queue mode's shortcut for stored audio and the result relay all
record what a job did through these functions, so attempts, statuses and totals mean the
same whichever way a segment went. Attempts are recorded before synthesis, outcomes after:
a worker killed in between leaves its attempt counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session

from voxflow import takes
from voxflow.contracts import JobTotals
from voxflow.db import repository
from voxflow.db.models import SegmentStatus
from voxflow.synthesis import SegmentOutcome


def job_totals(outcomes: Iterable[SegmentOutcome]) -> JobTotals:
    """Synthesised, reused and failed counts, audio seconds and the first error."""
    totals = JobTotals()
    for o in outcomes:
        failed = o.status == "failed"
        totals.count(
            o.index,
            failed=failed,
            synthesized=not failed and not o.reused,
            duration_s=o.duration_s,
            error=o.error,
        )
    return totals


def record_attempts(session: Session, segment_ids: Sequence[int]) -> None:
    """One attempt per segment about to be synthesised, written before the model is called."""
    repository.count_attempts(session, segment_ids)


def record_outcomes(session: Session, outcomes: Sequence[SegmentOutcome]) -> None:
    """Store each segment's status, duration, audio key and error (attempts are counted before),
    and each new rendering in the segment's take history."""
    repository.mark_segments(
        session,
        [
            repository.SegmentUpdate(
                id=o.segment_id,
                status=SegmentStatus(o.status),
                duration_s=o.duration_s,
                audio_key=o.audio_key,
                error=o.error,
            )
            for o in outcomes
        ],
    )
    takes.record(
        session,
        [(o.segment_id, o.audio_key) for o in outcomes if o.status == "done" and not o.reused],
    )
