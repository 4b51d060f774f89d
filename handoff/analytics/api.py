"""The analytics routes, for supervisors: ``GET /api/desk/analytics`` (every figure as JSON) and
``GET /api/desk/analytics/{figure}.csv`` (one figure as a CSV download). An agent gets 403,
no login 401, a period that is backwards or longer than 366 days 422."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from handoff.analytics import Period, PeriodError
from handoff.analytics.csv_export import Figure, figure_csv
from handoff.analytics.figures import local_days
from handoff.analytics.schemas import AnalyticsOut
from handoff.deps import CurrentSupervisor, HandoffDep
from handoff.period import DateOrTime, period
from handoff.stats import zone

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "not logged in"},
    403: {"description": "supervisors only"},
    422: {"description": "a bad period: 'from' not before 'to', or longer than 366 days"},
}
FromQuery = Annotated[DateOrTime | None, Query(
    alias="from", description="ISO date (a day in DESK_TIMEZONE) or date and time; "
                              "default: 6 days before the day of 'to', at midnight")]
ToQuery = Annotated[DateOrTime | None, Query(
    description="inclusive; a date means to the end of that day; default: now")]
ChannelQuery = Annotated[str | None, Query(
    pattern=r"^[a-z0-9_]{1,32}$", description="only this channel (webchat, telegram, ...)")]


def _period(module: HandoffDep, from_: DateOrTime | None, to: DateOrTime | None,
            channel: str | None) -> Period:
    since, until = period(from_, to, module.settings.desk_timezone)
    try:
        return module.analytics.period(since, until, channel)
    except PeriodError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None


@router.get("/analytics", response_model=AnalyticsOut, responses=_ERRORS)
async def analytics(caller: CurrentSupervisor, module: HandoffDep, from_: FromQuery = None,
                    to: ToQuery = None, channel: ChannelQuery = None) -> AnalyticsOut:
    """The quality figures of the period (default: the last 7 days in DESK_TIMEZONE):
    containment, repeat contacts, CSAT, service level per day and hour, sentiment, handoff
    reasons and the top messages the bot did not understand. The definitions are in the
    README (handoff/analytics/figures.py)."""
    return await module.analytics.compute(_period(module, from_, to, channel))


@router.get("/analytics/{figure}.csv", response_class=Response, responses={
    **_ERRORS, 200: {"content": {"text/csv": {}}, "description": "the figure as CSV"}})
async def analytics_csv(figure: Figure, caller: CurrentSupervisor, module: HandoffDep,
                        from_: FromQuery = None, to: ToQuery = None,
                        channel: ChannelQuery = None) -> Response:
    """One figure of `GET /api/desk/analytics` as a CSV table (UTF-8, a header row). It
    works out every figure and keeps one: simple, and the page asks for one at a time."""
    chosen = _period(module, from_, to, channel)
    body = await module.analytics.compute(chosen)
    days = local_days(chosen.since, chosen.until, zone(module.settings.desk_timezone))
    suffix = f"-{chosen.channel}" if chosen.channel else ""
    name = f"abonent-{figure.value}{suffix}-{days[0]}-{days[-1]}.csv"
    return Response(
        content=figure_csv(figure, body).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )

