"""Queue mode: publish a job to its pool's queue and complete asynchronously.

The inference worker does the synthesis and the relay completes this activity by its task
token, so Temporal's retries, timeouts and UI still cover every job.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.resources import Resources
from voxflow.contracts import JobSpec, JobTotals
from voxflow.db import session_scope
from voxflow.lexicon.store import SpokenRow, spoken_rows
from voxflow.naming import job_id
from voxflow.outcomes import job_totals, record_outcomes
from voxflow.queue.messages import JobMessage, JobSegment, encode_token
from voxflow.synthesis import SegmentOutcome, audio_key_for, wav_duration


class QueueActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    async def enqueue_job(self, job: JobSpec) -> JobTotals:
        """Publish the job, or finish at once when every segment's audio already exists."""
        voice = self.resources.registry.get(job.voice)
        rows = await asyncio.to_thread(self._load, job)
        # An approved segment keeps its locked audio: its key is given, so it is reused.
        keyed = [
            (r.segment_id, r.index, r.text, r.approved_key or audio_key_for(voice, r.text, r.take))
            for r in rows
        ]
        if await asyncio.to_thread(self._all_stored, [key for *_, key in keyed]):
            return await asyncio.to_thread(self._reuse, keyed)
        info = activity.info()
        message = JobMessage(
            job_id=job_id(info.workflow_id, job.job_index),
            task_token=encode_token(info.task_token),
            workflow_id=info.workflow_id,
            activity_id=info.activity_id,
            attempt=info.attempt,
            project_id=job.project_id,
            chapter_id=job.chapter_id,
            model=voice.name,
            version=voice.version,
            pool=voice.pool,
            params=voice.params,
            segments=[
                JobSegment(segment_id=segment_id, index=index, audio_key=key, text=text)
                for segment_id, index, text, key in keyed
            ],
        )
        # A publish while the broker is down raises here, and Temporal retries the activity.
        publisher = await self.resources.publisher()
        await publisher.publish_job(message, pool=voice.pool)
        activity.raise_complete_async()

    def _load(self, job: JobSpec) -> list[SpokenRow]:
        """The job's segments with the text the voice reads (the project's lexicon applied)."""
        with session_scope(self.resources.engine) as session:
            return spoken_rows(session, job.project_id, job.chapter_id, job.start, job.end)

    def _all_stored(self, keys: list[str]) -> bool:
        return all(self.resources.store.exists(key) for key in keys)

    def _reuse(self, keyed: list[tuple[int, int, str, str]]) -> JobTotals:
        store = self.resources.store
        outcomes = [
            SegmentOutcome(segment_id, index, "done", key, wav_duration(store, key), reused=True)
            for segment_id, index, _, key in keyed
        ]
        with session_scope(self.resources.engine) as session:
            record_outcomes(session, outcomes)
        return job_totals(outcomes)
