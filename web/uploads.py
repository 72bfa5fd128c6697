"""A new project's document from a form: an uploaded file or pasted text, and its voice.

The API and the pages read the form the same way, so both refuse the same inputs alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from voxflow.errors import InputError
from voxflow.naming import slugify
from web import service
from web.deps import AppContext


@dataclass
class Upload:
    """What a form gave: the document's bytes under a safe file name, and a known voice."""

    data: bytes
    filename: str
    voice: str
    include_front_matter: bool = False
    acx_credits: bool = False
    qa_retakes: int | None = None  # speech QA with that many automatic retakes; None: off


@dataclass
class DocumentForm:
    """The form's fields as sent; `read` checks them (size and type are the service's job)."""

    file: UploadFile | None
    text: str | None
    text_format: str
    title: str | None
    voice: str | None
    include_front_matter: bool = False
    acx_credits: bool = False
    speech_qa: bool = False
    qa_retakes: int = 0

    async def read(self, ctx: AppContext) -> Upload:
        """The uploaded file or the pasted text (exactly one), then the voice; else InputError."""
        data, filename = await self._document()
        name = self.voice or ctx.settings.default_voice
        voice = ctx.registry.get(name).name  # ConfigError names the voices
        retakes = self.qa_retakes if self.speech_qa else None
        return Upload(data, filename, voice, self.include_front_matter, self.acx_credits, retakes)

    async def _document(self) -> tuple[bytes, str]:
        has_file = self.file is not None and bool(self.file.filename)
        if has_file and self.text:
            raise InputError("send a file or pasted text, not both")
        if has_file:
            return await self.file.read(), service.safe_filename(self.file.filename)
        if self.text and self.text.strip():
            extension = "md" if self.text_format == "markdown" else "txt"
            name = slugify(self.title or "pasted text", 60)
            return self.text.encode("utf-8", "replace"), f"{name}.{extension}"
        raise InputError("choose a file to upload or paste some text")


async def create_pending(
    ctx: AppContext, upload: Upload, output_format: str | None
) -> tuple[int, dict]:
    """The service's create_pending in a thread; no output format means the configured one."""
    return await run_in_threadpool(
        service.create_pending,
        ctx.settings,
        ctx.engine,
        ctx.store,
        upload.data,
        upload.filename,
        voice=upload.voice,
        output_format=output_format or ctx.settings.output_format,
        include_front_matter=upload.include_front_matter,
        acx_credits=upload.acx_credits,
        qa_retakes=upload.qa_retakes,
    )
