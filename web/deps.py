"""The app's long-lived parts (settings, engine, store, Temporal gateway) and request helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from starlette.templating import Jinja2Templates

from voxflow.artifacts import ArtifactStore
from voxflow.registry import Registry
from voxflow.settings import Settings
from web.security import api_auth, page_auth
from web.temporal import TemporalGateway


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
