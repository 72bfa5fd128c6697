"""Client side of a conversion: create the project, start or steer its workflow, read progress.

The CLI and the web app both call these; they only need a Temporal client, never a worker.
Workflows are addressed by name and id, so the kernel does not import workflow code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from voxflow.artifacts import ArtifactStore, open_store
from voxflow.contracts import ConversionOptions, ProjectInput
from voxflow.cover import Cover, read_cover
from voxflow.db import make_engine, migrate, repository, session_scope
from voxflow.db.models import DispatchMode, Project
from voxflow.document import Document
from voxflow.errors import InputError, VoxflowError
from voxflow.importers import check_size, load_document_bytes
from voxflow.naming import PROJECT_WORKFLOW, cover_key, project_workflow_id, source_key
from voxflow.registry import load_registry
from voxflow.settings import Settings
from voxflow.temporal_client import connect


def temporal_ui_link(settings: Settings, workflow_id: str) -> str:
    """The workflow's page in the Temporal UI; chapter ids hold '/', escaped as one path part."""
    base = settings.temporal_ui_url.rstrip("/")
    workflow = quote(workflow_id, safe="")
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{workflow}"


def options_from_settings(settings: Settings, project: Project) -> ConversionOptions:
    """The deployment's knobs with the project's own choices (voice, format, speech QA)."""
    return ConversionOptions(
        voice=project.voice,
        output_format=project.output_format,
        speech_qa=project.speech_qa,
        qa_retakes=project.qa_retakes,
        job_max_segments=settings.job_max_segments,
        job_max_chars=settings.job_max_chars,
        window=settings.job_window,
        plan_page=settings.job_plan_page,
        max_parallel_chapters=settings.max_parallel_chapters,
        activity_max_attempts=settings.activity_max_attempts,
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        dispatch=settings.dispatch,
        queue_heartbeat_timeout_s=settings.queue_heartbeat_timeout_s,
    )


@dataclass
class StartedConversion:
    project_id: int
    workflow_id: str
    run_id: str | None
    title: str
    chapters: int
    segments: int


def create_project(
    settings: Settings,
    data: bytes,
    filename: str,
    *,
    voice: str,
    output_format: str,
    engine: Engine,
    store: ArtifactStore,
    include_front_matter: bool = False,
    cover: Cover | None = None,
    acx_credits: bool = False,
    qa_retakes: int | None = None,
) -> tuple[int, Document]:
    """Parse first (clear errors before anything is stored), then store the row and the source.

    The CLI and the web app both create projects here; the workflow imports the stored source.
    A given `cover` is stored now and wins over the document's own at import. `acx_credits` adds
    opening and closing credits chapters (voxflow.publishing.credits); `qa_retakes` turns on
    speech QA with that many automatic retakes (None: off).
    """
    voice_info = load_registry(settings).get(voice)
    document = load_document_bytes(
        data,
        filename,
        settings,
        max_chars=voice_info.max_chars,
        include_front_matter=include_front_matter,
        credits_voice=voice_info.name if acx_credits else None,
    )
    name = Path(filename).name
    with session_scope(engine) as session:
        project = repository.create_project_shell(
            session,
            title=document.title,
            source_name=name,
            source_format=document.source_format,
            voice=voice_info.name,
            model_version=voice_info.version,
            output_format=output_format,
            include_front_matter=include_front_matter,
            acx_credits=acx_credits,
            qa_retakes=qa_retakes,
        )
        project.segment_count = sum(len(c.segments) for c in document.chapters)
        project_id = project.id
        if cover is not None:
            project.cover_key = cover_key(project_id, cover.ext)
            store.put(project.cover_key, cover.data)
    store.put(source_key(project_id, name), data)
    return project_id, document


async def start_project(
    settings: Settings, client: Client, engine: Engine, project_id: int
) -> WorkflowHandle:
    """Start `project-{id}` with the project's stored choices, and record the conversion (with
    its dispatch mode)."""

    def load() -> ConversionOptions:
        with session_scope(engine) as session:
            return options_from_settings(settings, repository.get_project(session, project_id))

    workflow_id = project_workflow_id(project_id)
    handle = await client.start_workflow(
        PROJECT_WORKFLOW,
        ProjectInput(project_id, await asyncio.to_thread(load)),
        id=workflow_id,
        task_queue=settings.temporal_task_queue,
    )

    def record() -> None:
        with session_scope(engine) as session:
            repository.record_conversion(
                session,
                project_id,
                workflow_id=workflow_id,
                run_id=handle.first_execution_run_id,
                dispatch=DispatchMode(settings.dispatch),
            )

    await asyncio.to_thread(record)
    return handle


