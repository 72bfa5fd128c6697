"""Assemble a chapter's segments into its audio file, and the chapters into the book.

Both run in the worker's thread pool (CPU and ffmpeg work) and heartbeat while they work.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from temporalio import activity

from activities.resources import Resources
from voxflow import audio
from voxflow.artifacts import keys
from voxflow.contracts import AssembleInput, BookInput, BookResult, ChapterResult, JobTotals
from voxflow.db import repository, session_scope
from voxflow.db.models import Chapter, ChapterState

PAGE = 2000


class AssemblyActivities:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    @activity.defn
    def assemble_chapter(self, input: AssembleInput) -> ChapterResult:
        engine, store = self.resources.engine, self.resources.store
        with session_scope(engine) as session:
            chapter = session.get(Chapter, input.chapter_id)
            index, title = chapter.index, chapter.title
        basename = f"{index:02d}-{keys.slugify(title)}"
        settings = audio.AudioSettings(format=input.output_format)
        with tempfile.TemporaryDirectory(prefix="voxflow-chapter-") as tmp:
            result = audio.assemble_chapter(
                self._segments(input.chapter_id), Path(tmp), basename, settings, title=title
            )
            audio_key = keys.chapter_file_key(
                input.project_id, index, title, result.audio_path.suffix
            )
            subtitle_key = keys.chapter_file_key(input.project_id, index, title, "vtt")
            store.put_file(audio_key, result.audio_path)
            store.put_file(subtitle_key, result.subtitle_path)
        with session_scope(engine) as session:
            repository.set_segment_times(
                session, input.chapter_id, [(t.index, t.start_s, t.end_s) for t in result.segment_times]
            )
            repository.set_chapter_state(
                session,
                input.project_id,
                index,
                ChapterState.done,
                audio_key=audio_key,
                subtitle_key=subtitle_key,
                duration_s=result.duration_s,
                lufs=result.lufs,
            )
        return ChapterResult(index, JobTotals(), result.duration_s, audio_key)

    def _segments(self, chapter_id: int) -> Iterator[audio.SegmentAudio]:
        """Page through the chapter so a 60,000-segment book never sits in memory at once."""
        store, offset = self.resources.store, 0
        while True:
            with session_scope(self.resources.engine) as session:
                rows = repository.list_segments(session, chapter_id, offset=offset, limit=PAGE)
                page = [(r.index, r.block_index, r.text, r.audio_key) for r in rows]
            if not page:
                return
            for index, block_index, text, key in page:
                yield audio.SegmentAudio(index, block_index, text, _opener(store, key))
            offset += len(page)
            activity.heartbeat(offset)

    @activity.defn
    def build_book(self, input: BookInput) -> BookResult:
        engine, store = self.resources.engine, self.resources.store
        with session_scope(engine) as session:
            project = repository.get_project(session, input.project_id)
            chapters = [
                c for c in repository.list_chapters(session, input.project_id)
                if c.state == ChapterState.done
            ]
            voice = self.resources.registry.get(project.voice)
            manifest = audio.build_manifest(
                project=project,
                voice=voice,
                chapters=chapters,
                segments_of=lambda chapter_id: repository.list_segments(
                    session, chapter_id, limit=10**9
                ),
            )
            title = project.title
        with tempfile.TemporaryDirectory(prefix="voxflow-book-") as tmp:
            local = []
            for chapter in chapters:
                path = Path(tmp) / Path(chapter.audio_key).name
                with store.open(chapter.audio_key) as source, path.open("wb") as target:
                    shutil.copyfileobj(source, target)
                local.append((chapter.title, path))
                activity.heartbeat(chapter.index)
            book = audio.build_m4b(local, Path(tmp) / "book.m4b", title=title)
            book_key = keys.book_key(input.project_id, title)
            store.put_file(book_key, book.path)
            manifest["book"] = {"file": Path(book_key).name, "duration_s": book.duration_s}
            manifest_path = Path(tmp) / "manifest.json"
            audio.write_manifest(manifest_path, manifest)
            manifest_key = keys.manifest_key(input.project_id)
            store.put_file(manifest_key, manifest_path)
        with session_scope(engine) as session:
            repository.set_project_state(
                session,
                input.project_id,
                "building",
                duration_s=book.duration_s,
                book_key=book_key,
                manifest_key=manifest_key,
            )
        return BookResult(book_key, manifest_key, book.duration_s)


def _opener(store, key: str):
    return lambda: store.open(key)
