"""The app factory: `create_app(settings)` wires the database, store, Temporal client and routes."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates

from voxflow.artifacts import open_store
from voxflow.db import make_engine, migrate
from voxflow.registry import load_registry
from voxflow.settings import Settings, get_settings
from web import errors, events, pages, routes
from web.deps import AppContext
from web.security import (
    BodyLimitMiddleware,
    CSRFCookieMiddleware,
    check_auth_settings,
)
from web.templating import configure
from web.temporal import TemporalGateway
from web.throttle import LoginThrottle

HERE = Path(__file__).parent
# Multipart framing and the other form fields on top of the file itself.
FORM_OVERHEAD_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    """A ready app; the database is migrated here so the first request finds its tables."""
    settings = settings or get_settings()
    check_auth_settings(settings)
    if run_migrations:
        migrate(settings.database_url)
    templates = configure(Jinja2Templates(directory=HERE / "templates"))
    ctx = AppContext(
        settings=settings,
        engine=make_engine(settings.database_url),
        store=open_store(settings),
        registry=load_registry(settings),
        gateway=TemporalGateway(settings),
        templates=templates,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        ctx.engine.dispose()

    app = FastAPI(
        title="Voxflow",
        summary="Turn whole documents into narrated audio.",
        description=(
            "Create projects from TXT, Markdown, EPUB or DOCX, start and steer their Temporal "
            "workflows, follow progress (also as server-sent events) and download the audio. "
            "When auth is on, send `Authorization: Bearer <VOXFLOW_API_TOKEN>`."
        ),
        version="1",
        lifespan=lifespan,
    )
    app.state.voxflow = ctx
    app.state.login_throttle = LoginThrottle.from_settings(settings)  # per process: web/throttle.py
    production = settings.environment == "production"
    secret = settings.web_secret_key.get_secret_value() if settings.web_secret_key else None
    app.add_middleware(CSRFCookieMiddleware, secure=production)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        upload_limit=settings.max_upload_bytes,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret or secrets.token_urlsafe(32),
        session_cookie="voxflow_session",
        same_site="lax",
        https_only=production,
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness for probes: no auth, no database or Temporal call (see /api/health)."""
        return {"status": "ok"}

    for router in routes.ROUTERS:
        app.include_router(router)
    app.include_router(events.router)
    app.include_router(pages.public)
    app.include_router(pages.router)
    errors.install(app, templates, settings.max_upload_bytes)
    return app
