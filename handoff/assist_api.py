"""Routes of agent assist: suggested articles and live figures for an open conversation, and
which suggestions an agent used. Any agent who may see the conversation (as
``GET /api/desk/conversations/{id}``); 403 otherwise, 401 without a login."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from handoff.api import ConversationId, http_errors
from handoff.assist import UnknownArticle
from handoff.assist_schemas import AssistOut, AssistUsedIn
from handoff.audit import AuditAction
from handoff.deps import CurrentCaller, HandoffDep

router = APIRouter(prefix="/api/desk", tags=["agent assist"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "another agent handles this conversation"},
    404: {"description": "no handoff for this conversation"},
}


@router.get("/conversations/{conversation_id}/assist", response_model=AssistOut,
            responses=_ERRORS)
async def assist(conversation_id: ConversationId, caller: CurrentCaller,
                 module: HandoffDep) -> AssistOut:
    """The three most relevant knowledge-base articles, in the subscriber's language, ready to
    insert into a reply; for a verified subscriber, their live figures from the billing
    (`figures: null` and `figures_reason` when there are none: never an error)."""
    with http_errors():
        found = await module.assist.suggest(caller.agent, conversation_id)
    if found.figures is not None:  # a verified subscriber's account on the screen
        await module.audit.record_view(caller.actor, AuditAction.VIEW_PERSONAL_DATA,
                                       conversation_id=conversation_id,
                                       handoff_id=found.handoff_id,
                                       details={"data": "live_figures"})
    return found


@router.post("/conversations/{conversation_id}/assist/used",
             status_code=status.HTTP_204_NO_CONTENT,
             responses={**_ERRORS, 422: {"description": "unknown article or action"}})
async def assist_used(conversation_id: ConversationId, body: AssistUsedIn,
                      caller: CurrentCaller, module: HandoffDep) -> Response:
    """The agent inserted a suggested article into the reply box (`inserted`), or sent the
    reply that held it (`sent`)."""
    with http_errors():
        try:
            await module.assist.used(caller.agent, conversation_id, body.article, body.action)
        except UnknownArticle as exc:
            raise HTTPException(422, detail=str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
