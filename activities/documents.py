"""Import a project's uploaded source into chapters and segments, and record state changes."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import beating
from activities.resources import Resources
from voxflow import naming
from voxflow.artifacts import ArtifactStore
from voxflow.contracts import ChapterSummary, ImportManifest, ProjectInput, StatusUpdate
from voxflow.cover import EXTENSIONS
from voxflow.db import repository, session_scope
from voxflow.db.models import ChapterState, Project, ProjectState
from voxflow.document import Document
from voxflow.errors import VoxflowError
from voxflow.importers import load_document_bytes


class DocumentActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    async def import_document(self, input: ProjectInput) -> ImportManifest:
        """Idempotent: a retried import returns the chapters the first attempt stored."""
        async with beating():
            return await asyncio.to_thread(self._import, input)

    def _import(self, input: ProjectInput) -> ImportManifest:
        engine, store = self.resources.engine, self.resources.store
        with session_scope(engine) as session:
            project = repository.get_project(session, input.project_id)
            if project.chapter_count == 0:
                voice = self.resources.registry.get(project.voice)
                data = store.get(naming.source_key(project.id, project.source_name))
                try:
                    document = load_document_bytes(
                        data,
                        project.source_name,
                        max_chars=voice.max_chars,
                        include_front_matter=project.include_front_matter,
                        credits_voice=voice.name if project.acx_credits else None,
                    )
                except VoxflowError as error:
                    raise ApplicationError(
                        str(error), type="InputError", non_retryable=True
                    ) from error
                repository.attach_document(session, project, document)
                _store_cover(store, project, document)
            chapters = repository.list_chapters(session, input.project_id)
            return ImportManifest(
                project.id,
                project.title,
                [ChapterSummary(c.id, c.index, c.title, c.segment_count) for c in chapters],
            )

    @activity.defn
    async def record_status(self, update: StatusUpdate) -> None:
        await asyncio.to_thread(self._record, update)

    def _record(self, update: StatusUpdate) -> None:
        with session_scope(self.resources.engine) as session:
            if update.chapter_index is None:
                state = ProjectState(update.state)
                repository.set_project_state(session, update.project_id, state, error=update.error)
                info = activity.info()
                repository.follow_conversion(
                    session,
                    update.project_id,
                    state,
                    error=update.error,
                    workflow_id=info.workflow_id,
                    run_id=info.workflow_run_id,
                )
            else:
                repository.set_chapter_state(
                    session,
                    update.project_id,
                    update.chapter_index,
                    ChapterState(update.state),
                    error=update.error,
                    workflow_id=naming.chapter_workflow_id(update.project_id, update.chapter_index),
                )


def _store_cover(store: ArtifactStore, project: Project, document: Document) -> None:
    """Keep the document's cover for the audio files, unless the user gave one (`--cover`)."""
    metadata = document.metadata
    if project.cover_key or not metadata.cover or not metadata.cover_type:
        return
    key = naming.cover_key(project.id, EXTENSIONS[metadata.cover_type])
    store.put(key, metadata.cover)
    project.cover_key = key
