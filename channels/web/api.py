"""Web chat API: ``POST /api/webchat/messages``, ``GET /api/webchat/updates`` and the page."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from bot.conversations import StoredReply
from bot.deps import ConversationsDep, NotifierDep, SettingsDep
from bot.messages import InboundMessage
from channels.web.channel import WEBCHAT
from channels.web.schemas import (
    MAX_ID,
    ButtonOut,
    ReplyOut,
    WebChatAnswer,
    WebChatMessageIn,
    WebChatUpdates,
)

PAGE = Path(__file__).resolve().parent / "static" / "index.html"

router = APIRouter(tags=["web chat"])


def _reply(stored: StoredReply) -> ReplyOut:
    message = stored.message
    return ReplyOut(
        id=str(stored.id),
        text=message.text,
        buttons=[ButtonOut(title=b.title, payload=b.payload) for b in message.buttons],
        sender=message.sender,
        request_phone=message.request_phone,
    )


@router.post("/api/webchat/messages", response_model=WebChatAnswer)
async def post_message(body: WebChatMessageIn, conversations: ConversationsDep) -> WebChatAnswer:
    """Send a subscriber's message (or a pressed button's payload); answers with the bot's replies.

    A repeated ``message_id`` returns the first answer again and is never answered twice.
    """
    message_id = body.message_id or uuid.uuid4().hex
    inbound = InboundMessage(
        channel=WEBCHAT,
        channel_user_id=body.user_id,
        channel_message_id=f"{body.user_id}:{message_id}",
        text=body.text or "",
        payload=body.payload,
        lang=body.lang,
    )
    received = await conversations.receive(inbound)
    replies = [_reply(r) for r in received.replies]
    cursor = replies[-1].id if replies else "0"
    return WebChatAnswer(
        conversation_id=received.conversation_id,
        state=received.state,  # type: ignore[arg-type]
        replies=replies,
        cursor=cursor,
    )


@router.get("/api/webchat/updates", response_model=WebChatUpdates)
async def get_updates(
    conversations: ConversationsDep,
    notifier: NotifierDep,
    settings: SettingsDep,
    user_id: Annotated[str, Query(min_length=1, max_length=MAX_ID)],
    after: Annotated[int, Query(ge=0, description="the cursor of the previous answer")] = 0,
    wait: Annotated[float | None, Query(ge=0, le=60, description="long-poll seconds")] = None,
) -> WebChatUpdates:
    """Replies that came after ``after`` (an agent's answer, a rating question...).

    Waits up to ``wait`` seconds (default ``WEBCHAT_POLL``) for something new: long polling.
    """
    timeout = settings.webchat_poll_seconds if wait is None else wait
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        token = notifier.messages.token()
        replies, state = await conversations.replies_since(WEBCHAT, user_id, after)
        remaining = deadline - loop.time()
        if replies or remaining <= 0:
            break
        await notifier.messages.wait(token, remaining)
    cursor = str(replies[-1].id) if replies else str(after)
    return WebChatUpdates(
        replies=[_reply(r) for r in replies],
        cursor=cursor,
        state=state,  # type: ignore[arg-type]
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))
