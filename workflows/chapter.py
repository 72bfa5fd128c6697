"""ChapterWorkflow: synthesise a chapter's segments through a sliding window of jobs, then assemble.

History stays bounded: at most `window` activities are pending, and the run continues-as-new
when Temporal suggests it, carrying only the next job number and running totals.
"""

from __future__ import annotations

import asyncio
from asyncio import FIRST_COMPLETED
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.assembly import AssemblyActivities
    from activities.qa import QaActivities
    from activities.queue import QueueActivities
    from activities.synthesis import SynthesisActivities
    from voxflow.contracts import (
        AssembleInput,
        ChapterInput,
        ChapterProgress,
        ChapterResult,
        ConversionOptions,
        JobPlan,
        JobSpec,
        JobTotals,
        PlanRequest,
        QaRequest,
        QaVerdict,
    )

NON_RETRYABLE = ["ModelInputError", "InputError", "ConfigError", "JobDeadLettered"]
PROGRESS_REPORTS = 50


def retry_policy(options: ConversionOptions) -> RetryPolicy:
    """Exponential backoff for transient failures; model 4xx and bad input fail at once."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=options.retry_initial_s),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=options.retry_max_s),
        maximum_attempts=options.activity_max_attempts,
        non_retryable_error_types=NON_RETRYABLE,
    )


class _Window:
    """The sliding window's state: jobs planned but not started, and jobs in flight."""

    def __init__(self, next_job: int, plan: JobPlan) -> None:
        self.next_job = next_job
        self.total = plan.total
        self.planned: dict[int, JobSpec] = {}
        self.pending: dict[asyncio.Task, JobSpec] = {}
        self.replan(plan)

    def replan(self, plan: JobPlan) -> None:
        self.total = plan.total
        self.planned = {job.job_index: job for job in plan.jobs}

    @property
    def more_to_start(self) -> bool:
        return self.next_job < self.total

    @property
    def has_work(self) -> bool:
        return self.more_to_start or bool(self.pending)


