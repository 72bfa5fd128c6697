"""Access control: API token and page login (when required), CSRF tokens and origin checks.

Auth is required in production, and whenever the app listens beyond loopback; the local
default (127.0.0.1, environment=local) is the only open configuration.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxflow.errors import ConfigError
from voxflow.importers import over_limit_message
from voxflow.settings import Settings

CSRF_COOKIE = "voxflow_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_required(settings: Settings) -> bool:
    return settings.environment == "production" or not is_loopback(settings.web_host)


def check_auth_settings(settings: Settings) -> None:
    """Refuse to start an app that would need credentials it was not given."""
    if not auth_required(settings):
        return
    missing = [
        name
        for name, value in (
            ("VOXFLOW_API_TOKEN", settings.api_token),
            ("VOXFLOW_WEB_PASSWORD", settings.web_password),
            ("VOXFLOW_WEB_SECRET_KEY", settings.web_secret_key),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        why = (
            "environment is production"
            if settings.environment == "production"
            else f"the app listens on {settings.web_host}, beyond loopback"
        )
        raise ConfigError(f"the web app needs {', '.join(missing)}: auth is on because {why}")


class LoginRequired(Exception):
    """A page asked for without a session: the handler redirects to /login."""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def bearer_ok(request: Request, settings: Settings) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = settings.api_token.get_secret_value() if settings.api_token else ""
    return bool(expected) and scheme.lower() == "bearer" and _same(token.strip(), expected)


def session_user(request: Request) -> str | None:
    return request.session.get("user") if "session" in request.scope else None


def login_refusal(settings: Settings, username: str, password: str) -> str | None:
    """Why a login fails, for the audit log ('unknown user' or 'bad password'); None if it is good.

    Both comparisons always run, so timing does not tell which one failed.
    """
    expected = settings.web_password.get_secret_value() if settings.web_password else ""
    user_ok = _same(username, settings.web_username)
    password_ok = bool(expected) and _same(password, expected)
    if not user_ok:
        return "unknown user"
    return None if password_ok else "bad password"


def check_login(settings: Settings, username: str, password: str) -> bool:
    return login_refusal(settings, username, password) is None


def client_address(request: Request) -> str:
    """The peer as uvicorn reports it: from `X-Forwarded-For` only for proxies it trusts."""
    return request.client.host if request.client else "unknown"


def check_origin(request: Request, settings: Settings) -> None:
    """Browsers send Origin on cross-site POSTs: refuse any that is not this site."""
    origin = request.headers.get("origin")
    if request.method in SAFE_METHODS or not origin:
        return
    host = request.headers.get("host", "")
    allowed = {o.rstrip("/") for o in settings.web_trusted_origins}
    if urlsplit(origin).netloc == host or origin.rstrip("/") in allowed:
        return
    raise HTTPException(403, f"cross-site request refused (Origin {origin} is not {host})")


def check_csrf_token(request: Request, submitted: str | None) -> None:
    expected = request.scope.get("state", {}).get("csrf_token", "")
    if not submitted or not expected or not _same(submitted, expected):
        raise HTTPException(
            403, "the form's security token is missing or stale; reload the page and try again"
        )


def api_auth(request: Request, settings: Settings) -> str | None:
    """Who calls the API: 'token', 'session' or None (open). Raises 401 when auth is needed."""
    check_origin(request, settings)
    if bearer_ok(request, settings):
        return "token"
    if not auth_required(settings):
        return None
    if session_user(request):
        if request.method not in SAFE_METHODS:
            check_csrf_token(request, request.headers.get(CSRF_HEADER))
        return "session"
    raise HTTPException(
        401,
        "authentication required: send 'Authorization: Bearer <VOXFLOW_API_TOKEN>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def page_auth(request: Request, settings: Settings) -> None:
    check_origin(request, settings)
    if auth_required(settings) and not session_user(request):
        raise LoginRequired()


class CSRFCookieMiddleware:
    """Double-submit cookie: every visitor gets a random token that forms must echo back."""

    def __init__(self, app: ASGIApp, *, secure: bool = False) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is treated as no cookie
                    cookie = SimpleCookie()
        token = cookie[CSRF_COOKIE].value if CSRF_COOKIE in cookie else ""
        fresh = len(token) < 32 or not token.isascii()
        if fresh:
            token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                attrs = "Path=/; SameSite=Strict; HttpOnly" + ("; Secure" if self.secure else "")
                header = f"{CSRF_COOKIE}={token}; {attrs}".encode("latin-1")
                message.setdefault("headers", []).append((b"set-cookie", header))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class BodyLimitMiddleware:
    """Refuse request bodies over the upload limit (plus form overhead) with a clear 413.

    An announced Content-Length is answered at once; a chunked body is counted as it is read,
    and the HTTPException raised mid-read reaches the app's handler (FastAPI re-raises it).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, upload_limit: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.message = over_limit_message(upload_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from fastapi.responses import JSONResponse

        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = JSONResponse({"detail": self.message}, status_code=413)
                await response(scope, receive, send)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self.message)
            return message

        await self.app(scope, counting_receive, send)
