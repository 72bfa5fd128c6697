"""What every API router shares: the /api prefix, the auth check and the documented errors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from voxflow.conversion import temporal_ui_link
from web import service
from web.deps import AppContext, require_api
from web.schemas import ActionOut, ErrorOut, ValidationErrorOut

ERRORS = {
    400: {"model": ErrorOut, "description": "Bad input; `detail` says why"},
    401: {"model": ErrorOut, "description": "Missing or wrong API token (when auth is on)"},
    403: {"model": ErrorOut, "description": "Cross-site request, or a missing CSRF token"},
    404: {"model": ErrorOut, "description": "No such project, chapter, segment or artifact"},
    422: {"model": ValidationErrorOut, "description": "A parameter is out of range or malformed"},
}
# What start, cancel and replay have in common: accepted (202) with an ActionOut, or refused.
ACTION: dict[str, Any] = {
    "response_model": ActionOut,
    "status_code": 202,
    "responses": {
        409: {"model": ErrorOut, "description": "The project's state does not allow this"},
        503: {"model": ErrorOut, "description": "Temporal is unavailable"},
    },
}


def api_router() -> APIRouter:
    """A router under /api: the token (or session) is checked and the errors are documented."""
    return APIRouter(prefix="/api", dependencies=[Depends(require_api)], responses=ERRORS)


def action_out(ctx: AppContext, result: service.ActionResult) -> ActionOut:
    """A start, cancel or replay answer, with the workflow's Temporal UI link."""
    workflow_id = result.workflow_id
    return ActionOut(
        project_id=result.project_id,
        state=result.state,
        message=result.message,
        workflow_id=workflow_id,
        temporal_url=temporal_ui_link(ctx.settings, workflow_id) if workflow_id else None,
    )
