"""Every name Voxflow gives out: workflow and job ids, and the storage key of each artifact.

One module so the CLI, web app, workflows, activities and tests agree on them.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import PurePosixPath
from typing import Any

_WHITESPACE = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def normalise_text(text: str) -> str:
    """NFC with whitespace collapsed: texts a listener cannot tell apart share one key."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def segment_audio_hash(
    model: str, version: str, params: dict[str, Any], text: str, take: int = 0
) -> str:
    """SHA-256 over canonical JSON of everything that changes the audio; params order-free.

    `take` > 0 asks for another rendering of the same text (Piper is stochastic): a new key."""
    payload: dict[str, Any] = {
        "model": model,
        "version": version,
        "params": params,
        "text": normalise_text(text),
    }
    if take:
        payload["take"] = take
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def segment_audio_key(
    model: str, version: str, params: dict[str, Any], text: str, take: int = 0
) -> str:
    """`segments/{h[:2]}/{h}.wav`: the same sentence in the same voice is synthesised once."""
    digest = segment_audio_hash(model, version, params, text, take)
    return f"segments/{digest[:2]}/{digest}.wav"


def segment_words_key(audio_key: str) -> str:
    """The segment's word times (JSON `[[word, start_s, end_s], ...]`) beside its audio."""
    return str(PurePosixPath(audio_key).with_suffix(".words.json"))


def slugify(title: str, max_length: int = 60, fallback: str = "untitled") -> str:
    """ASCII, lower-case, dash-separated; `fallback` when nothing is left."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")
    return slug[:max_length].rstrip("-") or fallback


def chapter_basename(index: int, title: str) -> str:
    """`NN-slug` (two digits at least), the stem of a chapter's audio, subtitles and parts."""
    return f"{index:02d}-{slugify(title, fallback='chapter')}"


def chapter_file_key(project_id: int, index: int, title: str, ext: str) -> str:
    """`projects/{id}/chapters/NN-slug.ext` for a chapter's audio, subtitles or timings."""
    return chapter_key(project_id, f"{chapter_basename(index, title)}.{ext.lstrip('.')}")


def chapter_key(project_id: int, filename: str) -> str:
    """`projects/{id}/chapters/{filename}`: where assembly stores the files it wrote."""
    return f"projects/{project_id}/chapters/{filename}"


def chapter_part_key(audio_key: str) -> str:
    """The chapter as AAC, the M4B's building block, beside its audio."""
    return str(PurePosixPath(audio_key).with_suffix(".m4a"))


def chapter_entry_key(audio_key: str) -> str:
    """The chapter's manifest entry (levels, ACX report, segment times) beside its audio."""
    return str(PurePosixPath(audio_key).with_suffix(".json"))


def chapter_marker_key(audio_key: str) -> str:
    """What the chapter's stored files were made from, beside its audio (assembly resumes)."""
    return str(PurePosixPath(audio_key).with_suffix(".inputs.json"))


def book_key(project_id: int, slug: str, ext: str = "m4b") -> str:
    """`projects/{id}/{slug}.m4b`: the whole book with chapter markers."""
    return f"projects/{project_id}/{slugify(slug)}.{ext.lstrip('.')}"


def acx_report_key(project_id: int) -> str:
    """`projects/{id}/acx-report.html`: the chapters' ACX figures as a readable page."""
    return f"projects/{project_id}/acx-report.html"


def qa_report_key(project_id: int, ext: str = "html") -> str:
    """`projects/{id}/qa-report.{html,json}`: speech QA's flagged segments and WER spread."""
    return f"projects/{project_id}/qa-report.{ext}"


def source_key(project_id: int, filename: str) -> str:
    """`projects/{id}/source/{name}`: the uploaded document, kept so imports can be retried."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    safe = f"{slugify(stem)}.{slugify(ext, 10)}" if dot else slugify(name)
    return f"projects/{project_id}/source/{safe}"


def cover_key(project_id: int, ext: str) -> str:
    """`projects/{id}/cover.{ext}`: the cover (JPEG or PNG) the M4B and chapter files carry."""
    return f"projects/{project_id}/cover.{ext.lstrip('.')}"


def manifest_key(project_id: int) -> str:
    """`projects/{id}/manifest.json`: the book's chapters, levels and ACX report."""
    return f"projects/{project_id}/manifest.json"


def preview_key(project_id: int) -> str:
    """`projects/{id}/preview.json`: the parse result shown before a conversion starts."""
    return f"projects/{project_id}/preview.json"


PROJECT_WORKFLOW = "ProjectWorkflow"
"""The project workflow's type name: the kernel starts it by name, without importing workflows."""


def project_workflow_id(project_id: int) -> str:
    """`project-{id}`: one running conversion per project, found again by its id."""
    return f"project-{project_id}"


def chapter_workflow_id(project_id: int, index: int) -> str:
    """`project-{id}/chapter-{n}`: the child that narrates chapter n."""
    return f"{project_workflow_id(project_id)}/chapter-{index}"


def job_id(workflow_id: str, job_index: int) -> str:
    """`{chapter workflow id}/job-{n}`: a queue job, unique across retries of the activity."""
    return f"{workflow_id}/job-{job_index}"
