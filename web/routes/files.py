"""Downloads: chapter audio and subtitles, segment and take audio, the book and its manifest.

Each is the artifact a database row names, streamed with HTTP Range; `FILES` declares them
all and one endpoint factory serves them. No `from __future__ import annotations` here:
FastAPI reads each made endpoint's annotations, and they name the factory's own locator.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from sqlmodel import Session, col, select

from voxflow.db import repository, session_scope
from voxflow.db.models import SegmentTake
from web import queries
from web.deps import MAX_ID, ChapterIndex, Ctx, ProjectId, SegmentIndex
from web.downloads import artifact_response
from web.routes.common import api_router
from web.schemas import ErrorOut

router = api_router()
AUDIO = ("audio/mpeg", "audio/wav", "audio/ogg")
BINARY = {"type": "string", "format": "binary"}
PROJECT = "/projects/{project_id}"
CHAPTER = f"{PROJECT}/chapters/{{index}}"
Download = Annotated[bool, Query(description="As an attachment rather than inline")]
Loader = Callable[[Session], Any]


def file_responses(*media_types: str) -> dict:
    """The documented answers of a download: whole file, a byte range, or a bad range."""
    content = {
        media_type: {"schema": {"type": "object"} if media_type.endswith("json") else BINARY}
        for media_type in media_types
    }
    return {
        200: {"description": "The whole file", "content": content},
        206: {"description": "The requested byte range (Range: bytes=a-b)", "content": content},
        400: {"model": ErrorOut, "description": "Malformed Range header"},
        416: {"description": "Range not satisfiable", "content": {"text/plain": {}}},
    }


# Locators turn the path parameters into a loader of the row; they read nothing themselves, so
# a malformed parameter is still a 422 before any database work.
def project_at(project_id: ProjectId) -> Loader:
    return lambda session: repository.get_project(session, project_id)


def chapter_at(project_id: ProjectId, index: ChapterIndex) -> Loader:
    return lambda session: repository.get_chapter(session, project_id, index)


def segment_at(project_id: ProjectId, index: ChapterIndex, segment: SegmentIndex) -> Loader:
    def load(session: Session) -> Any:
        chapter = repository.get_chapter(session, project_id, index)
        row = queries.get_segment(session, chapter.id, segment)
        if row is None:
            raise repository.NotFound(
                f"chapter {index} of project {project_id} has no segment {segment}"
            )
        return row

    return load


def take_at(
    project_id: ProjectId,
    index: ChapterIndex,
    segment: SegmentIndex,
    number: Annotated[int, PathParam(ge=1, le=MAX_ID, description="Take number (from 1)")],
) -> Loader:
    """The segment's `number`th rendering (as the takes list numbers them, oldest first)."""
    find_segment = segment_at(project_id, index, segment)

    def load(session: Session) -> Any:
        row = find_segment(session)
        statement = select(SegmentTake).where(SegmentTake.segment_id == row.id)
        take = session.exec(statement.order_by(col(SegmentTake.id)).offset(number - 1)).first()
        if take is None:
            raise repository.NotFound(f"segment {segment} of chapter {index} has no take {number}")
        return take

    return load


@dataclass(frozen=True)
class FileRoute:
    """One download: its route name (the operationId's start), URL, row and artifact key."""

    name: str
    path: str
    at: Callable[..., Loader]
    key: str
    summary: str
    media_types: tuple[str, ...]
    attachment: bool = False  # the `download` default

    @property
    def what(self) -> str:
        """The file's name in a 404: "chapter audio", "book"."""
        return self.name.replace("_", " ")


FILES = (
    FileRoute(
        "chapter_audio",
        f"{CHAPTER}/audio",
        chapter_at,
        "audio_key",
        "A chapter's audio (seekable: HTTP Range)",
        AUDIO,
    ),
    FileRoute(
        "chapter_subtitles",
        f"{CHAPTER}/subtitles",
        chapter_at,
        "subtitle_key",
        "A chapter's WebVTT subtitles",
        ("text/vtt",),
    ),
    FileRoute(
        "segment_audio",
        f"{CHAPTER}/segments/{{segment}}/audio",
        segment_at,
        "audio_key",
        "One segment's audio",
        ("audio/wav",),
    ),
    FileRoute(
        "take_audio",
        f"{CHAPTER}/segments/{{segment}}/takes/{{number}}/audio",
        take_at,
        "audio_key",
        "One of a segment's earlier renderings, to listen before going back to it",
        ("audio/wav",),
    ),
    FileRoute(
        "book",
        f"{PROJECT}/book",
        project_at,
        "book_key",
        "The whole book as M4B with chapter markers",
        ("audio/mp4",),
        attachment=True,
    ),
    FileRoute(
        "read_along",
        f"{PROJECT}/read-along",
        project_at,
        "read_along_key",
        "The read-along EPUB 3: the text with media overlays of the chapters' audio",
        ("application/epub+zip",),
        attachment=True,
    ),
    FileRoute(
        "manifest",
        f"{PROJECT}/manifest",
        project_at,
        "manifest_key",
        "manifest.json: every sentence's start and end time",
        ("application/json",),
    ),
)


def serve(route: FileRoute) -> Callable[..., Response]:
    """The endpoint of one download: the row is read, then its artifact streamed."""

    def endpoint(
        ctx: Ctx, load: Annotated[Loader, Depends(route.at)], download: Download = route.attachment
    ) -> Response:
        with session_scope(ctx.engine) as session:
            row = load(session)
        key = getattr(row, route.key)
        return artifact_response(ctx.store, key, what=route.what, download=download)

    return endpoint


for download_route in FILES:
    router.add_api_route(
        download_route.path,
        serve(download_route),
        name=download_route.name,
        summary=download_route.summary,
        response_class=Response,
        responses=file_responses(*download_route.media_types),
    )
