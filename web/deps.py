"""The app's long-lived parts (settings, engine, store, Temporal gateway) and request helpers.

The path parameters are declared here once, so the API and the pages accept the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Path, Request
from pydantic import Field
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from voxflow.artifacts import ArtifactStore
from voxflow.db import session_scope
from voxflow.qa.choice import MAX_RETAKES
from voxflow.registry import Registry
from voxflow.settings import Settings
from web import queries
from web.schemas import TemporalStatus
from web.security import api_auth, page_auth
from web.temporal import TemporalGateway

MAX_ID = 2_147_483_647  # PostgreSQL integer columns
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="Project id")]
ChapterIndex = Annotated[int, Path(ge=1, le=1_000_000, description="Chapter number (from 1)")]
SegmentIndex = Annotated[int, Path(ge=0, le=MAX_ID, description="Segment number (from 0)")]
OutputFormat = Literal["mp3", "wav", "ogg"]
QaRetakes = Annotated[int, Field(ge=0, le=MAX_RETAKES)]
TextFormat = Literal["markdown", "text"]


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    store: ArtifactStore
    registry: Registry
    gateway: TemporalGateway
    templates: Jinja2Templates


def context(request: Request) -> AppContext:
    return request.app.state.voxflow


Ctx = Annotated[AppContext, Depends(context)]


def require_api(request: Request, ctx: Ctx) -> str | None:
    return api_auth(request, ctx.settings)


def require_page(request: Request, ctx: Ctx) -> None:
    page_auth(request, ctx.settings)


async def temporal_status(ctx: AppContext) -> TemporalStatus:
    """Whether Temporal answers now; every page and project answer shows it."""
    available, message = await ctx.gateway.available()
    return TemporalStatus(available=available, message=message)


async def project_view(ctx: AppContext, project_id: int) -> queries.ProjectView:
    """A project with its chapters, read in a thread so the event loop stays free."""

    def load() -> queries.ProjectView:
        with session_scope(ctx.engine) as session:
            return queries.project_view(session, project_id)

    return await run_in_threadpool(load)
