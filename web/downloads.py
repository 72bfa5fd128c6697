"""Artifact responses: streamed from the store, with HTTP Range (206, 416) for seeking.

Only keys read from database rows are served, never a key taken from the URL, and the store
validates every key again, so no request can reach a path outside the artifact store.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi.responses import FileResponse, Response, StreamingResponse

from voxflow.artifacts import ArtifactStore
from voxflow.db.repository import NotFound

MEDIA_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".m4b": "audio/mp4",
    ".m4a": "audio/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
_CHUNK = 256 * 1024


def artifact_response(
    store: ArtifactStore, key: str | None, *, what: str, download: bool = False
) -> Response:
    """The artifact under `key` (from a row), inline for players or as an attachment."""
    if not key:
        raise NotFound(f"the {what} is not available yet")
    name = PurePosixPath(key).name
    media_type = MEDIA_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")
    disposition = "attachment" if download else "inline"
    path = store.local_path(key)
    if path is not None:
        if not path.is_file():
            raise NotFound(f"the {what} is missing from the artifact store ({key})")
        return FileResponse(
            path,
            media_type=media_type,
            filename=name,
            content_disposition_type=disposition,
            headers={"Cache-Control": "private, max-age=60"},
        )
    if not store.exists(key):
        raise NotFound(f"the {what} is missing from the artifact store ({key})")

    def chunks():  # remote stores: a plain stream (no Range until they expose sizes)
        with store.open(key) as stream:
            while block := stream.read(_CHUNK):
                yield block

    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "Accept-Ranges": "none",
        },
    )
