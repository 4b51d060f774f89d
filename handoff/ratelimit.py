"""Failed-login throttling: a sliding window per username and per client address.

In memory, per app process: enough for one machine; with several replicas each one counts
its own failures (a shared table would make the limit global).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from handoff.errors import RateLimited


class LoginLimiter:
    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        per_address_factor: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._address_max = max_failures * per_address_factor
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def check(self, username: str, address: str) -> None:
        """Raise :class:`RateLimited` while either key has too many recent failures."""
        now = self._clock()
        waits = [
            self._blocked_for(key, limit, now)
            for key, limit in self._keys(username, address)
        ]
        retry_after = max(waits)
        if retry_after > 0:
            raise RateLimited(
                "too many failed logins; try again later", retry_after=round(retry_after, 1)
            )

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        for key, _limit in self._keys(username, address):
            self._failures.setdefault(key, deque()).append(now)
        self._forget_old(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(self._user_key(username), None)

    def _keys(self, username: str, address: str) -> list[tuple[str, int]]:
        return [(self._user_key(username), self._max), (f"addr:{address}", self._address_max)]

    @staticmethod
    def _user_key(username: str) -> str:
        return f"user:{username.strip().lower()}"

    def _blocked_for(self, key: str, limit: int, now: float) -> float:
        stamps = self._failures.get(key)
        if not stamps:
            return 0.0
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if len(stamps) < limit:
            return 0.0
        return stamps[-limit] + self._window - now

    def _forget_old(self, now: float) -> None:
        if len(self._failures) < 10_000:
            return
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self._window]:
            del self._failures[key]