async def start_conversion(
    settings: Settings,
    path: Path,
    *,
    voice: str | None = None,
    output_format: str | None = None,
    client: Client | None = None,
    include_front_matter: bool = False,
    cover: Path | None = None,
    acx_credits: bool = False,
    qa_retakes: int | None = None,
) -> StartedConversion:
    """Convert the document at `path`; `cover`, a JPEG or PNG file, replaces the document's."""
    if not path.is_file():
        raise InputError(f"{path} does not exist or is not a file")
    check_size(path.name, path.stat().st_size, settings.max_upload_bytes)
    image = read_cover(cover) if cover is not None else None
    return await start_conversion_bytes(
        settings,
        path.read_bytes(),
        path.name,
        voice=voice,
        output_format=output_format,
        client=client,
        include_front_matter=include_front_matter,
        cover=image,
        acx_credits=acx_credits,
        qa_retakes=qa_retakes,
    )


async def start_conversion_bytes(
    settings: Settings,
    data: bytes,
    filename: str,
    *,
    voice: str | None = None,
    output_format: str | None = None,
    client: Client | None = None,
    include_front_matter: bool = False,
    cover: Cover | None = None,
    acx_credits: bool = False,
    qa_retakes: int | None = None,
) -> StartedConversion:
    voice = voice or settings.default_voice
    output_format = output_format or settings.output_format
    client = client or await connect(settings)
    await asyncio.to_thread(migrate, settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        project_id, document = await asyncio.to_thread(
            create_project,
            settings,
            data,
            filename,
            voice=voice,
            output_format=output_format,
            engine=engine,
            store=open_store(settings),
            include_front_matter=include_front_matter,
            cover=cover,
            acx_credits=acx_credits,
            qa_retakes=qa_retakes,
        )
        handle = await start_project(settings, client, engine, project_id)
    finally:
        engine.dispose()
    return StartedConversion(
        project_id,
        handle.id,
        handle.first_execution_run_id,
        document.title,
        len(document.chapters),
        sum(len(c.segments) for c in document.chapters),
    )


RUNNING_STATES = {"importing", "running", "building", "attention"}


@dataclass(frozen=True)
class QaChange:
    """A new speech-QA choice for a project: up to `retakes` automatic retakes (None: QA off)."""

    retakes: int | None


async def rerender_project(
    settings: Settings, client: Client, project_id: int, qa: QaChange | None = None
) -> StartedConversion:
    """Run a finished project's workflow again: segments whose spoken text is unchanged are
    reused from the audio store, and chapters whose segments are unchanged keep their files,
    so only what a lexicon or text change touched is synthesised and assembled again.
    A `qa` change is stored on the project first."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            project = repository.get_project(session, project_id)
            state = project.state.value
            title, chapters, segments = project.title, project.chapter_count, project.segment_count
            if state in RUNNING_STATES:
                raise InputError(
                    f"project {project_id} is {state}: wait for it to finish (voxflow status "
                    f"{project_id}) before rendering it again"
                )
            before = QaChange(project.qa_retakes if project.speech_qa else None)
            if qa is not None:
                repository.set_speech_qa(project, qa.retakes)
                session.add(project)
        try:
            handle = await start_project(settings, client, engine, project_id)
        except WorkflowAlreadyStartedError:  # another render won the race: keep its choice
            if qa is not None:
                with session_scope(engine) as session:
                    project = repository.get_project(session, project_id)
                    repository.set_speech_qa(project, before.retakes)
                    session.add(project)
            raise
    finally:
        engine.dispose()
    return StartedConversion(
        project_id, handle.id, handle.first_execution_run_id, title, chapters, segments
    )


def project_handle(client: Client, project_id: int) -> WorkflowHandle:
    return client.get_workflow_handle(project_workflow_id(project_id))


async def replay_chapter(client: Client, project_id: int, index: int) -> str:
    """Ask the project workflow to run a failed chapter again under the same workflow id."""
    try:
        return await project_handle(client, project_id).execute_update(
            "retry_chapter", index, result_type=str
        )
    except RPCError as error:
        raise VoxflowError(f"project {project_id}: {error.message}") from error
    except Exception as error:  # WorkflowUpdateFailedError: the validator said no
        cause = getattr(error, "cause", None) or error
        raise VoxflowError(
            f"cannot replay chapter {index} of project {project_id}: {cause}"
        ) from error


async def accept_partial(client: Client, project_id: int) -> list[int]:
    try:
        return await project_handle(client, project_id).execute_update(
            "accept_partial", result_type=list[int]
        )
    except Exception as error:
        cause = getattr(error, "cause", None) or error
        raise VoxflowError(f"cannot accept project {project_id} as it is: {cause}") from error
