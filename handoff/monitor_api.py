"""The live monitor's routes, for supervisors only (an agent gets 403, no login 401):
the monitor (JSON and server-sent events), the alerts, and any conversation read-only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.sse import EventSourceResponse, ServerSentEvent

from bot.notify import wait_any
from handoff.api import ConversationId, http_errors
from handoff.audit import AuditAction
from handoff.deps import CurrentSupervisor, HandoffDep
from handoff.monitor import ROW_STATES, MonitorFilter
from handoff.monitor_schemas import AlertsOut, MonitorOut, ReadOnlyConversation

STREAM_SECONDS = 30.0  # the browser reconnects by itself; keeps shutdowns quick
REFRESH_SECONDS = 2.0  # silences and waits cross their thresholds with nobody writing
DEBOUNCE_SECONDS = 0.5  # a busy chat wakes the stream often: one snapshot per half second
MAX_VALUES = 50  # filter values per parameter
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # channel names and usernames

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "supervisors only"},
}
_FILTERS_DOC = "comma-separated, or the parameter repeated"
StateQuery = Annotated[
    list[str] | None, Query(description=f"bot | waiting | with_agent; {_FILTERS_DOC}")
]
ChannelQuery = Annotated[
    list[str] | None, Query(description=f"e.g. webchat, telegram; {_FILTERS_DOC}")
]
AgentQuery = Annotated[
    list[str] | None, Query(description=f"the owner's username; {_FILTERS_DOC}")
]


def _values(
    name: str, raw: list[str] | None, allowed: tuple[str, ...] | None = None
) -> frozenset[str]:
    values = {part.strip() for item in raw or () for part in item.split(",") if part.strip()}
    if len(values) > MAX_VALUES:
        raise _bad(name, f"at most {MAX_VALUES} values")
    for value in values:
        if allowed is not None and value not in allowed:
            raise _bad(name, f"unknown value; one of {', '.join(allowed)}")
        if not _NAME.match(value):
            raise _bad(name, "letters, digits and _ . @ - only (64 at most)")
    return frozenset(values)


def _bad(name: str, message: str) -> HTTPException:
    # the shape of FastAPI's own validation errors, so clients read one format
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"type": "value_error", "loc": ["query", name], "msg": message}],
    )


def monitor_filter(state: StateQuery = None, channel: ChannelQuery = None,
                   agent: AgentQuery = None) -> MonitorFilter:
    """The filters of the query; a dependency, so a bad one is a 422 before a stream opens."""
    return MonitorFilter(states=_values("state", state, ROW_STATES),
                         channels=_values("channel", channel),
                         agents=_values("agent", agent))


Filters = Annotated[MonitorFilter, Depends(monitor_filter)]


@router.get("/monitor", response_model=MonitorOut,
            responses={**_ERRORS, 422: {"description": "an unknown state or a malformed filter"}})
async def monitor(caller: CurrentSupervisor, filters: Filters, module: HandoffDep) -> MonitorOut:
    """Every open conversation (the bot's, waiting, with an agent), riskiest first, and every
    current alert (alerts ignore the filters)."""
    return await module.monitor.snapshot(filters)


@router.get("/monitor/events", response_class=EventSourceResponse,
            responses={**_ERRORS, 422: {"description": "an unknown state or a malformed filter"}})
async def monitor_events(
    caller: CurrentSupervisor, filters: Filters, module: HandoffDep
) -> AsyncIterable[ServerSentEvent]:
    """Server-sent events: a `monitor` event (the body of `GET /api/desk/monitor`) now, on
    every desk change and new message (at most one per 0.5 s), and at least every 2 s. The
    stream ends after 30 s; browsers reconnect by themselves."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    while True:
        # the tokens first: a change made while the snapshot is read wakes the next one
        tokens = [module.events.signal.token(), module.notifier.messages.token()]
        sent_at = loop.time()
        snapshot = await module.monitor.snapshot(filters)
        yield ServerSentEvent(data=snapshot, event="monitor", retry=1000)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await wait_any(tokens, min(REFRESH_SECONDS, remaining))
        pause = min(sent_at + DEBOUNCE_SECONDS, deadline) - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)


@router.get("/alerts", response_model=AlertsOut, responses=_ERRORS)
async def alerts(caller: CurrentSupervisor, module: HandoffDep) -> AlertsOut:
    """Current alerts: `silence` (an agent's subscriber waits longer than
    SILENCE_ALERT_SECONDS), `sla` (waiting past HANDOFF_TARGET_SECONDS) and
    `unanswered_messages` (three or more without an answer). Each disappears once answered."""
    return await module.monitor.alerts()


@router.get("/monitor/conversations/{conversation_id}", response_model=ReadOnlyConversation,
            responses={**_ERRORS, 404: {"description": "no such conversation"}})
async def read_only_conversation(conversation_id: ConversationId, caller: CurrentSupervisor,
                                 module: HandoffDep) -> ReadOnlyConversation:
    """Any conversation, read-only (the bot's too): transcript, notes and whispers; the
    subscriber without a phone number. Recorded in the audit trail."""
    with http_errors():
        view = await module.monitor.conversation(conversation_id)
    # once per supervisor and conversation every 10 minutes: the page re-reads it on updates
    await module.audit.record_view(caller.actor, AuditAction.OPEN,
                                   conversation_id=conversation_id,
                                   handoff_id=view.handoff_id, details={"read_only": True})
    return view
