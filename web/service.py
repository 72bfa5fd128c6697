"""What the web app does to projects: create (with a parse preview), start, cancel, replay.

Pages and the API call these same functions, so both behave the same. Temporal is only used
through a client (never a worker); database work runs in a thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from voxflow.artifacts import ArtifactNotFound, ArtifactStore
from voxflow.conversion import (
    QaChange,
    create_project,
    project_handle,
    replay_chapter,
    rerender_project,
    start_project,
)
from voxflow.db import repository, session_scope
from voxflow.db.models import (
    Chapter,
    ChapterState,
    ConversionState,
    ProjectState,
)
from voxflow.document import Document
from voxflow.errors import InputError, ServiceUnavailable, VoxflowError
from voxflow.importers import check_size, load_document_bytes
from voxflow.importers._input import check_container, format_for
from voxflow.naming import preview_key, qa_report_key
from voxflow.registry import load_registry
from voxflow.settings import Settings
from web.errors import Conflict, TooLarge, UnsupportedType
from web.temporal import TemporalGateway

if TYPE_CHECKING:
    from web.uploads import Upload

FINAL_STATES = {ProjectState.done, ProjectState.failed, ProjectState.cancelled}
MAX_NAME = 120
PREVIEW_SENTENCE_CHARS = 160
CANCEL_WAIT_S = 5.0


def safe_filename(name: str | None, default: str = "upload.txt") -> str:
    """The base name only, printable, no leading dots, at most MAX_NAME characters."""
    name = (name or "").encode("utf-8", "replace").decode("utf-8")
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: MAX_NAME - len(ext) - 1]}.{ext}" if dot and len(ext) < 10 else name
        name = name[:MAX_NAME]
    return name or default


def check_upload(settings: Settings, data: bytes, filename: str) -> None:
    """Size (the kernel's check, as a 413), then type by name and content (415), before use."""
    try:
        check_size(filename, len(data), settings.max_upload_bytes)
    except InputError as error:
        raise TooLarge(str(error)) from error
    try:
        fmt = format_for(filename)
        check_container(filename, data, fmt, settings.max_inflated_bytes)
    except InputError as error:
        raise UnsupportedType(str(error)) from error


def parse_document(settings: Settings, upload: Upload) -> Document:
    """The preview of what `create_pending` would import, with the same choices."""
    check_upload(settings, upload.data, upload.filename)
    voice = load_registry(settings).get(upload.voice)
    return load_document_bytes(
        upload.data,
        upload.filename,
        settings,
        max_chars=voice.max_chars,
        include_front_matter=upload.include_front_matter,
        credits_voice=voice.name if upload.acx_credits else None,
    )


def preview_of(document: Document) -> dict:
    """What the preview table shows: per chapter its size and first sentence."""
    chapters = []
    for chapter in document.chapters:
        segments = chapter.segments
        first = segments[0].text if segments else ""
        if len(first) > PREVIEW_SENTENCE_CHARS:
            first = first[: PREVIEW_SENTENCE_CHARS - 1] + "…"
        chapters.append(
            {
                "index": chapter.index,
                "title": chapter.title,
                "blocks": len(chapter.blocks),
                "segments": len(segments),
                "characters": sum(len(s.text) for s in segments),
                "first_sentence": first,
            }
        )
    return {
        "title": document.title,
        "source_format": document.source_format,
        "encoding": document.encoding,
        "segments": sum(c["segments"] for c in chapters),
        "skipped": [section.to_dict() for section in document.skipped],
        "chapters": chapters,
    }


def create_pending(
    settings: Settings,
    engine: Engine,
    store: ArtifactStore,
    data: bytes,
    filename: str,
    *,
    voice: str,
    output_format: str,
    include_front_matter: bool = False,
    acx_credits: bool = False,
    qa_retakes: int | None = None,
) -> tuple[int, dict]:
    """The kernel's create_project after the upload checks, plus the stored parse preview;
    `qa_retakes` turns speech QA on with that many automatic retakes (None: off)."""
    check_upload(settings, data, filename)
    project_id, document = create_project(
        settings,
        data,
        filename,
        voice=voice,
        output_format=output_format,
        engine=engine,
        store=store,
        include_front_matter=include_front_matter,
        acx_credits=acx_credits,
        qa_retakes=qa_retakes,
    )
    preview = preview_of(document)
    store.put(preview_key(project_id), json.dumps(preview).encode())
    return project_id, preview


def has_qa_report(store: ArtifactStore, project_id: int) -> bool:
    """Whether the book step stored a speech-QA report (the project page links it)."""
    return store.exists(qa_report_key(project_id, "json"))


def load_preview(store: ArtifactStore, project_id: int) -> dict | None:
    try:
        return json.loads(store.get(preview_key(project_id)))
    except (ArtifactNotFound, ValueError):
        return None


@dataclass
class ActionResult:
    project_id: int
    state: str
    message: str
    workflow_id: str | None = None


def _unavailable_or(error: Exception, gateway: TemporalGateway) -> Exception:
    """An RPC failure that means "Temporal is down" becomes 503; others stay as they are."""
    if isinstance(error, RPCError) and error.status in {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
    }:
        return gateway.mark_down()
    return error


async def start(
    settings: Settings, engine: Engine, gateway: TemporalGateway, project_id: int
) -> ActionResult:
    """Start a pending project's workflow (`project-{id}`); a second start is a 409."""

    def load():
        with session_scope(engine) as session:
            project = repository.get_project(session, project_id)
            return project, repository.latest_conversion(session, project_id)

    project, conversion = await run_in_threadpool(load)
    if conversion is not None or project.state != ProjectState.pending:
        raise Conflict(f"project {project_id} was already started (it is {project.state.value})")
    client = await gateway.client()
    try:
        handle = await start_project(settings, client, engine, project_id)
    except WorkflowAlreadyStartedError as error:
        raise Conflict(f"project {project_id} was already started") from error
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND and "amespace" in str(error):
            raise ServiceUnavailable(
                f"Temporal has no namespace {settings.temporal_namespace!r}: create it "
                "(deploy/temporal/values.yaml, server.config.namespaces) or set "
                "VOXFLOW_TEMPORAL_NAMESPACE"
            ) from error
        raise _unavailable_or(error, gateway) from error
    return ActionResult(project_id, "pending", "conversion started", handle.id)


async def cancel(
    settings: Settings, engine: Engine, gateway: TemporalGateway, project_id: int
) -> ActionResult:
    """Cancel the workflow (children with it; terminated if no worker handles it within
    CANCEL_WAIT_S), then record `cancelled`."""

    def load():
        with session_scope(engine) as session:
            project = repository.get_project(session, project_id)
            return project, repository.latest_conversion(session, project_id)

    project, conversion = await run_in_threadpool(load)
    if project.state in FINAL_STATES:
        raise Conflict(f"project {project_id} is {project.state.value}; nothing to cancel")
    if conversion is not None:
        client = await gateway.client()
        handle = project_handle(client, project_id)
        try:
            await handle.cancel()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise _unavailable_or(error, gateway) from error
        else:
            try:
                await asyncio.wait_for(handle.result(), timeout=CANCEL_WAIT_S)
            except TimeoutError:
                # No worker took the cancellation in time (none running?): stop it for sure.
                with contextlib.suppress(RPCError):
                    await handle.terminate("cancelled by the user; cancellation was not handled")
            except (WorkflowFailureError, RPCError):
                pass  # the usual outcome: the workflow ended as cancelled

    def record():
        with session_scope(engine) as session:
            repository.set_project_state(
                session, project_id, ProjectState.cancelled, error="cancelled by the user"
            )
            if conversion is not None and conversion.finished_at is None:
                repository.finish_conversion(session, conversion.id, ConversionState.cancelled)

    await run_in_threadpool(record)
    return ActionResult(project_id, "cancelled", "conversion cancelled")


async def rerender(
    settings: Settings, gateway: TemporalGateway, project_id: int, qa: QaChange | None = None
) -> str:
    """Run a finished project's workflow again (voxflow.conversion.rerender_project); a `qa`
    change is stored first, None keeps the project's speech-QA choice."""
    client = await gateway.client()
    try:
        started = await rerender_project(settings, client, project_id, qa)
    except InputError as error:
        raise Conflict(str(error)) from error
    except WorkflowAlreadyStartedError as error:  # started, and not yet recorded as running
        raise Conflict(
            f"project {project_id} is being rendered already: wait for it to finish"
        ) from error
    except RPCError as error:
        raise _unavailable_or(error, gateway) from error
    return f"rendering project {project_id} again as {started.workflow_id}"


async def replay(engine: Engine, gateway: TemporalGateway, project_id: int, index: int) -> str:
    """Ask the project workflow to run a failed chapter again under its own workflow id."""

    def load():
        with session_scope(engine) as session:
            return repository.get_chapter(session, project_id, index)

    chapter = await run_in_threadpool(load)
    if chapter.state != ChapterState.failed:
        raise Conflict(
            f"chapter {index} is {chapter.state.value}; only failed chapters can be replayed"
        )
    client = await gateway.client()
    try:
        message = await replay_chapter(client, project_id, index)
    except VoxflowError as error:
        cause = error.__cause__
        if isinstance(cause, RPCError):
            mapped = _unavailable_or(cause, gateway)
            if mapped is not cause:
                raise mapped from error
        raise Conflict(str(error)) from error

    def mark_queued():
        """Show "queued" at once, unless the workflow already recorded the chapter running."""
        with session_scope(engine) as session:
            session.execute(
                sa.update(Chapter)
                .where(
                    Chapter.project_id == project_id,
                    Chapter.index == index,
                    Chapter.state == ChapterState.failed,
                )
                .values(state=ChapterState.queued, error=None)
            )

    await run_in_threadpool(mark_queued)
    return message
