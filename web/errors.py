"""Every failure becomes a 4xx/503 with one clear line: JSON for the API, a page for people."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.templating import Jinja2Templates

from voxflow.artifacts import ArtifactNotFound, InvalidKey
from voxflow.db.repository import NotFound
from voxflow.errors import ConfigError, InputError, ServiceUnavailable, VoxflowError
from voxflow.importers import over_limit_message
from web.security import LoginRequired

log = logging.getLogger("voxflow.web")


class Conflict(VoxflowError):
    """The request is valid but the project's state does not allow it (409)."""


class TooLarge(InputError):
    """An upload over VOXFLOW_MAX_UPLOAD_BYTES (413)."""


class UnsupportedType(InputError):
    """An upload whose type (by name or content) is not a document we import (415)."""


def status_for(error: VoxflowError) -> int:
    for kind, status in (
        (NotFound, 404),
        (ArtifactNotFound, 404),
        (Conflict, 409),
        (TooLarge, 413),
        (UnsupportedType, 415),
        (ServiceUnavailable, 503),
        (InvalidKey, 400),
        (InputError, 400),
        (ConfigError, 400),
    ):
        if isinstance(error, kind):
            return status
    return 400


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.url.path not in {
        "/openapi.json",
        "/docs",
    }


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in {"body", "query", "path"})
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI, templates: Jinja2Templates, max_upload_bytes: int) -> None:
    def respond(request: Request, status: int, message: str, headers=None) -> Response:
        if _wants_html(request):
            return templates.TemplateResponse(
                request,
                "error.html",
                {"status": status, "message": message},
                status_code=status,
                headers=headers,
            )
        return JSONResponse({"detail": message}, status_code=status, headers=headers)

    @app.exception_handler(VoxflowError)
    async def voxflow_error(request: Request, error: VoxflowError) -> Response:
        return respond(request, status_for(error), str(error))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        message = _validation_message(error)
        if _wants_html(request):
            return respond(request, 422, message)
        return JSONResponse({"detail": message, "errors": _plain(error.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 413:
            message = over_limit_message(max_upload_bytes)
        return respond(request, error.status_code, message, getattr(error, "headers", None))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _error: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(request, 500, "internal error; the server log has the details")


def _plain(errors: list[dict]) -> list[dict]:
    """Validation errors with only JSON-safe fields (inputs may be bytes or exceptions)."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in errors
    ]


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
