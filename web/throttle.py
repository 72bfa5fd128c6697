"""Login throttling and the audit log of failed logins.

What is counted: failed page logins (wrong password or unknown user name), under two keys at
once: the user name as typed, and the client address. After `web_login_max_failures` failures on
one key within `web_login_window_s`, that key is locked for `web_login_lockout_s`; each further
lockout of the same key without a successful login in between doubles, up to
`web_login_lockout_max_s`. While either key of an attempt is locked the attempt is refused (429,
`Retry-After`) before the password is looked at, so the right password is refused too. A
successful login clears both of its keys. Counting both keys covers one address trying many user
names and many addresses spraying one user name (the app has one account, so a lockout of that
name locks out its real owner too: the price of stopping the spray, kept short by the cap).

The client address is the ASGI peer (`request.client`), which uvicorn rewrites from
`X-Forwarded-For` only for proxies it trusts (`FORWARDED_ALLOW_IPS`, loopback by default, with
`--proxy-headers` in production); this module never reads forwarding headers itself. Behind a load
balancer that uvicorn does not trust, every client has the balancer's address, and the per-client
key then counts everyone's failures together.

The counters live in this process, in a bounded LRU map (`MAX_ENTRIES` keys; the least recently
failed are forgotten first). With several web replicas the counters are per replica: a client
whose requests are spread over N replicas gets up to N x `web_login_max_failures` failures per
window, and a lockout holds only on the replica that started it. Shared counters would need a
store all replicas see (a table in the app's PostgreSQL, behind the same three calls:
`retry_after`, `failed`, `succeeded`).

Audit lines go to the `voxflow.web.auth` logger: one per failed or refused login (user name
reduced to printable characters and truncated, client address, reason) and one when a lockout
starts. The password is never logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from voxflow.settings import Settings

log = logging.getLogger("voxflow.web.auth")

MAX_ENTRIES = 10_000
MAX_LOGGED_CHARS = 64

THROTTLED = "throttled"  # the other reasons come from web.security.login_refusal


def printable(text: str | None, limit: int = MAX_LOGGED_CHARS) -> str:
    """`text` safe for one log line: control and other unprintable characters become '?'."""
    text = text or ""
    cut = text[:limit]
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in cut)
    return cleaned + ("…" if len(text) > limit else "")


def log_failed_login(reason: str, username: str, client: str) -> None:
    """The audit line for a login that did not succeed (never with the password)."""
    level = logging.INFO if reason == THROTTLED else logging.WARNING
    log.log(
        level,
        "login failed: reason=%s user=%r client=%s",
        reason,
        printable(username),
        printable(client),
    )


def in_words(seconds: float) -> str:
    """A wait in plain words, rounded up: 'in 45 seconds', 'in 15 minutes', 'in 1 hour'."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    words = f"in {hours} hour{'s' if hours != 1 else ''}"
    return words + (f" {minutes} minute{'s' if minutes != 1 else ''}" if minutes else "")


@dataclass
class _Key:
    failures: list[float] = field(default_factory=list)  # times of recent failures, oldest first
    locked_until: float = 0.0
    lockouts: int = 0  # lockouts since the last success: the next one lasts 2**lockouts longer
    last_failure: float = 0.0


class LoginThrottle:
    """Failed-login counters per user name and per client address, in this process only."""

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        lockout_max_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.lockout_max_s = max(lockout_max_s, lockout_s)
        self.clock = clock
        self.max_entries = max_entries
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            max_failures=settings.web_login_max_failures,
            window_s=settings.web_login_window_s,
            lockout_s=settings.web_login_lockout_s,
            lockout_max_s=settings.web_login_lockout_max_s,
        )

    @staticmethod
    def _keys_for(username: str, client: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username), ("client", client)

    def _forget_stale(self, now: float) -> None:
        """Drop keys that neither lock nor count any more (the map is kept in failure order)."""
        while self._keys:
            key, state = next(iter(self._keys.items()))
            if now < max(state.locked_until, state.last_failure) + self.window_s:
                break
            del self._keys[key]

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until this user name and client may try again; 0 when neither is locked."""
        now = self.clock()
        with self._lock:
            waits = [
                state.locked_until - now
                for key in self._keys_for(username, client)
                if (state := self._keys.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, client: str) -> float:
        """Count a failed login; the lockout it starts in seconds (0 when none starts)."""
        now = self.clock()
        started = 0.0
        with self._lock:
            self._forget_stale(now)
            for key in self._keys_for(username, client):
                state = self._keys.pop(key, None) or _Key()
                self._keys[key] = state  # most recently failed last
                state.last_failure = now
                state.failures = [t for t in state.failures if t > now - self.window_s] + [now]
                if len(state.failures) >= self.max_failures and now >= state.locked_until:
                    lockout = min(self.lockout_s * 2**state.lockouts, self.lockout_max_s)
                    state.locked_until = now + lockout
                    state.lockouts += 1
                    state.failures = []
                    started = max(started, lockout)
                    log.warning(
                        "login lockout started: %s=%r for %d s after %d failed logins "
                        "within %d s (lockout %d since the last success)",
                        key[0],
                        printable(key[1]),
                        math.ceil(lockout),
                        self.max_failures,
                        math.ceil(self.window_s),
                        state.lockouts,
                    )
            while len(self._keys) > self.max_entries:
                self._keys.popitem(last=False)
        return started

    def succeeded(self, username: str, client: str) -> None:
        """A successful login clears the counters of its user name and client."""
        with self._lock:
            for key in self._keys_for(username, client):
                self._keys.pop(key, None)
