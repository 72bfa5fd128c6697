"""The book's QA report beside its other files: flagged segments, WER spread and ACX per chapter."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlmodel import Session

from voxflow import naming
from voxflow.artifacts import ArtifactStore
from voxflow.db.models import Chapter
from voxflow.qa.report import ChapterScores, book_report, render_html
from voxflow.qa.store import project_scores


def _acx_verdicts(manifest: Mapping) -> dict[int, dict]:
    return {
        c["index"]: {
            "passed": c["loudness"]["acx_passed"],
            "problems": c["loudness"]["acx_problems"],
        }
        for c in manifest.get("chapters", [])
    }


def store_qa_report(
    session: Session,
    store: ArtifactStore,
    *,
    project_id: int,
    title: str,
    chapters: list[Chapter],
    manifest: Mapping,
    recognizer: str,
) -> dict:
    """Build the report from the stored checks and store it as HTML and JSON; the report."""
    scores = project_scores(session, [c.id for c in chapters])
    acx = _acx_verdicts(manifest)
    report = book_report(
        title,
        [ChapterScores(c.index, c.title, scores[c.id], acx.get(c.index)) for c in chapters],
        recognizer,
    )
    store.put(naming.qa_report_key(project_id, "html"), render_html(report).encode())
    data = json.dumps(report, indent=2, ensure_ascii=False).encode()
    store.put(naming.qa_report_key(project_id, "json"), data)
    return report
