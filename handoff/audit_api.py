"""The audit trail's routes, for supervisors: ``GET /api/desk/audit`` (who did what, when, to
which conversation, from which address) and ``GET /api/desk/conversations/{id}/replay`` (the
conversation interleaved with the desk's actions and the silences).

Read-only on purpose: the trail has no route that changes it (any other method is a 405), and
the database refuses UPDATE and DELETE anyway (migration 0012).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from handoff.api import ConversationId, http_errors
from handoff.audit import AuditAction
from handoff.audit_schemas import AuditPage, ReplayOut
from handoff.audit_views import MAX_PAGE_SIZE, AuditQuery
from handoff.deps import CurrentSupervisor, HandoffDep
from handoff.period import DateOrTime, period

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "supervisors only"},
}
MAX_PAGE = 100_000  # deeper than anyone pages; keeps the offset a sane number


@router.get("/audit", response_model=AuditPage, responses=_ERRORS)
async def audit(
    caller: CurrentSupervisor,
    module: HandoffDep,
    agent: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$",
                                       description="a username")] = None,
    action: AuditAction | None = None,
    conversation_id: Annotated[str | None, Query(pattern="^[0-9a-f]{32}$")] = None,
    from_: Annotated[DateOrTime | None, Query(
        alias="from", description="ISO date (a day in DESK_TIMEZONE) or date and time")] = None,
    to: Annotated[DateOrTime | None, Query(
        description="inclusive; a date means to the end of that day")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> AuditPage:
    """The audit trail, newest first: who did what, when, to which conversation, and from
    which address."""
    since, until = period(from_, to, module.settings.desk_timezone)
    query = AuditQuery(agent=agent, action=action, conversation_id=conversation_id,
                       since=since, until=until)
    return await module.audit_views.entries(query, page=page, page_size=page_size)


@router.get("/conversations/{conversation_id}/replay", response_model=ReplayOut,
            responses={**_ERRORS, 404: {"description": "no such conversation"}})
async def replay(conversation_id: ConversationId, caller: CurrentSupervisor,
                 module: HandoffDep) -> ReplayOut:
    """The whole conversation (its latest 2000 messages: see `truncated`) interleaved, by
    time, with the desk's actions on it and the silences of each of its handoffs (`long`:
    at least SILENCE_ALERT_SECONDS). Viewing it is itself an `open` in the audit trail."""
    with http_errors():
        found = await module.audit_views.replay(conversation_id)
    await module.audit.record_view(caller.actor, AuditAction.OPEN,
                                   conversation_id=conversation_id,
                                   handoff_id=found.handoff_id, details={"replay": True})
    return found.body
