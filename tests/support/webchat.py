"""A web chat client as the tests use it: it keeps each ``user_id``'s session token (from the
first answer) and sends it as ``X-Webchat-Token``, as the page does with its cookie."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

import httpx

from bot.storage import Database
from channels.web.api import TOKEN_HEADER
from channels.web.sessions import WebChatSessions


class WebChatTokens:
    """The session token of each user_id this client opened."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}

    def get(self, user_id: str) -> str | None:
        return self._tokens.get(user_id)

    def set(self, user_id: str, token: str) -> None:
        self._tokens[user_id] = token

    def headers(self, user_id: object) -> dict[str, str]:
        token = self._tokens.get(user_id) if isinstance(user_id, str) else None
        return {TOKEN_HEADER: token} if token else {}

    def remember(self, user_id: object, response: httpx.Response) -> None:
        """Keep the token a first answer hands out."""
        if response.status_code != 200 or not isinstance(user_id, str):
            return
        token = response.json().get("session_token")
        if token:
            self._tokens[user_id] = token


class WebChatClient:
    """``POST /api/webchat/messages`` and ``GET /api/webchat/updates`` with the session token."""

    def __init__(self, http: httpx.AsyncClient, tokens: WebChatTokens | None = None) -> None:
        self.http = http
        self.tokens = tokens or WebChatTokens()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.http.aclose()

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """Post ``body`` (a JSON value) with its user's token, unless ``headers`` say otherwise."""
        user_id = body.get("user_id") if isinstance(body, dict) else None
        sent = {**self.tokens.headers(user_id), **(headers or {})}
        response = await self.http.post("/api/webchat/messages", json=body, headers=sent)
        self.tokens.remember(user_id, response)
        return response

    async def say(self, user_id: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
        """A message that must be answered (200); its answer."""
        body: dict[str, Any] = {"user_id": user_id, **extra}
        if text is not None:
            body["text"] = text
        response = await self.post(body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def updates_response(
        self, user_id: str, after: str | int = 0, wait: float = 0
    ) -> httpx.Response:
        return await self.http.get(
            "/api/webchat/updates", params={"user_id": user_id, "after": after, "wait": wait},
            headers=self.tokens.headers(user_id),
        )

    async def updates(self, user_id: str, after: str | int = 0, wait: float = 0) -> dict[str, Any]:
        response = await self.updates_response(user_id, after, wait)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def open_sessions(database_url: str, users: Iterable[str]) -> dict[str, str]:
    """Open the sessions of ``users`` directly in the (migrated) database: their tokens.

    For crash tests: through the API, a first message that dies with the app takes the only
    copy of its token with it, and that user_id is closed for good (the page would start a
    new one), which is not what those tests are about.
    """
    db = Database(database_url)
    try:
        sessions = WebChatSessions(db)
        tokens = {user: await sessions.open(user) for user in users}
    finally:
        await db.close()
    missing = sorted(user for user, token in tokens.items() if token is None)
    assert not missing, f"these user_ids already have a session: {missing}"
    return {user: token for user, token in tokens.items() if token is not None}


def without_token(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer as a repeat of its message gets it: the first answer's session_token is
    handed out once."""
    return {k: v for k, v in answer.items() if k != "session_token"}
