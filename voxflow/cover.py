"""Cover images: JPEG or PNG only, known by their first bytes, as MP4 covers and ID3 APIC hold.

Whether a cover comes from the document (an EPUB's cover image) or from the user (`--cover`),
the same checks decide whether it can go into the audiobook's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from voxflow.errors import InputError

MAX_COVER_BYTES = 10 * 1024 * 1024  # a 3000 px JPEG is ~2 MB; more is not a cover
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True)
class Cover:
    """A usable cover: its bytes and their media type (a key of `EXTENSIONS`)."""

    data: bytes
    media_type: str

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.media_type]

    def write(self, folder: Path) -> Path:
        """The cover as `folder/cover.{ext}`, for ffmpeg to read as a second input."""
        path = Path(folder) / f"cover.{self.ext}"
        path.write_bytes(self.data)
        return path


def image_type(data: bytes) -> str | None:
    """`image/jpeg` or `image/png` by the file's magic bytes, else None."""
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)


def _size_problem(size: int) -> str | None:
    if size > MAX_COVER_BYTES:
        return f"it is {size / 2**20:.1f} MiB, over the {MAX_COVER_BYTES // 2**20} MiB limit"
    return None


def cover_problem(data: bytes) -> str | None:
    """Why these bytes cannot be a cover, or None when they can."""
    if image_type(data) is None:
        return "it is neither a JPEG nor a PNG image"
    return _size_problem(len(data))


def as_cover(data: bytes) -> Cover | None:
    """The bytes as a Cover when they pass `cover_problem`, else None."""
    return None if cover_problem(data) else Cover(data, image_type(data) or "")


def read_cover(path: Path) -> Cover:
    """A user's cover file, or an InputError that says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cover {path} does not exist or is not a file")
    problem = _size_problem(path.stat().st_size)
    data = b"" if problem else path.read_bytes()
    problem = problem or cover_problem(data)
    if problem:
        raise InputError(f"cover {path} cannot be used: {problem}; give a JPEG or PNG file")
    return Cover(data, image_type(data) or "")
