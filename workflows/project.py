"""ProjectWorkflow: import a document, run one ChapterWorkflow per chapter, build the book.

A chapter that fails is recorded and the project waits in `attention` until the user
replays it (`retry_chapter`) or accepts the book without it (`accept_partial`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.assembly import AssemblyActivities
    from activities.documents import DocumentActivities
    from voxflow.contracts import (
        BookInput,
        BookResult,
        ChapterInput,
        ChapterProgress,
        ChapterResult,
        ChapterStatus,
        ChapterSummary,
        ImportManifest,
        JobTotals,
        ProjectInput,
        ProjectProgress,
        ProjectResult,
        StatusUpdate,
    )
    from voxflow.naming import PROJECT_WORKFLOW, chapter_workflow_id
    from workflows.chapter import ChapterWorkflow, retry_policy


@workflow.defn(name=PROJECT_WORKFLOW)
class ProjectWorkflow:
    def __init__(self) -> None:
        self._project_id = 0
        self._state = "importing"
        self._chapters: dict[int, ChapterStatus] = {}
        self._retry_requests: list[int] = []
        self._accept_partial = False
        self._totals: dict[int, JobTotals] = {}
        self._retaken: dict[int, int] = {}  # segments synthesised again by speech-QA retakes

    # --- messages -------------------------------------------------------------------------

    @workflow.query
    def progress(self) -> ProjectProgress:
        return ProjectProgress(self._project_id, self._state, list(self._chapters.values()))

    @workflow.signal
    def chapter_progress(self, update: ChapterProgress) -> None:
        status = self._chapters.get(update.index)
        if status is not None and status.state == "running":
            status.done, status.failed = update.done, update.failed

    @workflow.update
    def retry_chapter(self, index: int) -> str:
        self._retry_requests.append(index)
        self._chapters[index].state = "queued"
        return f"chapter {index} queued for replay"

    @retry_chapter.validator
    def _check_retry(self, index: int) -> None:
        status = self._chapters.get(index)
        if status is None:
            raise ApplicationError(f"project has no chapter {index}")
        if status.state != "failed":
            raise ApplicationError(
                f"chapter {index} is {status.state}; only failed chapters replay"
            )

    @workflow.update
    def accept_partial(self) -> list[int]:
        """Finish the book without the failed chapters."""
        self._accept_partial = True
        return [i for i, c in self._chapters.items() if c.state == "failed"]

    @accept_partial.validator
    def _check_accept(self) -> None:
        if self._state != "attention":
            raise ApplicationError(f"project is {self._state}; accept only applies in attention")

    # --- run ------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: ProjectInput) -> ProjectResult:
        self._project_id = input.project_id
        try:
            manifest: ImportManifest = await workflow.execute_activity_method(
                DocumentActivities.import_document,
                input,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=input.options.heartbeat_timeout_s),
                retry_policy=retry_policy(input.options),
            )
        except ActivityError as error:
            await self._record("failed", error=str(error.cause or error))
            raise ApplicationError(f"import failed: {error.cause or error}") from error

        summaries = {c.index: c for c in manifest.chapters}
        for c in manifest.chapters:
            self._chapters[c.index] = ChapterStatus(c.index, c.title, c.segment_count)
        await self._record("running")
        await self._run_chapters(list(summaries), input, summaries)

        # A replay requested while another one runs marks its chapter "queued": keep looping
        # until those requests are served too, not only while some chapter is "failed".
        while self._retry_requests or any(c.state == "failed" for c in self._chapters.values()):
            if not self._retry_requests:
                await self._record("attention")
            await workflow.wait_condition(
                lambda: bool(self._retry_requests) or self._accept_partial
            )
            if self._retry_requests:
                indices, self._retry_requests = self._retry_requests, []
                await self._record("running")
                await self._run_chapters(indices, input, summaries)
            elif self._accept_partial:
                for status in self._chapters.values():
                    if status.state == "failed":
                        status.state = "skipped"
                        await self._record_chapter(status)

        self._state = "building"
        await self._record("building")
        book: BookResult = await workflow.execute_activity_method(
            AssemblyActivities.build_book,
            BookInput(input.project_id),
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=input.options.heartbeat_timeout_s),
            retry_policy=retry_policy(input.options),
        )
        await self._record("done")
        skipped = [i for i, c in self._chapters.items() if c.state == "skipped"]
        synthesized = sum(t.synthesized for t in self._totals.values())
        synthesized += sum(self._retaken.values())
        reused = sum(t.reused for t in self._totals.values())
        return ProjectResult(input.project_id, "done", book, skipped, synthesized, reused)

    async def _run_chapters(
        self, indices: list[int], input: ProjectInput, summaries: dict[int, ChapterSummary]
    ) -> None:
        """Run chapters as children, at most `max_parallel_chapters` at once."""
        slots = asyncio.Semaphore(input.options.max_parallel_chapters)

        async def run_one(index: int) -> None:
            async with slots:
                status = self._chapters[index]
                status.state, status.error = "running", None
                status.done = status.failed = 0
                await self._record_chapter(status)
                try:
                    result: ChapterResult = await workflow.execute_child_workflow(
                        ChapterWorkflow.run,
                        ChapterInput(input.project_id, summaries[index], input.options),
                        id=chapter_workflow_id(input.project_id, index),
                        result_type=ChapterResult,
                    )
                except ChildWorkflowError as error:
                    status.state, status.error = "failed", _reason(error)
                else:
                    status.state, status.duration_s = "done", result.duration_s
                    status.done, status.failed = result.totals.done, result.totals.failed
                    self._totals[index], self._retaken[index] = result.totals, result.retaken
                await self._record_chapter(status)

        await asyncio.gather(*(run_one(i) for i in indices))

    async def _record(self, state: str, error: str | None = None) -> None:
        self._state = state
        await self._write(StatusUpdate(self._project_id, None, state, error))

    async def _record_chapter(self, status: ChapterStatus) -> None:
        await self._write(StatusUpdate(self._project_id, status.index, status.state, status.error))

    async def _write(self, update: StatusUpdate) -> None:
        await workflow.execute_activity_method(
            DocumentActivities.record_status,
            update,
            start_to_close_timeout=timedelta(seconds=10),  # one row: a dead worker's is redone
            retry_policy=retry_policy_forever(),
        )


def retry_policy_forever() -> RetryPolicy:
    """State writes must land eventually: retry without a cap (the database may be restarting)."""
    return RetryPolicy(maximum_interval=timedelta(seconds=30))


def _reason(error: ChildWorkflowError) -> str:
    """The innermost message: the chapter's own ApplicationError, not the wrapper's."""
    cause: BaseException = error
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause  # type: ignore[assignment]
    return getattr(cause, "message", None) or str(cause)
