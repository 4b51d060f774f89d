"""``GET /api/desk/search``: transcript search for supervisors (agents get 403).

Every search is one entry in the audit trail, with its filters and the query's length, never
its text (a supervisor may well search for a phone number).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from handoff.audit import AuditAction
from handoff.deps import CurrentSupervisor, HandoffDep
from handoff.period import DateOrTime, period
from handoff.search.schemas import MAX_PAGE, MAX_PAGE_SIZE, MAX_QUERY, SearchOut, SearchQuery

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])

_PLAIN = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL cannot even store NUL)
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    403: {"description": "supervisors only"},
    422: {"description": "no query and no filter, or a malformed parameter"},
}


@router.get("/search", response_model=SearchOut, responses=_ERRORS)
async def search(
    caller: CurrentSupervisor,
    module: HandoffDep,
    q: Annotated[str | None, Query(
        max_length=MAX_QUERY,
        description="words to find, in any form (Russian and English stemming); all must "
                    'match; "a phrase", `or`, and -word to exclude, as in a web search')] = None,
    channel: Annotated[str | None, Query(
        max_length=32, pattern=_PLAIN, description="webchat, telegram, vk, email, ...")] = None,
    agent: Annotated[str | None, Query(
        max_length=64, pattern=_PLAIN,
        description="username of the agent of one of the conversation's handoffs")] = None,
    intent: Annotated[str | None, Query(
        max_length=64, pattern=_PLAIN,
        description="one of the conversation's messages had this intent")] = None,
    from_: Annotated[DateOrTime | None, Query(
        alias="from", description="messages at or after: an ISO date (a day in "
                                  "DESK_TIMEZONE) or date and time (UTC without an offset)",
    )] = None,
    to: Annotated[DateOrTime | None, Query(
        description="messages at or before; a date means to the end of that day")] = None,
    silence_over: Annotated[float | None, Query(
        ge=0, le=10**8,
        description="conversations with a handoff whose longest silence was longer (seconds)",
    )] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> SearchOut:
    """Full text over every message, newest first. Without `q`: one result per matching
    conversation (its latest message). Each result opens the conversation at its message."""
    start, end = period(from_, to, module.settings.desk_timezone)
    query = SearchQuery(
        q=_cleaned(q),
        channel=channel or None,
        agent=agent or None,
        intent=intent or None,
        start=start,
        end=end,
        silence_over=silence_over,
        page=page,
        page_size=page_size,
    )
    if query.q is None and not query.filtered:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="give words to search for (q) or at least one filter: channel, agent, "
                   "intent, from, to, silence_over",
        )
    found = await module.search.search(query)
    await module.audit.record(caller.actor, AuditAction.SEARCH,
                              details=_audited(query, found, from_, to))
    return found


def _cleaned(q: str | None) -> str | None:
    """Control characters become spaces; a blank query is no query."""
    if q is None:
        return None
    text = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in q).strip()
    return text or None


def _audited(query: SearchQuery, found: SearchOut, from_: date | None,
             to: date | None) -> dict[str, Any]:
    """The filters as given and the query's length: never its text, which may hold a phone
    number."""
    filters = {
        "channel": query.channel, "agent": query.agent, "intent": query.intent,
        "from": from_.isoformat() if from_ else None,
        "to": to.isoformat() if to else None,
        "silence_over": query.silence_over,
    }
    return {
        **{k: v for k, v in filters.items() if v is not None},
        "q_length": len(query.q or ""),
        "page": query.page,
        "page_size": query.page_size,
        "results": len(found.results),
    }
