"""Speech QA: the book's report (flagged segments, WER spread) as JSON, or as the HTML page."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from voxflow.db import repository, session_scope
from voxflow.naming import qa_report_key
from web.deps import Ctx, ProjectId
from web.downloads import artifact_response
from web.routes.common import api_router
from web.routes.files import file_responses
from web.schemas import QaReport

router = api_router()
# The report is escaped by voxflow.qa.report; served inline it still may not run anything.
SANDBOX = "sandbox; default-src 'none'; style-src 'unsafe-inline'"


def report_key(ctx: Ctx, project_id: int, ext: str) -> str:
    """The stored report's key, or a 404 that says how to get one."""
    with session_scope(ctx.engine) as session:
        project = repository.get_project(session, project_id)
        speech_qa = project.speech_qa
    key = qa_report_key(project_id, ext)
    if not ctx.store.exists(key):
        how = (
            "it is written when the book is rendered"
            if speech_qa
            else 'turn speech QA on (rerender with {"speech_qa": true})'
        )
        raise repository.NotFound(f"project {project_id} has no speech-QA report yet: {how}")
    return key


@router.get(
    "/projects/{project_id}/qa-report",
    response_model=QaReport,
    summary="The book's speech-QA report: flagged segments per chapter and the WER spread",
)
def qa_report(ctx: Ctx, project_id: ProjectId) -> QaReport:
    key = report_key(ctx, project_id, "json")
    return QaReport.model_validate(json.loads(ctx.store.get(key)))


@router.get(
    "/projects/{project_id}/qa-report.html",
    summary="The book's speech-QA report as a page to read or download",
    response_class=Response,
    responses=file_responses("text/html"),
)
def qa_report_html(
    ctx: Ctx,
    project_id: ProjectId,
    download: Annotated[bool, Query(description="As an attachment rather than inline")] = False,
) -> Response:
    key = report_key(ctx, project_id, "html")
    response = artifact_response(ctx.store, key, what="QA report", download=download)
    response.headers["Content-Security-Policy"] = SANDBOX
    return response
