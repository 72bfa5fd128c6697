"""ChapterWorkflow: synthesise a chapter's segments through a sliding window of jobs, then assemble.

History stays bounded: at most `window` activities are pending, and the run continues-as-new
when Temporal suggests it, carrying only the next job number and running totals.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
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


@workflow.defn
class ChapterWorkflow:
    def __init__(self) -> None:
        self._totals = JobTotals()
        self._total_segments = 0
        self._index = 0

    @workflow.query
    def progress(self) -> ChapterProgress:
        return ChapterProgress(self._index, self._totals.done, self._totals.failed)

    @workflow.run
    async def run(self, input: ChapterInput) -> ChapterResult:
        options = input.options
        self._totals = input.totals or JobTotals()
        self._total_segments = input.chapter.segment_count
        self._index = input.chapter.index
        next_job = input.next_job
        plan = await self._plan(input, next_job)
        jobs: dict[int, JobSpec] = {job.job_index: job for job in plan.jobs}
        pending: dict[asyncio.Task, JobSpec] = {}
        # At most ~50 progress signals per chapter, however long: the parent's history stays small.
        report_step = max(1, self._total_segments // PROGRESS_REPORTS)
        reported = self._totals.done + self._totals.failed
        while next_job < plan.total or pending:
            suggest_new_run = workflow.info().is_continue_as_new_suggested()
            while len(pending) < options.window and next_job < plan.total and not suggest_new_run:
                if next_job not in jobs:
                    plan = await self._plan(input, next_job)
                    jobs = {job.job_index: job for job in plan.jobs}
                task = self._start_job(jobs[next_job], options)
                pending[task] = jobs.pop(next_job)
                next_job += 1
            if not pending:
                break
            done, _ = await workflow.wait(pending.keys(), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                job = pending.pop(task)
                self._totals.add(self._job_outcome(task, job))
            if self._totals.done + self._totals.failed - reported >= report_step:
                await self._report_progress(input)
                reported = self._totals.done + self._totals.failed
            if suggest_new_run and not pending and next_job < plan.total:
                workflow.continue_as_new(
                    ChapterInput(input.project_id, input.chapter, options, next_job, self._totals)
                )

        await self._report_progress(input)
        if self._totals.failed:
            raise ApplicationError(
                f"{self._totals.failed} of {self._total_segments} segments failed; "
                f"first error: {self._totals.first_error}",
                type="ChapterFailed",
                non_retryable=True,
            )
        assembled: ChapterResult = await workflow.execute_activity(
            "assemble_chapter",
            AssembleInput(input.project_id, input.chapter.chapter_id, options.output_format),
            result_type=ChapterResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(seconds=max(options.heartbeat_timeout_s, 120)),
            retry_policy=retry_policy(options),
        )
        assembled.totals = self._totals
        return assembled

    async def _plan(self, input: ChapterInput, first_job: int) -> JobPlan:
        return await workflow.execute_activity(
            "plan_chapter_jobs",
            PlanRequest(input, first_job, input.options.plan_page),
            result_type=JobPlan,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=retry_policy(input.options),
        )

    def _start_job(self, job: JobSpec, options: ConversionOptions) -> asyncio.Task:
        """Direct mode calls TorchServe in the activity; queue mode waits on RabbitMQ workers."""
        if options.dispatch == "queue":
            # A broker restart can outlast a few quick attempts: retry publishing until the
            # job's deadline. Failures that must stop (dead-lettered jobs) are non-retryable.
            return workflow.start_activity(
                "enqueue_job",
                job,
                result_type=JobTotals,
                schedule_to_close_timeout=timedelta(seconds=options.job_timeout_s),
                heartbeat_timeout=timedelta(seconds=options.queue_heartbeat_timeout_s),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=options.retry_initial_s),
                    maximum_interval=timedelta(seconds=options.retry_max_s),
                    non_retryable_error_types=NON_RETRYABLE,
                ),
            )
        return workflow.start_activity(
            "synthesize_job",
            job,
            result_type=JobTotals,
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
