"""Access control: open only for the local default on loopback; token and login otherwise."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.conftest import dead_temporal
from tests.web.seeding import seed_project
from voxflow.errors import ConfigError
from voxflow.settings import Settings
from web import create_app
from web.security import auth_required

TOKEN = "t0ken-" + "x" * 30


def production(tmp_path, sqlite_url, **overrides) -> Settings:
    values = dict(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        temporal_address=dead_temporal(),
        environment="production",
        api_token=TOKEN,
        web_username="maren",
        web_password="gull-point",
        web_secret_key="s" * 40,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def prod_client(tmp_path, sqlite_url):
    settings = production(tmp_path, sqlite_url)
    seed_project(settings, {"One": 2})
    transport = httpx.ASGITransport(app=create_app(settings))
    # https: the session and CSRF cookies are Secure in production.
    async with httpx.AsyncClient(transport=transport, base_url="https://voxflow.test") as client:
        yield client


def test_auth_is_on_in_production_and_beyond_loopback(tmp_path):
    assert not auth_required(Settings(data_dir=tmp_path))
    assert auth_required(Settings(data_dir=tmp_path, environment="production"))
    assert auth_required(Settings(data_dir=tmp_path, web_host="0.0.0.0"))
    assert not auth_required(Settings(data_dir=tmp_path, web_host="::1"))


@pytest.mark.parametrize(
    "overrides",
    [{"api_token": None}, {"web_password": None}, {"web_secret_key": None}, {"api_token": ""}],
)
def test_missing_credentials_refuse_to_start(tmp_path, sqlite_url, overrides):
    with pytest.raises(ConfigError, match="auth is on because environment is production"):
        create_app(production(tmp_path, sqlite_url, **overrides))
    with pytest.raises(ConfigError, match="beyond loopback"):
        create_app(Settings(data_dir=tmp_path, database_url=sqlite_url, web_host="0.0.0.0"))


async def test_api_needs_the_token(prod_client):
    anonymous = await prod_client.get("/api/projects")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "VOXFLOW_API_TOKEN" in anonymous.json()["detail"]
    wrong = await prod_client.get("/api/projects", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    good = await prod_client.get("/api/projects", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200 and len(good.json()["items"]) == 1
    created = await prod_client.post(
        "/api/projects",
        data={"text": "Token users need no CSRF token."},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert created.status_code == 201
    assert (await prod_client.get("/api/projects/1/events")).status_code == 401
    assert (await prod_client.get("/api/projects/1/chapters/1/audio")).status_code == 401


async def test_pages_need_a_login(prod_client):
    redirect = await prod_client.get("/projects/1?x=1")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/login?next=/projects/1%3Fx%3D1"

    login_page = await prod_client.get("/login?next=/projects/1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text).group(1)
    wrong = await prod_client.post(
        "/login", data={"csrf_token": token, "username": "maren", "password": "nope"}
    )
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    no_csrf = await prod_client.post("/login", data={"username": "maren", "password": "gull-point"})
    assert no_csrf.status_code == 403

    ok = await prod_client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": "maren",
            "password": "gull-point",
            "next": "//evil.example/steal",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/", "no open redirect"
    page = await prod_client.get("/projects/1")
    assert page.status_code == 200 and "Sign out maren" in page.text

    # A signed-in browser may use the API too, but its unsafe requests need the CSRF token.
    assert (await prod_client.get("/api/projects")).status_code == 200
    refused = await prod_client.post("/api/projects", data={"text": "Hi."})
    assert refused.status_code == 403
    allowed = await prod_client.post(
        "/api/projects", data={"text": "Hi."}, headers={"X-CSRF-Token": token}
    )
    assert allowed.status_code == 201
    cross = await prod_client.post(
        "/projects/1/cancel",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403

    out = await prod_client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await prod_client.get("/projects/1")).status_code == 303


async def test_the_probe_endpoint_needs_no_credentials(prod_client):
    response = await prod_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert (await prod_client.get("/api/health")).status_code == 401
