"""The app under test: settings that ignore the developer's environment, the running app as the
web chat tests see it, and a handle on a Rasa server someone else runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from bot.config import Settings
from bot.services import Services
from nlu.server import RasaServer
from tests.support.webchat import WebChatClient


def base_settings(**overrides: object) -> Settings:
    """Settings that ignore the developer's .env and environment-specific defaults."""
    values: dict[str, object] = {"webchat_poll_seconds": 2.0, "outbox_poll_seconds": 0.2}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def app_settings(database_url: str, rasa: RasaServer, **overrides: object) -> Settings:
    return base_settings(
        database_url=database_url,
        rasa_url=rasa.url,
        rasa_token=SecretStr(rasa.token),
        **overrides,
    )


@dataclass(frozen=True)
class ExternalRasa:
    """A Rasa server someone else runs (ABONENT_TEST_RASA_URL/_TOKEN): lets several local test
    runs share one server instead of starting ~1.2 GB each. CI never sets it."""

    url: str
    token: str


@dataclass
class RunningApp:
    url: str
    services: Services
    http: httpx.AsyncClient
    settings: Settings
    # the web chat as a client sees it: keeps each user_id's session token
    webchat: WebChatClient = field(init=False)

    def __post_init__(self) -> None:
        self.webchat = WebChatClient(self.http)

    async def say(self, user_id: str, text: str, **extra: object) -> dict[str, object]:
        return await self.webchat.say(user_id, text, **extra)


def new_user() -> str:
    """A web chat user id nobody has used yet."""
    return f"u-{uuid.uuid4().hex[:10]}"
