"""The desk API (JSON): login, the queue, one conversation, the agent's actions, stats, and a
server-sent event stream that pushes the queue whenever it changes.

Every route but ``POST /api/desk/login`` needs a login (401 without one). Errors of the
handoff (``handoff.errors``) become HTTP answers here and nowhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Request, Response, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from bot.notify import wait_any
from handoff.audit import Actor, AuditAction
from handoff.auth import AgentInfo, Login
from handoff.deps import (
    CurrentAgent,
    CurrentCaller,
    CurrentSupervisor,
    HandoffDep,
    clear_session_cookie,
    client_address,
    presented_token,
)
from handoff.errors import (
    Busy,
    Conflict,
    Forbidden,
    HandoffError,
    InvalidCredentials,
    NotFound,
    RateLimited,
)
from handoff.extension import HandoffExtension
from handoff.schemas import (
    ActionOut,
    AgentOut,
    CloseIn,
    ConversationOut,
    LoginIn,
    MessageOut,
    NoteOut,
    QueueOut,
    SessionOut,
    StatsOut,
    TextIn,
    TokenOut,
)

STREAM_SECONDS = 30.0  # the browser reconnects by itself; keeps shutdowns quick
REFRESH_SECONDS = 15.0  # waiting times and priorities move even when nothing happens

router = APIRouter(prefix="/api/desk", tags=["agent desk"])
# conversation ids are uuid4().hex: anything else is a 422, never a database round trip
ConversationId = Annotated[str, Path(pattern="^[0-9a-f]{32}$")]

_STATUS = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    Forbidden: status.HTTP_403_FORBIDDEN,
    InvalidCredentials: status.HTTP_401_UNAUTHORIZED,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    Busy: status.HTTP_503_SERVICE_UNAVAILABLE,
}
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "another agent handles this conversation"},
    404: {"description": "no handoff for this conversation"},
    409: {"description": "the handoff's state does not allow it (e.g. already claimed)"},
}


@contextmanager
def http_errors() -> Iterator[None]:
    try:
        yield
    except HandoffError as exc:
        code = next((c for t, c in _STATUS.items() if isinstance(exc, t)), 400)
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited | Busy):
            headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
        if isinstance(exc, InvalidCredentials):
            headers["WWW-Authenticate"] = "Bearer"
        raise HTTPException(code, detail=str(exc), headers=headers or None) from exc


async def log_in(module: HandoffExtension, request: Request, body: LoginIn, *, kind: str) -> Login:
    """Shared by the API login and the page's cookie login.

    The attempt is counted as a failure *before* the password is checked, so concurrent
    guesses cannot all slip under the limit; it is taken back when the password is right, or
    when no check ran because every slot was busy.
    """
    address = client_address(request, module.settings)
    await module.ready()
    with http_errors():
        attempt = await module.limiter.reserve(body.username, address)
        try:
            login = await module.accounts.login(body.username, body.password, kind=kind)
        except Busy:
            await attempt.abandoned()
            raise
        except InvalidCredentials:
            await attempt.failed()
            await _audit_failed_login(module, body.username, address)
            raise
        except BaseException:  # anything that cut the check short
            await attempt.failed()
            raise
        await attempt.succeeded()
    await module.audit.record(Actor.of(login.agent, address), AuditAction.LOGIN,
                              details={"kind": kind})
    return login


async def _audit_failed_login(module: HandoffExtension, username: str, address: str) -> None:
    """A failed login names the account only when it exists: what someone typed into the
    username field may be their password."""
    known = await module.accounts.find(username)
    actor = Actor(known, address) if known else Actor(None, address)
    await module.audit.record(actor, AuditAction.LOGIN_FAILED,
                              details=None if known else {"known_account": False})


def agent_out(agent: AgentInfo) -> AgentOut:
    return AgentOut(username=agent.username, role=agent.role, display_name=agent.display_name)


@router.post(
    "/login",
    response_model=TokenOut,
    responses={401: {"description": "wrong username or password"},
               429: {"description": "too many failed logins; see Retry-After"},
               503: {"description": "too many logins at once; see Retry-After"}},
)
async def login(body: LoginIn, request: Request, module: HandoffDep) -> TokenOut:
    """Log in with a username and password; send the token as `Authorization: Bearer TOKEN`."""
    done = await log_in(module, request, body, kind="bearer")
    return TokenOut(token=done.token, expires_at=done.expires_at, agent=agent_out(done.agent))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def logout(request: Request, caller: CurrentCaller, module: HandoffDep) -> Response:
    """End this session (the bearer token or the page's cookie)."""
    token, _ = presented_token(request)
    if token:
        await module.accounts.logout(token)
    await module.audit.record(caller.actor, AuditAction.LOGOUT)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, module.settings)
    return response


@router.get("/me", response_model=SessionOut, responses=_ERRORS)
async def me(agent: CurrentAgent) -> SessionOut:
    return SessionOut(agent=agent_out(agent))


@router.get("/queue", response_model=QueueOut, responses=_ERRORS)
async def queue(agent: CurrentAgent, module: HandoffDep) -> QueueOut:
    """Waiting handoffs (by priority, then waiting time) and active ones, with context cards.

    Agents see the waiting queue and their own conversations; supervisors see everything.
    """
    return await module.views.queue(agent)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut,
            responses=_ERRORS)
