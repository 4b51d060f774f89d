"""Where the NLU server comes from: ``RASA_URL`` when set, else a local Rasa we train and start."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from knowledge_base import load_knowledge_base
from nlu.server import RasaServer
from nlu.training import train

log = logging.getLogger(__name__)


def train_model(settings: Settings, *, force: bool = False) -> Path:
    kb = load_knowledge_base(settings.kb_dir)
    return train(
        kb.country_lookup(), venv=settings.rasa_venv, models_dir=settings.models_dir, force=force
    )


@asynccontextmanager
async def nlu_settings(settings: Settings, *, port: int | None = None) -> AsyncIterator[Settings]:
    """Yield settings whose ``rasa_url``/``rasa_token`` reach a ready Rasa server."""
    if settings.rasa_url:
        yield settings
        return
    model = train_model(settings)
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    server = RasaServer(
        model,
        venv=settings.rasa_venv,
        port=port or settings.rasa_port,
        token=token,
    )
    print(f"Starting the local Rasa NLU server on {server.url} (takes about 40 s)...", flush=True)
    async with server:
        reused = " (reusing the server a previous run left running)" if server.reused else ""
        print(f"Rasa is ready{reused}.", flush=True)
        yield settings.model_copy(
            update={"rasa_url": server.url, "rasa_token": SecretStr(server.token)}
        )
