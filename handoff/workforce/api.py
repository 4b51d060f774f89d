"""``/api/desk/workforce/...``: forecast, staffing, the Erlang C calculator, the week's
schedule, swaps and time off (the contract: the WORKFORCE API section of handoff/README.md).

Supervisors plan (forecast, staffing, build and read the schedule, decide swaps and time off);
every logged-in agent reads their own shifts, offers and accepts swaps and asks for time off.
401 without a login, 403 for a role that may not, 404 an unknown id, 409 a state conflict
(the message says which), 422 bad input.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from handoff.api import http_errors
from handoff.deps import CurrentCaller, CurrentSupervisor, HandoffDep
from handoff.workforce.coverage import local_monday, monday
from handoff.workforce.model import INTERVAL_MINUTES, WorkforceDataError
from handoff.workforce.schemas import (
    AcceptIn,
    ErlangOut,
    ForecastOut,
    MyShiftsOut,
    ScheduleOut,
    StaffingOut,
    SwapIn,
    SwapOut,
    SwapsOut,
    TimeOffIn,
    TimeOffOut,
    TimeOffsOut,
)
from handoff.workforce.service import Workforce

router = APIRouter(prefix="/api/desk/workforce", tags=["workforce planning"])

Id = Annotated[int, Path(ge=1, le=2**62)]
WeekQuery = Annotated[date | None, Query(
    description="a date in the week (DESK_TIMEZONE); its Monday is meant. Default: this week")]
FIRST, LAST = date(2000, 1, 1), date(2999, 12, 31)
MAX_ERLANGS = 1000  # Erlang C's search grows with the load; this keeps an answer instant

_LOGIN: dict[int | str, dict[str, str]] = {401: {"description": "not logged in"}}
_SUPERVISOR: dict[int | str, dict[str, str]] = {
    **_LOGIN, 403: {"description": "supervisors only"},
    422: {"description": "bad input (e.g. a week outside 2000-2999)"},
    503: {"description": "a workforce data file (handoff/data/shifts.yml, calendar.yml) is "
                         "wrong; the message names the file and line"},
}
_SWAP: dict[int | str, dict[str, str]] = {
    **_LOGIN,
    403: {"description": "not your shift or your offer"},
    404: {"description": "no such swap or shift"},
    409: {"description": "the state does not allow it: already offered or accepted, started, "
                         "not scheduled, overlapping shifts, time off"},
}
_DECIDE: dict[int | str, dict[str, str]] = {
    **_LOGIN, 403: {"description": "supervisors only"},
    404: {"description": "no such id"},
    409: {"description": "already decided, or the shifts changed meanwhile"},
}


def _week(module: HandoffDep, week: date | None) -> date:
    if week is None:
        return local_monday(module.workforce.now(), module.workforce.zone)
    if not FIRST <= week <= LAST:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="the week must be within the years 2000-2999")
    return monday(week)


def _planner(module: HandoffDep) -> Workforce:
    """The service, with its data files read (503 naming the file when one is wrong)."""
    workforce = module.workforce
    try:
        workforce.shift_kinds  # noqa: B018 - reads and checks shifts.yml once
        workforce.calendar  # noqa: B018
    except WorkforceDataError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    return workforce


@router.get("/forecast", response_model=ForecastOut, responses=_SUPERVISOR)
async def forecast(
    caller: CurrentSupervisor, module: HandoffDep,
    from_: Annotated[date | None, Query(alias="from", description="the first week (any day "
                                        "of it); default: this week")] = None,
    weeks: Annotated[int, Query(ge=1, le=8)] = 2,
) -> ForecastOut:
    """Contacts expected per 30-minute interval, learnt from the 8 weeks of handoffs before
    the first week (special days of handoff/data/calendar.yml applied), beside the handoffs
    that came (``actual``; null for intervals not over yet)."""
    return await _planner(module).forecast(_week(module, from_), weeks)


@router.get("/staffing", response_model=StaffingOut, responses=_SUPERVISOR)
async def staffing(caller: CurrentSupervisor, module: HandoffDep,
                   week: WeekQuery = None) -> StaffingOut:
    """Agents needed per interval of the week (Erlang C): the forecast, the AHT from the
    stored handoffs and the settings WORKFORCE_SERVICE_LEVEL, HANDOFF_TARGET_SECONDS,
    WORKFORCE_SHRINKAGE, WORKFORCE_MAX_OCCUPANCY."""
    return await _planner(module).staffing(_week(module, week))


@router.get("/erlang", response_model=ErlangOut, responses=_SUPERVISOR)
async def erlang(
    caller: CurrentSupervisor, module: HandoffDep,
    # bounds are inclusive (ge/le): the API fuzzer (schemathesis, OpenAPI 3.0 mode) cannot
    # read 3.1's exclusive bounds
    contacts: Annotated[float, Query(ge=0, le=10_000, description="contacts in the interval")],
    aht: Annotated[float, Query(ge=1, le=86_400, description="seconds per contact")],
    interval: Annotated[int, Query(ge=1, le=1440, description="minutes")] = INTERVAL_MINUTES,
    target: Annotated[float | None, Query(ge=1, le=86_400, description="seconds; default "
                                          "HANDOFF_TARGET_SECONDS")] = None,
    service_level: Annotated[float | None, Query(ge=0.01, le=0.9999)] = None,
    shrinkage: Annotated[float | None, Query(ge=0, le=0.99)] = None,
    max_occupancy: Annotated[float | None, Query(ge=0.01, le=1)] = None,
) -> ErlangOut:
    """The Erlang C calculator for one interval (settings fill what is left out)."""
    if contacts * aht / (interval * 60) > MAX_ERLANGS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=f"a load over {MAX_ERLANGS} erlangs (contacts x aht / "
                                   "interval) is beyond one desk's interval; split it")
    params = module.workforce.params(aht).model_copy(update={
        "interval_minutes": interval,
        **({"target_seconds": target} if target is not None else {}),
        **({"service_level": service_level} if service_level is not None else {}),
        **({"shrinkage": shrinkage} if shrinkage is not None else {}),
        **({"max_occupancy": max_occupancy} if max_occupancy is not None else {}),
    })
    try:
        result = module.workforce.erlang(contacts, params)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return ErlangOut(raw_agents=result.raw_agents, agents=result.agents,
                     service_level=round(result.service_level, 4),
                     occupancy=round(result.occupancy, 4),
                     waiting_probability=round(result.waiting_probability, 4))


@router.post("/schedule", response_model=ScheduleOut, responses={
    **_SUPERVISOR, 409: {"description": "no active agents with the role agent"}})
async def build_schedule(caller: CurrentSupervisor, module: HandoffDep,
                         week: WeekQuery = None) -> ScheduleOut:
    """Build the week: forecast, staffing, then shifts for the active agents with the fewest
    agent-hours; stored (replacing the week's shifts, cancelling its open swaps) and audited
    as `schedule_publish`."""
    planner = _planner(module)
    with http_errors():
        return await planner.build(_week(module, week), caller.actor)


@router.get("/schedule", response_model=ScheduleOut, responses=_SUPERVISOR)
async def schedule(caller: CurrentSupervisor, module: HandoffDep,
                   week: WeekQuery = None) -> ScheduleOut:
    """The week's coverage (scheduled shifts, breaks excluded) against its requirement, and
    its shifts. A week never built: ``published_at`` null, the live requirement, no shifts."""
    return await _planner(module).schedule(_week(module, week))


@router.get("/shifts/mine", response_model=MyShiftsOut, responses=_LOGIN)
async def my_shifts(caller: CurrentCaller, module: HandoffDep,
                    week: WeekQuery = None) -> MyShiftsOut:
    """The caller's shifts of the week, every status."""
    return await module.workforce.my_shifts(caller.agent.id, _week(module, week))


@router.get("/swaps", response_model=SwapsOut, responses=_LOGIN)
async def swaps(caller: CurrentCaller, module: HandoffDep) -> SwapsOut:
    """Newest first. Agents see the open offers and their own swaps; supervisors see all."""
    return await module.workforce.swaps.visible_to(caller.agent)


@router.post("/swaps", response_model=SwapOut, status_code=status.HTTP_201_CREATED,
             responses=_SWAP)
async def offer(body: SwapIn, caller: CurrentCaller, module: HandoffDep) -> SwapOut:
    """Offer one of your scheduled shifts that has not started (audited `swap_offer`)."""
    with http_errors():
        return await module.workforce.swaps.offer(caller.agent, body.shift_id, caller.actor)


@router.post("/swaps/{swap_id}/accept", response_model=SwapOut, responses=_SWAP)
async def accept(swap_id: Id, caller: CurrentCaller, module: HandoffDep,
                 body: AcceptIn | None = None) -> SwapOut:
    """Take the offered shift, optionally giving one of yours in return. Your shifts that
    overlap it are released. Approved at once when no interval it lowers falls below the
    requirement; otherwise "accepted" with the impact, for a supervisor."""
    with http_errors():
        return await module.workforce.swaps.accept(
            caller.agent, swap_id, body.give_shift_id if body else None, caller.actor)


@router.post("/swaps/{swap_id}/approve", response_model=SwapOut, responses=_DECIDE)
async def approve_swap(swap_id: Id, caller: CurrentSupervisor, module: HandoffDep) -> SwapOut:
    """Approve an accepted swap: the shifts change hands (audited `swap_approve`)."""
    with http_errors():
        return await module.workforce.swaps.approve(caller.agent, swap_id, caller.actor)


@router.post("/swaps/{swap_id}/refuse", response_model=SwapOut, responses=_DECIDE)
async def refuse_swap(swap_id: Id, caller: CurrentSupervisor, module: HandoffDep) -> SwapOut:
    """Refuse an accepted swap: nothing changes hands (audited `swap_refuse`)."""
    with http_errors():
        return await module.workforce.swaps.refuse(caller.agent, swap_id, caller.actor)


@router.post("/swaps/{swap_id}/cancel", response_model=SwapOut, responses=_SWAP)
async def cancel_swap(swap_id: Id, caller: CurrentCaller, module: HandoffDep) -> SwapOut:
    """Withdraw your offer while it is offered or accepted (audited `swap_cancel`)."""
    with http_errors():
        return await module.workforce.swaps.cancel(caller.agent, swap_id, caller.actor)


@router.post("/time-off", response_model=TimeOffOut, status_code=status.HTTP_201_CREATED,
             responses={**_LOGIN, 409: {"description": "it overlaps your open or approved "
                                                       "time off"},
                        422: {"description": "'to' not after 'from', longer than 31 days, or "
                                             "a reason over 500 characters"}})
async def request_time_off(body: TimeOffIn, caller: CurrentCaller,
                           module: HandoffDep) -> TimeOffOut:
    """Ask for time off (audited `time_off_request`); the answer shows its impact."""
    if body.from_.year < FIRST.year or body.to.year > LAST.year:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="time off must be within the years 2000-2999")
    with http_errors():
        return await module.workforce.time_off.request(caller.agent, body, caller.actor)


@router.get("/time-off", response_model=TimeOffsOut, responses=_LOGIN)
async def time_off(caller: CurrentCaller, module: HandoffDep) -> TimeOffsOut:
    """Newest first: agents see their own requests, supervisors all."""
    return await module.workforce.time_off.visible_to(caller.agent)


@router.post("/time-off/{request_id}/approve", response_model=TimeOffOut, responses=_DECIDE)
async def approve_time_off(request_id: Id, caller: CurrentSupervisor,
                           module: HandoffDep) -> TimeOffOut:
    """Approve: the agent's overlapping shifts become "off" (audited `time_off_approve`)."""
    with http_errors():
        return await module.workforce.time_off.approve(caller.agent, request_id, caller.actor)


@router.post("/time-off/{request_id}/refuse", response_model=TimeOffOut, responses=_DECIDE)
async def refuse_time_off(request_id: Id, caller: CurrentSupervisor,
                          module: HandoffDep) -> TimeOffOut:
    """Refuse a time off request (audited `time_off_refuse`)."""
    with http_errors():
        return await module.workforce.time_off.refuse(caller.agent, request_id, caller.actor)


