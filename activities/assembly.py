"""Assemble a chapter's segments into its audio file, and the chapters into the book.

Both run in the worker's thread pool (CPU and ffmpeg work) and heartbeat on a timer while they
work; the work itself is `voxflow/assembly.py`, these only read and write the database around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import BinaryIO

from sqlmodel import Session
from temporalio import activity

from activities.heartbeats import beating_in_thread
from activities.resources import Resources
from voxflow import audio
from voxflow.artifacts import ArtifactNotFound, ArtifactStore
from voxflow.assembly import chapter_inputs, chapter_tags, load_cover, store_book, store_chapter
from voxflow.contracts import AssembleInput, BookInput, BookResult, ChapterResult, JobTotals
from voxflow.db import repository, session_scope
from voxflow.db.models import Chapter, ChapterState, ProjectState
from voxflow.naming import segment_words_key, source_key
from voxflow.qa.publish import store_qa_report

PAGE = 2000


class AssemblyActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    def assemble_chapter(self, input: AssembleInput) -> ChapterResult:
        engine = self.resources.engine
        with session_scope(engine) as session:
            chapter = session.get(Chapter, input.chapter_id)
            project = repository.get_project(session, input.project_id)
            index, title, cover_key = chapter.index, chapter.title, project.cover_key
            voice = self.resources.registry.get(project.voice)
            tags = chapter_tags(
                project.title,
                title,
                index,
                project.chapter_count,
                voice=voice,
                author=project.author,
                year=project.year,
            )
        with beating_in_thread():
            cover = load_cover(self.resources.store, cover_key)
            inputs = chapter_inputs(
                self._rows(input.chapter_id),
                title=title,
                output_format=input.output_format,
                voice=voice,
                tags=tags,
                cover=cover,
            )
            stored = store_chapter(
                self.resources.store,
                self._segments(input.chapter_id),
                project_id=input.project_id,
                index=index,
                title=title,
                voice=voice,
                output_format=input.output_format,
                inputs=inputs,
                tags=tags,
                cover=cover,
            )
        with session_scope(engine) as session:
            repository.set_segment_times(
                session,
                input.chapter_id,
                [(t.index, t.start_s, t.end_s) for t in stored.segment_times],
            )
            repository.set_chapter_state(
                session,
                input.project_id,
                index,
                ChapterState.done,
                audio_key=stored.audio_key,
                subtitle_key=stored.subtitle_key,
                duration_s=stored.duration_s,
                lufs=stored.lufs,
            )
        return ChapterResult(index, JobTotals(), stored.duration_s, stored.audio_key)

    def _rows(self, chapter_id: int) -> Iterator[tuple[int, int, str, str]]:
        """Page through the chapter so a 60,000-segment book never sits in memory at once."""
        offset = 0
        while True:
            with session_scope(self.resources.engine) as session:
                rows = repository.list_segments(session, chapter_id, offset=offset, limit=PAGE)
                page = [(r.index, r.block_index, r.text, r.audio_key) for r in rows]
            if not page:
                return
            yield from page
            offset += len(page)

    def _segments(self, chapter_id: int) -> Iterator[audio.SegmentAudio]:
        store = self.resources.store
        for index, block_index, text, key in self._rows(chapter_id):
            yield audio.SegmentAudio(
                index, block_index, text, _opener(store, key), _word_loader(store, key)
            )

    @activity.defn
    def build_book(self, input: BookInput) -> BookResult:
        """The M4B of every finished chapter, and manifest.json describing all files."""
        engine = self.resources.engine
        with session_scope(engine) as session:
            project = repository.get_project(session, input.project_id)
            chapters = [
                (c.title, c.audio_key)
                for c in repository.list_chapters(session, input.project_id)
                if c.state == ChapterState.done and c.audio_key
            ]
            title, voice_name, fmt = project.title, project.voice, project.output_format
            author, year, cover_key = project.author, project.year, project.cover_key
            language, speech_qa = project.language, project.speech_qa
            source = source_key(project.id, project.source_name)
            is_epub = project.source_format == "epub"
        with beating_in_thread():
            stored = store_book(
                self.resources.store,
                chapters,
                project_id=input.project_id,
                title=title,
                voice=self.resources.registry.get(voice_name),
                output_format=fmt,
                author=author,
                year=year,
                cover=load_cover(self.resources.store, cover_key),
                language=language,
                source_epub=self.resources.store.get(source) if is_epub else None,
            )
        with session_scope(engine) as session:
            repository.set_project_state(
                session,
                input.project_id,
                ProjectState.building,
                duration_s=stored.duration_s,
                book_key=stored.book_key,
                manifest_key=stored.manifest_key,
                read_along_key=stored.read_along_key,
            )
            if speech_qa:
                self._store_qa_report(session, input.project_id, title, stored.manifest_key)
        return BookResult(stored.book_key, stored.manifest_key, stored.duration_s)

    def _store_qa_report(
        self, session: Session, project_id: int, title: str, manifest_key: str
    ) -> None:
        """The speech QA report (HTML and JSON) beside the book."""
        report = store_qa_report(
            session,
            self.resources.store,
            project_id=project_id,
            title=title,
            chapters=list(repository.list_chapters(session, project_id)),
            manifest=json.loads(self.resources.store.get(manifest_key)),
            recognizer=self.resources.recognizer.name,
        )
        activity.logger.info(
            "speech QA report: %d of %d checked segments flagged",
            report["flagged_count"], report["segments"],
        )  # fmt: skip


def _opener(store: ArtifactStore, key: str) -> Callable[[], AbstractContextManager[BinaryIO]]:
    return lambda: store.open(key)


def _word_loader(store: ArtifactStore, key: str) -> Callable[[], list | None]:
    """The segment's stored word times (beside its audio), or None for voices without them."""

    def load() -> list | None:
        try:
            return [tuple(word) for word in json.loads(store.get(segment_words_key(key)))]
        except (ArtifactNotFound, ValueError):
            return None

    return load
