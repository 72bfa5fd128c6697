"""One shared Temporal client for the web app, and an honest answer to "is Temporal up?".

The app must keep serving database state while Temporal is down, so a failed connect is
remembered for a few seconds instead of being retried (and waited on) by every request.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.client import Client

from voxflow.conversion import connect
from voxflow.errors import ServiceUnavailable
from voxflow.settings import Settings

CONNECT_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 1.0


class TemporalGateway:
    """Lazily connects; `available()` is cached for `cache_s` so pages stay fast."""

    def __init__(self, settings: Settings, *, cache_s: float = 3.0) -> None:
        self.settings = settings
        self.cache_s = cache_s
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._checked_at = float("-inf")
        self._error: str | None = None

    def unavailable_message(self) -> str:
        return (
            f"Temporal is unavailable at {self.settings.temporal_address}: showing the state "
            "saved in the database; starting, cancelling and replaying need Temporal."
        )

    async def client(self) -> Client:
        """The connected client, or ServiceUnavailable (remembered for `cache_s` seconds)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is not None:
                return self._client
            if self._error and time.monotonic() - self._checked_at < self.cache_s:
                raise ServiceUnavailable(self._error)
            try:
                self._client = await asyncio.wait_for(
                    connect(self.settings), timeout=CONNECT_TIMEOUT_S
                )
            except (ServiceUnavailable, TimeoutError) as error:
                self._error = self.unavailable_message()
                self._checked_at = time.monotonic()
                raise ServiceUnavailable(self._error) from error
            self._error = None
            self._checked_at = time.monotonic()
            return self._client

    async def available(self) -> tuple[bool, str | None]:
        """(up, message): a health check at most every `cache_s` seconds."""
        if time.monotonic() - self._checked_at < self.cache_s:
            return self._error is None, self._error
        try:
            client = await self.client()
            await client.service_client.check_health(timeout=timedelta(seconds=HEALTH_TIMEOUT_S))
        except Exception:  # any failure means "not usable now"; the message says what to do
            self._error = self.unavailable_message()
        else:
            self._error = None
        self._checked_at = time.monotonic()
        return self._error is None, self._error

    def mark_down(self) -> ServiceUnavailable:
        """Record an RPC failure seen by a request, so the next pages say Temporal is down."""
        self._error = self.unavailable_message()
        self._checked_at = time.monotonic()
        return ServiceUnavailable(self._error)
