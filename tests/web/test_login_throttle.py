"""Login throttling: lockouts per user name and per client address, and the audit log lines."""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.web.conftest import dead_temporal
from voxflow.settings import Settings
from web import create_app
from web.throttle import LoginThrottle, in_words, printable

USER = "maren"
PASSWORD = "gull-point"
WRONG = "wrong-horse-battery"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path, sqlite_url, clock):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        temporal_address=dead_temporal(),
        environment="production",
        api_token="t0ken-" + "x" * 30,
        web_username=USER,
        web_password=PASSWORD,
        web_secret_key="s" * 40,
    )  # the throttle's own settings at their defaults: 5 failures in 15 min, 15 min lockout
    app = create_app(settings)
    app.state.login_throttle.clock = clock
    return app


class Browser:
    """One client address with its own cookies and CSRF token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""

    async def login(self, username: str = USER, password: str = WRONG) -> httpx.Response:
        if not self.token:
            page = await self.client.get("/login")
            self.token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        data = {"csrf_token": self.token, "username": username, "password": password}
        return await self.client.post("/login", data=data)

    async def signed_in(self) -> bool:
        return (await self.client.get("/")).status_code == 200


@pytest.fixture
def browser(app):
    @asynccontextmanager
    async def open_browser(address: str = "203.0.113.7"):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="https://voxflow.test") as c:
            yield Browser(c)

    return open_browser


def assert_locked(response: httpx.Response, seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == str(seconds)
    assert "too many failed sign-ins" in response.text.lower() and "try again in" in response.text


async def test_25_wrong_passwords_lock_out_even_the_right_one(browser, clock):
    async with browser() as b:
        answers = [await b.login() for _ in range(25)]
        assert [r.status_code for r in answers[:4]] == [401] * 4
        assert all(r.status_code == 429 for r in answers[4:])
        assert answers[4].headers["retry-after"] == "900"
        assert "try again in 15 minutes" in answers[4].text

        clock.now += 60
        right = await b.login(password=PASSWORD)
        assert_locked(right, 840)
        assert "try again in 14 minutes" in right.text
        assert not await b.signed_in(), "the right password is refused during the lockout"

        clock.now += 839
        assert_locked(await b.login(password=PASSWORD), 1)
        assert "try again in 1 second." in (await b.login(password=PASSWORD)).text

        clock.now += 1  # the lockout is over
        ok = await b.login(password=PASSWORD)
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        assert await b.signed_in()


async def test_repeated_lockouts_double_up_to_the_cap_and_a_success_resets(browser, clock):
    async with browser() as b:
        for expected in (900, 1800, 3600, 3600):
            answers = [(await b.login()).status_code for _ in range(5)]
            assert answers == [401, 401, 401, 401, 429]
            assert_locked(await b.login(password=PASSWORD), expected)
            clock.now += expected
        assert (await b.login(password=PASSWORD)).status_code == 303

        # After a success the count starts again from zero, and the lockout from 15 minutes.
        assert [(await b.login()).status_code for _ in range(4)] == [401] * 4
        assert (await b.login(password=PASSWORD)).status_code == 303
        assert [(await b.login()).status_code for _ in range(4)] == [401] * 4
        assert_locked(await b.login(), 900)


async def test_failures_older_than_the_window_no_longer_count(browser, clock):
    async with browser() as b:
        for _ in range(4):
            assert (await b.login()).status_code == 401
            clock.now += 300  # 4 failures over 20 minutes: never 5 within 15
        assert (await b.login()).status_code == 401
        assert (await b.login(password=PASSWORD)).status_code == 303


async def test_someone_elses_failures_do_not_lock_out_another_user_or_address(browser):
    async with browser("198.51.100.1") as attacker, browser("192.0.2.50") as owner:
        for _ in range(5):
            await attacker.login(username="root")
        assert_locked(await attacker.login(username=USER, password=PASSWORD), 900)
        # Another address, another user name: not touched by the attacker's failures.
        assert (await owner.login(username=USER, password=PASSWORD)).status_code == 303
        assert await owner.signed_in()


async def test_one_address_trying_many_user_names_is_locked_out(browser):
    async with browser("198.51.100.1") as attacker, browser("192.0.2.50") as owner:
        answers = [(await attacker.login(username=f"user{i}")).status_code for i in range(5)]
        assert answers == [401, 401, 401, 401, 429]
        assert_locked(await attacker.login(username="user99"), 900)
        assert_locked(await attacker.login(username=USER, password=PASSWORD), 900)
        assert (await owner.login(username=USER, password=PASSWORD)).status_code == 303


async def test_one_user_name_sprayed_from_many_addresses_is_locked_out(browser):
    for i in range(5):
        async with browser(f"198.51.100.{i + 1}") as attacker:
            answer = await attacker.login(username=USER)
            assert answer.status_code == (429 if i == 4 else 401)
    async with browser("192.0.2.50") as fresh:
        # The user name is locked, whoever asks; a different user name is only checked.
        assert_locked(await fresh.login(username=USER, password=PASSWORD), 900)
        assert (await fresh.login(username="someone-else")).status_code == 401


async def test_audit_lines_for_failures_and_lockouts_never_hold_the_password(browser, caplog):
    caplog.set_level(logging.INFO, logger="voxflow.web.auth")
    async with browser("198.51.100.9") as b:
        await b.login(username="ghost\n\x1b[31mfake line", password="hunter2-unknown")
        await b.login(username="x" * 150, password="hunter2-long")
        for _ in range(3):
            await b.login(username=USER, password="hunter2-bad")
        await b.login(username=USER, password=PASSWORD)  # refused unchecked: the client is locked

    lines = [r.getMessage() for r in caplog.records if r.name == "voxflow.web.auth"]
    failed = [line for line in lines if line.startswith("login failed")]
    lockouts = [line for line in lines if line.startswith("login lockout started")]
    assert len(failed) == 6
    assert failed[0] == (
        "login failed: reason=unknown user user='ghost??[31mfake line' client=198.51.100.9"
    )
    assert "user='" + "x" * 64 + "…'" in failed[1]
    assert all("reason=bad password" in line for line in failed[2:5])
    assert "reason=throttled user='maren' client=198.51.100.9" in failed[5]
    # The client address reached 5 failures (the user name only 3): one lockout line.
    assert len(lockouts) == 1 and "client='198.51.100.9' for 900 s" in lockouts[0]
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert not any("hunter2" in line or PASSWORD in line for line in lines)
    levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records}
    assert levels["login lockout started"] == logging.WARNING


def test_counters_are_bounded_and_stale_keys_are_forgotten():
    clock = Clock()
    throttle = LoginThrottle(
        max_failures=2, window_s=10, lockout_s=10, lockout_max_s=10, clock=clock, max_entries=4
    )
    for i in range(10):
        throttle.failed(f"user{i}", f"10.0.0.{i}")
    assert len(throttle._keys) == 4
    assert throttle.retry_after("user0", "10.0.0.0") == 0
    throttle.failed("user9", "elsewhere")
    assert throttle.retry_after("user9", "anywhere") == 10
    clock.now += 20
    throttle.failed("new", "10.9.9.9")
    assert set(throttle._keys) == {("user", "new"), ("client", "10.9.9.9")}


def test_plain_words():
    assert in_words(0.2) == "in 1 second"
    assert in_words(45) == "in 45 seconds"
    assert in_words(61) == "in 2 minutes"
    assert in_words(900) == "in 15 minutes"
    assert in_words(3600) == "in 1 hour"
    assert in_words(5400) == "in 1 hour 30 minutes"
    assert printable("a\tb\u2028c\x00") == "a?b?c?"