@workflow.defn
class ChapterWorkflow:
    def __init__(self) -> None:
        self._totals = JobTotals()
        self._total_segments = 0
        self._index = 0
        self._next_extra_job = 0  # job numbers for retakes, after the chapter's planned jobs

    @workflow.query
    def progress(self) -> ChapterProgress:
        return ChapterProgress(self._index, self._totals.done, self._totals.failed)

    @workflow.run
    async def run(self, input: ChapterInput) -> ChapterResult:
        """Synthesise every job through the window, then assemble (or continue as new)."""
        self._totals = input.totals or JobTotals()
        self._total_segments = input.chapter.segment_count
        self._index = input.chapter.index
        window = _Window(input.next_job, await self._plan(input, input.next_job))
        self._next_extra_job = window.total
        # At most ~50 progress signals per chapter, however long: the parent's history stays small.
        report_step = max(1, self._total_segments // PROGRESS_REPORTS)
        reported = self._totals.done + self._totals.failed
        while window.has_work:
            suggest_new_run = workflow.info().is_continue_as_new_suggested()
            if suggest_new_run and not window.pending:
                # Checked before anything else: when the suggestion comes just as the window
                # has drained, breaking out here would finish the chapter with jobs unstarted.
                carried = (input.project_id, input.chapter, input.options)
                workflow.continue_as_new(ChapterInput(*carried, window.next_job, self._totals))
            if not suggest_new_run:
                await self._fill_window(window, input)
            await self._collect_outcomes(window)
            if self._totals.done + self._totals.failed - reported >= report_step:
                await self._report_progress(input)
                reported = self._totals.done + self._totals.failed
        return await self._finish(input)

    async def _fill_window(self, window: _Window, input: ChapterInput) -> None:
        """Start jobs until `window` are in flight, fetching job plans a page at a time."""
        while len(window.pending) < input.options.window and window.more_to_start:
            if window.next_job not in window.planned:
                window.replan(await self._plan(input, window.next_job))
            job = window.planned.pop(window.next_job)
            window.pending[self._start_job(job, input.options)] = job
            window.next_job += 1

    async def _collect_outcomes(self, window: _Window, totals: JobTotals | None = None) -> None:
        """Wait for at least one job to finish and add what it did to `totals` (the chapter's)."""
        totals = self._totals if totals is None else totals
        done, _ = await workflow.wait(window.pending.keys(), return_when=FIRST_COMPLETED)
        for task in done:
            totals.add(self._job_outcome(task, window.pending.pop(task)))

    async def _finish(self, input: ChapterInput) -> ChapterResult:
        """Fail with the first error if any segment failed; else assemble the chapter."""
        await self._report_progress(input)
        if self._totals.failed:
            raise ApplicationError(
                f"{self._totals.failed} of {self._total_segments} segments failed; "
                f"first error: {self._totals.first_error}",
                type="ChapterFailed",
                non_retryable=True,
            )
        options = input.options
        verdict, retaken = await self._check_speech(input) if options.speech_qa else (None, 0)
        assembled = await workflow.execute_activity_method(
            AssemblyActivities.assemble_chapter,
            AssembleInput(input.project_id, input.chapter.chapter_id, options.output_format),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
            retry_policy=retry_policy(options),
        )
        assembled.totals, assembled.qa, assembled.retaken = self._totals, verdict, retaken
        return assembled

    async def _check_speech(self, input: ChapterInput) -> tuple[QaVerdict, int]:
        """Speech QA, then each round of automatic retakes of the flagged segments and their
        check, until every flagged segment has passed or had its retakes."""
        options, retaken = input.options, 0
        request = QaRequest(
            input.project_id, input.chapter.chapter_id, self._index, options.qa_retakes
        )
        for _ in range(options.qa_retakes + 1):
            verdict: QaVerdict = await workflow.execute_activity_method(
                QaActivities.check_chapter,
                request,
                start_to_close_timeout=timedelta(hours=2),
                heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
                retry_policy=retry_policy(options),
            )
            if not verdict.retakes:
                break
            retaken += len(verdict.retakes)
            await self._synthesize_again(input, verdict.retakes)
        return verdict, retaken

    async def _synthesize_again(self, input: ChapterInput, indices: list[int]) -> None:
        """One job per segment, through the same window and dispatch as the first pass."""
        first = self._next_extra_job
        jobs = [
            JobSpec(
                input.project_id,
                input.chapter.chapter_id,
                self._index,
                first + n,
                index,
                index + 1,
                input.options.voice,
            )
            for n, index in enumerate(indices)
        ]
        self._next_extra_job += len(jobs)
        window = _Window(first, JobPlan(jobs, first + len(jobs)))
        again = JobTotals()
        while window.has_work:
            await self._fill_window(window, input)
            await self._collect_outcomes(window, again)
        if again.failed:
            raise ApplicationError(
                f"{again.failed} of {len(jobs)} automatic retakes failed; "
                f"first error: {again.first_error}",
                type="ChapterFailed",
                non_retryable=True,
            )

    async def _plan(self, input: ChapterInput, first_job: int) -> JobPlan:
        return await workflow.execute_activity_method(
            SynthesisActivities.plan_chapter_jobs,
            PlanRequest(input, first_job, input.options.plan_page),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=input.options.heartbeat_timeout_s),
            retry_policy=retry_policy(input.options),
        )

    def _start_job(self, job: JobSpec, options: ConversionOptions) -> asyncio.Task:
        """Direct mode calls TorchServe in the activity; queue mode waits on RabbitMQ workers."""
        if options.dispatch == "queue":
            # A broker restart can outlast a few quick attempts: retry publishing until the
            # job's deadline. Failures that must stop (dead-lettered jobs) are non-retryable.
            return workflow.start_activity_method(
                QueueActivities.enqueue_job,
                job,
                schedule_to_close_timeout=timedelta(seconds=options.job_timeout_s),
                heartbeat_timeout=timedelta(seconds=options.queue_heartbeat_timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=options.retry_initial_s),
                    maximum_interval=timedelta(seconds=options.retry_max_s),
                    non_retryable_error_types=NON_RETRYABLE,
                ),
            )
        return workflow.start_activity_method(
            SynthesisActivities.synthesize_job,
            job,
            start_to_close_timeout=timedelta(seconds=options.job_timeout_s),
            heartbeat_timeout=timedelta(seconds=options.heartbeat_timeout_s),
            retry_policy=retry_policy(options),
        )

    def _job_outcome(self, task: asyncio.Task, job: JobSpec) -> JobTotals:
        """A job whose activity failed for good counts all its segments as failed."""
        try:
            return task.result()
        except ActivityError as error:
            cause = error.cause or error
            return JobTotals(
                failed=job.end - job.start,
                first_error=f"segments {job.start}-{job.end - 1}: {cause}",
            )

    async def _report_progress(self, input: ChapterInput) -> None:
        parent = workflow.info().parent
        if parent is None:
            return
        handle = workflow.get_external_workflow_handle(parent.workflow_id)
        await handle.signal(
            "chapter_progress",
            ChapterProgress(input.chapter.index, self._totals.done, self._totals.failed),
        )
