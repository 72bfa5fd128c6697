"""Plan a chapter's jobs and synthesise one job: TorchServe calls, store writes, segment rows."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import beating
from activities.resources import Resources
from voxflow.contracts import JobPlan, JobSpec, JobTotals, PlanRequest
from voxflow.db import repository, session_scope
from voxflow.inference import TransientInferenceError
from voxflow.jobs import plan_jobs
from voxflow.lexicon.store import spoken_rows
from voxflow.outcomes import job_totals, record_attempts, record_outcomes
from voxflow.synthesis import SegmentOutcome, SegmentWork, synthesize_through_outages

FLUSH_EVERY_S = 1.0


class SynthesisActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    async def plan_chapter_jobs(self, request: PlanRequest) -> JobPlan:
        """One page of the chapter's jobs; planning is deterministic, so pages always agree."""
        async with beating():
            return await asyncio.to_thread(self._plan, request)

    def _plan(self, request: PlanRequest) -> JobPlan:
        input = request.chapter
        with session_scope(self.resources.engine) as session:
            lengths = repository.segment_lengths(session, input.chapter.chapter_id)
        ranges = plan_jobs(lengths, input.options.job_max_segments, input.options.job_max_chars)
        page = ranges[request.first_job : request.first_job + request.limit]
        jobs = [
            JobSpec(
                input.project_id,
                input.chapter.chapter_id,
                input.chapter.index,
                number,
                start,
                end,
                input.options.voice,
            )
            for number, (start, end) in enumerate(page, start=request.first_job)
        ]
        return JobPlan(jobs, len(ranges))

    @activity.defn
    async def synthesize_job(self, job: JobSpec) -> JobTotals:
        """Segments already in the store are reused; a retry redoes only what is missing."""
        voice = self.resources.registry.get(job.voice)
        work = await asyncio.to_thread(self._load_work, job)
        # A retried attempt resumes from what the last one heartbeated as stored.
        details = activity.info().heartbeat_details
        stored_before = set(details[0]) if details else set()
        if stored_before:
            activity.logger.info(
                "job %s resumes: %d of %d segments already stored",
                job.job_index, len(stored_before), len(work),
            )  # fmt: skip
        recorder = _OutcomeRecorder(self.resources, stored_before)
        try:
            async with beating(lambda: [recorder.stored]):
                outcomes = await synthesize_through_outages(
                    work,
                    voice,
                    self.resources.client(),
                    self.resources.store,
                    outage_s=self.resources.settings.torchserve_outage_s,
                    what=f"job {job.job_index} of chapter {job.chapter_index}",
                    on_outcome=recorder.add,
                    known_stored=stored_before,
                    before_synthesis=recorder.attempting,
                )
        except TransientInferenceError as error:
            await recorder.flush()
            raise ApplicationError(str(error), type="TransientInferenceError") from error
        await recorder.flush()
        return job_totals(outcomes)

    def _load_work(self, job: JobSpec) -> list[SegmentWork]:
        """The job's segments with the text the voice reads (the project's lexicon applied)."""
        with session_scope(self.resources.engine) as session:
            rows = spoken_rows(session, job.project_id, job.chapter_id, job.start, job.end)
        # An approved segment keeps its locked audio: its key is given, so it is reused.
        return [SegmentWork(r.segment_id, r.index, r.text, r.approved_key, r.take) for r in rows]


class _OutcomeRecorder:
    """Buffers segment outcomes, heartbeats each one, and writes them in batches."""

    def __init__(self, resources: Resources, stored_before: set[int]) -> None:
        self.resources = resources
        self.stored = list(stored_before)
        self.pending: list[SegmentOutcome] = []
        self.last_flush = time.monotonic()
        self.writes: list[asyncio.Task] = []

    def add(self, outcome: SegmentOutcome) -> None:
        self.pending.append(outcome)
        if outcome.status == "done" and outcome.segment_id not in self.stored:
            self.stored.append(outcome.segment_id)
        activity.heartbeat(self.stored)
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.writes.append(asyncio.get_running_loop().create_task(self._flush_pending()))

    async def attempting(self, segment_ids: list[int]) -> None:
        """Count the attempts in the database before the model is called."""
        await asyncio.to_thread(self._write_attempts, segment_ids)

    def _write_attempts(self, segment_ids: list[int]) -> None:
        with session_scope(self.resources.engine) as session:
            record_attempts(session, segment_ids)

    async def _flush_pending(self) -> None:
        outcomes, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        if outcomes:
            await asyncio.to_thread(self._write, outcomes)

    async def flush(self) -> None:
        """Wait for every write started so far, then write what is left."""
        await asyncio.gather(*self.writes)
        await self._flush_pending()

    def _write(self, outcomes: list[SegmentOutcome]) -> None:
        with session_scope(self.resources.engine) as session:
            record_outcomes(session, outcomes)
