"""``POST /vk/callback``: VK's Callback API posts community events here (Callback mode).

- Not a JSON object, or another community's ``group_id`` -> 400 / 403; nothing stored.
- ``confirmation`` -> the configured confirmation string, as plain text (VK checks it when the
  server is added in the community's settings).
- Any other event without the configured ``secret`` (compared in constant time) -> 403; nothing
  is read or stored.
- Otherwise the event is stored and only then answered ``ok`` — plain text, not JSON: VK counts
  anything else as a failure and delivers again. Events the bot does not read are answered
  ``ok`` too, so VK stops delivering them. A redelivery (``X-Retry-Counter``) of a stored event
  is recognised by the core and answered ``ok`` without a second reply. When the event cannot
  be stored -> 503, and VK delivers it again later.
"""

from __future__ import annotations

import json
import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from channels.vk.intake import StoreFailed, VkIntake
from channels.vk.options import CALLBACK_PATH

log = logging.getLogger(__name__)

RETRY_HEADER = "X-Retry-Counter"


def callback_router(*, intake: VkIntake, group_id: int, confirmation: str,
                    secret: str) -> APIRouter:
    expected = secret.encode()
    router = APIRouter(tags=["vk"])

    @router.post(CALLBACK_PATH, summary="VK Callback API (community events)",
                 response_class=PlainTextResponse)
    async def vk_callback(request: Request) -> PlainTextResponse:
        try:
            event = json.loads(await request.body())
        except ValueError:
            return _text(400, "the body is not JSON")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return _text(400, "not a VK event: no type")
        if event.get("group_id") != group_id:
            return _text(403, "this server serves another community")
        if event["type"] == "confirmation":
            return _text(200, confirmation)
        given = event.get("secret")
        if not isinstance(given, str) or not secrets.compare_digest(given.encode(), expected):
            return _text(403, "wrong or missing secret")
        retry = request.headers.get(RETRY_HEADER)
        if retry:
            log.info("vk: event delivered again (retry %s)", retry[:8])
        try:
            await intake.store([event])
        except StoreFailed:
            return _text(503, "could not store the event; try again")
        return _text(200, "ok")

    return router


def _text(status: int, body: str) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status)
