"""Web chat API: ``POST /api/webchat/messages``, ``GET /api/webchat/updates`` and the page.

A ``user_id`` belongs to the browser session that first wrote as it (channels/web/sessions.py):
the first answer carries the session token and sets it as an HttpOnly cookie; every later
request for that user_id needs the token (``X-Webchat-Token`` header or the cookie), else 401
and nothing is stored or shown.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.client_address import client_address
from bot.config import Settings
from bot.conversations import StoredReply
from bot.deps import ConversationsDep, NotifierDep, SettingsDep
from bot.messages import CLIENT_ADDRESS, InboundMessage
from channels.web.channel import WEBCHAT
from channels.web.limits import WebChatLimits
from channels.web.schemas import (
    MAX_ID,
    USER_ID_PATTERN,
    ButtonOut,
    ReplyOut,
    WebChatAnswer,
    WebChatMessageIn,
    WebChatUpdates,
)
from channels.web.sessions import Access, WebChatSessions

STATIC = Path(__file__).resolve().parent / "static"
PAGE = STATIC / "index.html"
ASSETS = {"chat.js": "text/javascript; charset=utf-8", "chat.css": "text/css; charset=utf-8"}
# The page loads only its own script and style (no inline code), talks only to this origin
# and may not be framed: a subscriber's text can never run as code on it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "Cache-Control": "no-cache",
}

MAX_CURSOR = 2**63 - 1  # message ids are BIGINT
DISCONNECT_CHECK_SECONDS = 1.0

TOKEN_HEADER = "X-Webchat-Token"
COOKIE_NAME = "abonent_webchat"
COOKIE_PATH = "/api/webchat"  # the page's own requests only: no other route ever sees it
NOT_YOURS = "this conversation belongs to another browser session; start a new one"
NO_SESSION = (
    "no web chat session: send a message first, then send its session_token as "
    f"{TOKEN_HEADER} (or keep the {COOKIE_NAME} cookie)"
)
TokenHeader = Annotated[
    str | None,
    Header(alias=TOKEN_HEADER, description=(
        f"the session_token of the first answer; the {COOKIE_NAME} cookie works instead"
    )),
]

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


def _limits(request: Request) -> WebChatLimits:
    return request.app.state.webchat_limits  # type: ignore[no-any-return]


def _sessions(request: Request) -> WebChatSessions:
    return request.app.state.webchat_sessions  # type: ignore[no-any-return]


def _presented_token(request: Request, header: str | None) -> str | None:
    """The header wins over the cookie: a client that says which session it means is
    believed over whatever cookie its jar holds."""
    if header and header.strip():
        return header.strip()
    return request.cookies.get(COOKIE_NAME) or None


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse(status_code=401, content={"error": message})


def _set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    # no max_age: a session cookie, gone with the browser session, like the page's user_id
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=COOKIE_PATH,
        httponly=True,  # the page's JavaScript never needs it
        samesite="strict",
        secure=not settings.plain_http,  # the desk cookie's rule (handoff/deps.py)
    )


def _check_length(body: WebChatMessageIn, max_text: int) -> None:
    if body.text is not None and len(body.text) > max_text:
        raise RequestValidationError([{
            "loc": ("body", "text"),
            "msg": f"String should have at most {max_text} characters",
            "type": "string_too_long",
        }])


@router.post(
    "/api/webchat/messages",
    response_model=WebChatAnswer,
    response_model_exclude_none=True,  # session_token only when there is one
    responses={
        401: {"description": "the user_id belongs to another browser session (no or wrong "
                             "X-Webchat-Token / cookie); nothing stored"},
        413: {"description": "the body is larger than ABONENT_MAX_BODY_BYTES"},
        422: {"description": "bad input; nothing stored"},
        429: {"description": "too many messages; see Retry-After; nothing stored"},
    },
)
async def post_message(
    body: WebChatMessageIn,
    request: Request,
    response: Response,
    conversations: ConversationsDep,
    settings: SettingsDep,
    x_webchat_token: TokenHeader = None,
) -> WebChatAnswer | Response:
    """Send a subscriber's message (or a pressed button's payload); answers with the bot's replies.

    The first message of a new ``user_id`` opens its session: the answer carries
    ``session_token`` and sets the ``abonent_webchat`` cookie. Later messages need that token
    (``X-Webchat-Token`` or the cookie), else ``401`` and nothing is stored.
    A repeated ``message_id`` returns the first answer again and is never answered twice.
    Too many messages from one client address or one ``user_id`` (per minute) answer ``429``
    with ``Retry-After`` and store nothing.
    """
    _check_length(body, settings.webchat_max_text)
    sessions = _sessions(request)
    # who may write comes before the rate limits: a stranger's request must not use up the
    # owner's per-user allowance
    access = await sessions.access(body.user_id, _presented_token(request, x_webchat_token))
    if access is Access.TAKEN:
        return _unauthorized(NOT_YOURS)
    address = client_address(request, settings.trusted_proxy_networks)
    wait = await _limits(request).admit(address, body.user_id)
    if wait:
        return JSONResponse(
            status_code=429,
            content={"error": f"too many messages: try again in {wait} s"},
            headers={"Retry-After": str(wait)},
        )
    new_token = None
    if access is Access.FREE:
        new_token = await sessions.open(body.user_id)
        if new_token is None:  # another request opened it first, or it wrote before sessions
            return _unauthorized(NOT_YOURS)
        _set_session_cookie(response, new_token, settings)
        response.headers["Cache-Control"] = "no-store"  # the token is in this answer's body
    message_id = body.message_id or uuid.uuid4().hex
    inbound = InboundMessage(
        channel=WEBCHAT,
        channel_user_id=body.user_id,
        # unique per identity, not per channel: the core dedupes on (identity, message id)
        channel_message_id=message_id,
        text=body.text or "",
        payload=body.payload,
        lang=body.lang,
        metadata={CLIENT_ADDRESS: address},
    )
    received = await conversations.receive(inbound)
    replies = [_reply(r) for r in received.replies]
    cursor = replies[-1].id if replies else "0"
    return WebChatAnswer(
        conversation_id=received.conversation_id,
        state=received.state,  # type: ignore[arg-type]
        replies=replies,
        cursor=cursor,
        session_token=new_token,
    )


@router.get(
    "/api/webchat/updates",
    response_model=WebChatUpdates,
    responses={401: {"description": "no session token, an unknown one, or another user_id's"}},
)
async def get_updates(
    request: Request,
    conversations: ConversationsDep,
    notifier: NotifierDep,
    settings: SettingsDep,
    user_id: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_ID, pattern=USER_ID_PATTERN,
              description="optional: the session token says whose updates these are"),
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_CURSOR, description="the cursor of the previous answer")
    ] = 0,
    wait: Annotated[float | None, Query(ge=0, le=60, description="long-poll seconds")] = None,
    x_webchat_token: TokenHeader = None,
) -> WebChatUpdates | Response:
    """Replies that came after ``after`` (an agent's answer, a rating question...).

    The session is the one of the token (``X-Webchat-Token`` or the cookie); a ``user_id``,
    when given, must be that session's. Waits up to ``wait`` seconds (default
    ``WEBCHAT_POLL``) for something new: long polling.
    """
    presented = _presented_token(request, x_webchat_token)
    if presented is None:
        return _unauthorized(NO_SESSION)
    owner = await _sessions(request).user_of(presented)
    if owner is None or (user_id is not None and user_id != owner):
        return _unauthorized(NOT_YOURS)
    timeout = settings.webchat_poll_seconds if wait is None else wait
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    token = notifier.messages.token()
    replies, state = await conversations.replies_since(WEBCHAT, owner, after)
    while not replies:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        # in slices, so a page that went away stops its poll within a second instead of
        # holding a connection (and a graceful shutdown) for the whole wait; the database is
        # read again only when something was published (every open page polls)
        if await notifier.messages.wait(token, min(remaining, DISCONNECT_CHECK_SECONDS)):
            token = notifier.messages.token()
            replies, state = await conversations.replies_since(WEBCHAT, owner, after)
        elif await request.is_disconnected():
            break
    cursor = str(replies[-1].id) if replies else str(after)
    return WebChatUpdates(
        replies=[_reply(r) for r in replies],
        cursor=cursor,
        state=state,  # type: ignore[arg-type]
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page(settings: SettingsDep) -> HTMLResponse:
    html = PAGE.read_text(encoding="utf-8").replace(
        "__MAX_TEXT__", str(settings.webchat_max_text)
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/webchat/assets/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS:
        return JSONResponse(status_code=404, content={"error": "no such asset"})
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "no-cache"})
