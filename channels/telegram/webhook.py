"""``POST /telegram/webhook``: Telegram pushes updates here in webhook mode.

- A missing or wrong ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time) -> 401;
  nothing is read or stored.
- A body that is not a JSON object with an ``update_id`` -> 400.
- Any update the bot does not read (edits, groups, unknown types, unexpected shapes) -> 200, so
  Telegram stops delivering it.
- Otherwise the update is stored and only then answered 200; the reply is made in the
  background. When it cannot be stored -> 503, and Telegram delivers it again later.
"""

from __future__ import annotations

import json
import logging
import secrets

from aiogram import Bot
from aiogram.types import Update
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from channels.telegram.intake import TelegramIntake
from channels.telegram.options import WEBHOOK_PATH

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_router(*, bot: Bot, intake: TelegramIntake, secret: str) -> APIRouter:
    expected = secret.encode()
    router = APIRouter(tags=["telegram"])

    @router.post(WEBHOOK_PATH, summary="Telegram webhook (Bot API updates)")
    async def telegram_webhook(request: Request) -> JSONResponse:
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not secrets.compare_digest(given, expected):
            return _answer(401, error="wrong or missing secret token")
        try:
            data = json.loads(await request.body())
        except ValueError:
            return _answer(400, error="the body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return _answer(400, error="not a Telegram update: no integer update_id")
        try:
            update = Update.model_validate(data, context={"bot": bot})
        except ValidationError as exc:
            # Pydantic's errors quote the input (message text, phone numbers): log their codes.
            codes = sorted({str(error["type"]) for error in exc.errors()})
            log.warning("telegram update %s has an unexpected shape (%s: %s); skipped",
                        update_id, type(exc).__name__, ", ".join(codes))
            return _answer(200)
        try:
            stored = await intake.store(update)
        except Exception:
            log.exception("telegram update %s could not be stored; Telegram will retry", update_id)
            return _answer(503, error="could not store the update; try again")
        if stored is not None:
            intake.dispatch(stored)
        return _answer(200)

    return router


def _answer(status: int, *, error: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"ok": error is None}
    if error is not None:
        body["error"] = error
    return JSONResponse(status_code=status, content=body)
