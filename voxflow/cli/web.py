"""`voxflow web`: serve the web app (pages and JSON API) with uvicorn; no worker runs in it."""

from __future__ import annotations

import typer

from voxflow.cli.app import app
from voxflow.settings import get_settings


@app.command()
def web(
    host: str = typer.Option(None, "--host", help="Address to bind (default VOXFLOW_WEB_HOST)."),
    port: int = typer.Option(None, "--port", help="Port (default VOXFLOW_WEB_PORT)."),
) -> None:
    """Serve the web app; auth is on in production or when bound beyond 127.0.0.1."""
    import uvicorn
    from rich.console import Console

    from web import create_app
    from web.security import auth_required

    updates = {k: v for k, v in (("web_host", host), ("web_port", port)) if v is not None}
    settings = get_settings().model_copy(update=updates)
    application = create_app(settings)  # ConfigError (missing credentials) before binding
    auth = "on" if auth_required(settings) else "off (local, loopback only)"
    Console().print(
        f"Voxflow web on http://{settings.web_host}:{settings.web_port}  auth {auth}  "
        f"Temporal {settings.temporal_address}",
        highlight=False,
    )
    uvicorn.run(
        application,
        host=settings.web_host,
        port=settings.web_port,
        proxy_headers=settings.environment == "production",
        log_level="info",
    )