async def conversation(conversation_id: ConversationId, caller: CurrentCaller,
                       module: HandoffDep) -> ConversationOut:
    """One conversation's current handoff: context card, transcript, notes, outcome."""
    with http_errors():
        return await module.views.conversation(caller.agent, conversation_id,
                                               address=caller.address)


@router.post("/conversations/{conversation_id}/claim", response_model=ActionOut,
             responses=_ERRORS)
async def claim(conversation_id: ConversationId, caller: CurrentCaller,
                module: HandoffDep) -> ActionOut:
    """Take a waiting conversation. Two agents at once: one wins, the other gets 409."""
    with http_errors():
        return await module.desk.claim(caller.agent, conversation_id, address=caller.address)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut,
             status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def send_message(conversation_id: ConversationId, body: TextIn, caller: CurrentCaller,
                       module: HandoffDep) -> MessageOut:
    """Reply to the subscriber; it goes out through their own channel (via the outbox)."""
    with http_errors():
        return await module.desk.reply(caller.agent, conversation_id, body.text,
                                       address=caller.address)


@router.post("/conversations/{conversation_id}/notes", response_model=NoteOut,
             status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def add_note(conversation_id: ConversationId, body: TextIn, caller: CurrentCaller,
                   module: HandoffDep) -> NoteOut:
    """An internal note: other agents see it, the subscriber never does."""
    with http_errors():
        return await module.desk.note(caller.agent, conversation_id, body.text,
                                      address=caller.address)


@router.post("/conversations/{conversation_id}/close", response_model=ActionOut,
             responses=_ERRORS)
async def close(
    conversation_id: ConversationId,
    caller: CurrentCaller,
    module: HandoffDep,
    body: Annotated[CloseIn | None, Body()] = None,
) -> ActionOut:
    """Close the conversation; the subscriber is told and asked for a 1-5 rating."""
    with http_errors():
        return await module.desk.close(caller.agent, conversation_id,
                                       (body or CloseIn()).resolution, address=caller.address)


@router.post("/conversations/{conversation_id}/return-to-bot", response_model=ActionOut,
             responses=_ERRORS)
async def return_to_bot(conversation_id: ConversationId, caller: CurrentCaller,
                        module: HandoffDep) -> ActionOut:
    """Hand the conversation back to the bot (the subscriber is told)."""
    with http_errors():
        return await module.desk.return_to_bot(caller.agent, conversation_id,
                                               address=caller.address)


_SUPERVISOR_ERRORS: dict[int | str, dict[str, str]] = {
    **_ERRORS,
    403: {"description": "supervisors only"},
    404: {"description": "no such conversation (whisper: no handoff)"},
    409: {"description": "already in the conversation / already yours / the handoff ended"},
}


@router.post("/conversations/{conversation_id}/join", response_model=ActionOut,
             responses=_SUPERVISOR_ERRORS)
async def join(conversation_id: ConversationId, caller: CurrentSupervisor,
               module: HandoffDep) -> ActionOut:
    """A supervisor joins: a conversation the bot holds (a handoff opens, the supervisor's),
    a waiting one (the supervisor claims it) or an agent's (both may reply). The subscriber is
    told a senior colleague joined."""
    with http_errors():
        return await module.desk.join(caller.agent, conversation_id, address=caller.address)


@router.post("/conversations/{conversation_id}/whisper", response_model=NoteOut,
             status_code=status.HTTP_201_CREATED, responses=_SUPERVISOR_ERRORS)
async def whisper(conversation_id: ConversationId, body: TextIn, caller: CurrentSupervisor,
                  module: HandoffDep) -> NoteOut:
    """A word to the agent, shown in their desk at once; never to the subscriber."""
    with http_errors():
        return await module.desk.whisper(caller.agent, conversation_id, body.text,
                                         address=caller.address)


@router.post("/conversations/{conversation_id}/take-over", response_model=ActionOut,
             responses=_SUPERVISOR_ERRORS)
async def take_over(conversation_id: ConversationId, caller: CurrentSupervisor,
                    module: HandoffDep) -> ActionOut:
    """The conversation becomes the supervisor's; its agent no longer handles or sees it."""
    with http_errors():
        return await module.desk.take_over(caller.agent, conversation_id,
                                           address=caller.address)


@router.get("/stats", response_model=StatsOut, responses=_ERRORS)
async def stats(agent: CurrentAgent, module: HandoffDep) -> StatsOut:
    """Service level for today and the last 7 days (see the README for the definitions)."""
    return await module.stats.compute()


@router.get("/events", response_class=EventSourceResponse, responses=_ERRORS)
async def events(agent: CurrentAgent, module: HandoffDep) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events: a `queue` event (the same body as `GET /api/desk/queue`) now and
    whenever the queue changes. The stream ends after 30 s; browsers reconnect by themselves."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    while True:
        token = module.events.signal.token()
        snapshot = await module.views.queue(agent)
        yield ServerSentEvent(data=snapshot, event="queue", retry=1000)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await wait_any([token], min(REFRESH_SECONDS, remaining))
