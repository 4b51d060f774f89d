"""Routes of skills-based routing, for supervisors: the team with its skills, setting an
agent's skills (audited), and the skills file as the app loaded it. Agents get 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field, StrictStr

from handoff.api import http_errors
from handoff.deps import CurrentSupervisor, HandoffDep
from handoff.routing import UnknownSkill
from handoff.schemas import UtcDateTime

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])
Username = Annotated[str, Path(min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "supervisors only"},
}


class AgentSkillsOut(BaseModel):
    username: str
    display_name: str | None = None
    role: str
    active: bool
    skills: list[str] = Field(description="none: the agent is offered every handoff alike")
    last_seen_at: UtcDateTime | None = None


class SkillsIn(BaseModel):
    skills: list[StrictStr] = Field(max_length=32, description="[] clears the agent's skills")


class SkillsOut(BaseModel):
    username: str
    skills: list[str]


class SkillOut(BaseModel):
    name: str
    labels: dict[str, str] = Field(description="per language")


class SkillMapOut(BaseModel):
    skills: list[SkillOut]
    topics: dict[str, str] = Field(description="intent (family or fine intent) -> skill; a "
                                               "topic not listed needs no skill")
    fallback_seconds: int = Field(description="after this long unclaimed a handoff is "
                                              "offered to everyone (ROUTING_FALLBACK_SECONDS)")


@router.get("/agents", response_model=list[AgentSkillsOut], responses=_ERRORS)
async def agents(caller: CurrentSupervisor, module: HandoffDep) -> list[AgentSkillsOut]:
    """Every desk account with its role, state, skills and when it was last seen."""
    rows = await module.accounts.all_agents()
    skills = await module.accounts.skills_of()
    return [
        AgentSkillsOut(username=agent.username, display_name=agent.display_name,
                       role=agent.role, active=active, skills=skills.get(agent.username, []),
                       last_seen_at=seen)
        for agent, active, seen in rows
    ]


@router.put(
    "/agents/{username}/skills", response_model=SkillsOut,
    responses={**_ERRORS, 404: {"description": "no such agent"},
               422: {"description": "an unknown skill (the message lists the valid ones)"}},
)
async def set_skills(username: Username, body: SkillsIn, caller: CurrentSupervisor,
                     module: HandoffDep) -> SkillsOut:
    """Replace the agent's skills (audited as `account_skills`)."""
    try:
        skills = module.routing.map.check(body.skills)
    except UnknownSkill as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    with http_errors():
        saved = await module.accounts.set_skills(username, skills, actor=caller.actor)
    module.events.publish()  # open desks re-sort their queues at once
    return SkillsOut(username=username, skills=saved)


@router.get("/skills", response_model=SkillMapOut, responses=_ERRORS)
async def skills(caller: CurrentSupervisor, module: HandoffDep) -> SkillMapOut:
    """The skills, the topic → skill map (handoff/data/skills.yml) and the fallback."""
    skill_map = module.routing.map
    return SkillMapOut(
        skills=[SkillOut(name=s.name, labels=dict(s.labels)) for s in skill_map.skills],
        topics=dict(skill_map.topics),
        fallback_seconds=module.routing.fallback_seconds,
    )

