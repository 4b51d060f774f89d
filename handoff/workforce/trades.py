"""Shift swaps and time off, each change one transaction with its audit entry.

**Swaps.** An agent offers one of their scheduled shifts that has not started. A colleague
accepts it, optionally giving one of their own shifts in return (``give_shift_id``). The
accepter's own shifts that overlap the offered one and are not given in return are released
(nobody works them). Nobody may end up with two overlapping shifts, nor with a shift inside
their approved time off (:class:`Conflict`).

The rule for automatic approval: the shifts given and taken are still worked, so only the
released shifts lower coverage. When no interval the swap lowers ends below its requirement
(an interval already short and left as it was does not count), the swap is approved at once
(``decided_by`` "automatic"); otherwise it waits, "accepted" with ``coverage_ok`` false and
the intervals in ``impact``, for a supervisor. Approving moves the shifts: the given and
released rows become "swapped" and new rows hold the shifts for their new agents; other open
swaps of those shifts are cancelled.

Two agents accepting one offer at once: the status changes by a conditional UPDATE
(``offered`` -> ``accepted``), so one wins and the other gets a :class:`Conflict`.

**Time off.** An agent asks for a period (at most 31 days); a supervisor approves it (the
agent's overlapping scheduled shifts become "off", their open swaps are cancelled) or refuses
it. Requests show how many shifts they touch and the intervals they would leave short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import utcnow
from bot.storage import Database, affected_rows
from handoff.audit import Actor, AuditAction, AuditTrail
from handoff.auth import AgentInfo
from handoff.errors import Conflict, Forbidden, NotFound
from handoff.tables import (
    ShiftStatus,
    ShiftSwap,
    SwapStatus,
    TimeOffRequest,
    TimeOffStatus,
    WorkforceShift,
)
from handoff.timeutil import aware
from handoff.workforce.coverage import Short
from handoff.workforce.roster import impact, names_of, overlapping, shift_out, short_out
from handoff.workforce.schemas import (
    SwapOut,
    SwapsOut,
    TimeOffImpact,
    TimeOffIn,
    TimeOffOut,
    TimeOffsOut,
)

LIST_LIMIT = 300
AUTOMATIC = "automatic"


@dataclass(frozen=True, slots=True)
class _Exchange:
    """What a swap would do: ``offered`` to the accepter, ``given`` to the offerer, the
    accepter's ``released`` shifts dropped, and the intervals left short."""

    offered: WorkforceShift
    given: WorkforceShift | None
    released: list[WorkforceShift]
    short: list[Short]


def _copy(row: WorkforceShift, agent_id: int, now: datetime) -> WorkforceShift:
    return WorkforceShift(week=row.week, agent_id=agent_id, shift=row.shift,
                          starts_at=row.starts_at, ends_at=row.ends_at,
                          breaks=list(row.breaks or []), status=ShiftStatus.SCHEDULED,
                          created_at=now)


async def _shift(session: AsyncSession, shift_id: int, *, lock: bool = False) -> WorkforceShift:
    query = select(WorkforceShift).where(WorkforceShift.id == shift_id)
    if lock:
        query = query.with_for_update(key_share=True)  # as bot.storage.LOCK_ROW says
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no shift {shift_id}")
    return row


async def _away(session: AsyncSession, agent_id: int, row: WorkforceShift) -> bool:
    """Whether the agent's approved time off overlaps the shift."""
    found = await session.scalar(select(TimeOffRequest.id).where(
        TimeOffRequest.agent_id == agent_id, TimeOffRequest.status == TimeOffStatus.APPROVED,
        TimeOffRequest.starts_at < row.ends_at, TimeOffRequest.ends_at > row.starts_at,
    ).limit(1))
    return found is not None


async def _cancel_touching(
    session: AsyncSession, shift_ids: Sequence[int], actor: Actor, *, keep: int | None,
    because: str, by: int | None, now: datetime,
) -> list[int]:
    """Cancel the open swaps of these shifts (but ``keep``), audited."""
    if not shift_ids:
        return []
    query = select(ShiftSwap.id).where(
        ShiftSwap.status.in_(SwapStatus.OPEN),
        or_(ShiftSwap.shift_id.in_(shift_ids), ShiftSwap.give_shift_id.in_(shift_ids)))
    if keep is not None:
        query = query.where(ShiftSwap.id != keep)
    ids = list(await session.scalars(query.order_by(ShiftSwap.id)))
    if ids:
        await session.execute(update(ShiftSwap).where(
            ShiftSwap.id.in_(ids), ShiftSwap.status.in_(SwapStatus.OPEN),
        ).values(status=SwapStatus.CANCELLED, decided_at=now, decided_by=by))
        for swap_id in ids:
            AuditTrail.add(session, actor, AuditAction.SWAP_CANCEL,
                           details={"swap_id": swap_id, "because": because})
    return ids


class Swaps:
    def __init__(self, db: Database, *, zone: ZoneInfo,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._zone = zone
        self._clock = clock

    def _now(self) -> datetime:
        return aware(self._clock())

    async def offer(self, agent: AgentInfo, shift_id: int, actor: Actor) -> SwapOut:
        now = self._now()
        async with self._db.transaction() as session:
            row = await _shift(session, shift_id, lock=True)
            if row.agent_id != agent.id:
                raise Forbidden("only the shift's agent may offer it")
            self._swappable(row, now)
            taken = await session.scalar(select(ShiftSwap.id).where(
                ShiftSwap.shift_id == row.id, ShiftSwap.status.in_(SwapStatus.OPEN)).limit(1))
            if taken is not None:
                raise Conflict(f"the shift is already offered (swap {taken}); cancel that "
                               "offer first")
            swap = ShiftSwap(shift_id=row.id, offered_by=agent.id, status=SwapStatus.OFFERED,
                             created_at=now)
            session.add(swap)
            await session.flush()
            AuditTrail.add(session, actor, AuditAction.SWAP_OFFER,
                           details={"swap_id": swap.id, "shift_id": row.id})
            return await self._out(session, swap)

    @staticmethod
    def _swappable(row: WorkforceShift, now: datetime, what: str = "the shift") -> None:
        if row.status != ShiftStatus.SCHEDULED:
            raise Conflict(f"{what} is {row.status}, not scheduled: it cannot change hands")
        if aware(row.starts_at) <= now:
            raise Conflict(f"{what} has started: it cannot change hands")

    async def _exchange(
        self, session: AsyncSession, swap: ShiftSwap, accepter: int, give_shift_id: int | None,
        now: datetime,
    ) -> _Exchange:
        """Check the swap against the shifts as they are now; Conflict when it cannot be."""
        if accepter == swap.offered_by:
            raise Conflict("you cannot accept your own offer; cancel it instead")
        offered = await _shift(session, swap.shift_id)
        self._swappable(offered, now)
        given = None
        if give_shift_id is not None:
            given = await _shift(session, give_shift_id)
            if given.agent_id != accepter:
                raise Forbidden("give_shift_id must be one of your own shifts")
            self._swappable(given, now, "the shift given in return")
        released = [r for r in await overlapping(session, accepter, offered.starts_at,
                                                 offered.ends_at)
                    if given is None or r.id != given.id]
        if given is not None:
            clash = [r for r in await overlapping(session, swap.offered_by, given.starts_at,
                                                  given.ends_at) if r.id != offered.id]
            if clash:
                raise Conflict(f"the offering agent already works shift {clash[0].id} then: "
                               "give a shift that does not overlap theirs")
            if await _away(session, swap.offered_by, given):
                raise Conflict("the offering agent has approved time off during the shift "
                               "given in return")
        if await _away(session, accepter, offered):
            raise Conflict("you have approved time off during the offered shift")
        short = await impact(session, self._zone, released)
        return _Exchange(offered, given, released, short)

    async def accept(self, agent: AgentInfo, swap_id: int, give_shift_id: int | None,
                     actor: Actor) -> SwapOut:
        now = self._now()
        async with self._db.transaction() as session:
            swap = await self._swap(session, swap_id)
            if swap.status != SwapStatus.OFFERED:
                raise Conflict(f"the swap is {swap.status}: only an offered swap can be "
                               "accepted")
            change = await self._exchange(session, swap, agent.id, give_shift_id, now)
            automatic = not change.short
            won = await session.execute(
                update(ShiftSwap)
                .where(ShiftSwap.id == swap.id, ShiftSwap.status == SwapStatus.OFFERED)
                .values(status=SwapStatus.ACCEPTED, accepted_by=agent.id,
                        give_shift_id=give_shift_id, coverage_ok=automatic))
            if affected_rows(won) != 1:
                raise Conflict("someone accepted or withdrew this offer a moment ago")
            await session.refresh(swap)
            AuditTrail.add(session, actor, AuditAction.SWAP_ACCEPT, details={
                "swap_id": swap.id, "shift_id": swap.shift_id, "give_shift_id": give_shift_id,
                "released": [r.id for r in change.released], "coverage_ok": automatic})
            if automatic:
                await self._apply(session, swap, change, actor, decided_by=None, now=now)
            return await self._out(session, swap)

    async def _apply(self, session: AsyncSession, swap: ShiftSwap, change: _Exchange,
                     actor: Actor, *, decided_by: int | None, now: datetime) -> None:
        assert swap.accepted_by is not None
        moved = [change.offered, *([change.given] if change.given else []), *change.released]
        ids = [r.id for r in moved]
        done = await session.execute(
            update(WorkforceShift)
            .where(WorkforceShift.id.in_(ids), WorkforceShift.status == ShiftStatus.SCHEDULED)
            .values(status=ShiftStatus.SWAPPED))
        if affected_rows(done) != len(ids):
            raise Conflict("the shifts changed meanwhile; look at the swap again")
        won = await session.execute(
            update(ShiftSwap)
            .where(ShiftSwap.id == swap.id, ShiftSwap.status == SwapStatus.ACCEPTED)
            .values(status=SwapStatus.APPROVED, decided_at=now, decided_by=decided_by))
        if affected_rows(won) != 1:
            raise Conflict("the swap was decided or withdrawn a moment ago")
        new_rows = [_copy(change.offered, swap.accepted_by, now)]
        if change.given is not None:
            new_rows.append(_copy(change.given, swap.offered_by, now))
        session.add_all(new_rows)
        await session.flush()
        cancelled = await _cancel_touching(session, ids, actor, keep=swap.id,
                                           because=f"swap_{swap.id}_approved", by=decided_by,
                                           now=now)
        AuditTrail.add(session, actor, AuditAction.SWAP_APPROVE, details={
            "swap_id": swap.id, "automatic": decided_by is None,
            "new_shifts": [r.id for r in new_rows], "released": [r.id for r in change.released],
            "cancelled_swaps": cancelled})
        for row in moved:
            await session.refresh(row)
        await session.refresh(swap)

    async def approve(self, supervisor: AgentInfo, swap_id: int, actor: Actor) -> SwapOut:
        now = self._now()
        async with self._db.transaction() as session:
            swap = await self._swap(session, swap_id, accepted=True)
            assert swap.accepted_by is not None
            change = await self._exchange(session, swap, swap.accepted_by, swap.give_shift_id,
                                          now)
            await self._apply(session, swap, change, actor, decided_by=supervisor.id, now=now)
            return await self._out(session, swap)

    async def refuse(self, supervisor: AgentInfo, swap_id: int, actor: Actor) -> SwapOut:
        now = self._now()
        async with self._db.transaction() as session:
            swap = await self._swap(session, swap_id, accepted=True)
            await self._decide(session, swap, SwapStatus.REFUSED, (SwapStatus.ACCEPTED,),
                               supervisor.id, now)
            AuditTrail.add(session, actor, AuditAction.SWAP_REFUSE, details={"swap_id": swap.id})
            return await self._out(session, swap)

    async def cancel(self, agent: AgentInfo, swap_id: int, actor: Actor) -> SwapOut:
        now = self._now()
        async with self._db.transaction() as session:
            swap = await self._swap(session, swap_id)
            if swap.offered_by != agent.id:
                raise Forbidden("only the agent who offered the shift may withdraw the offer")
            if swap.status not in SwapStatus.OPEN:
                raise Conflict(f"the swap is {swap.status}: only an open one can be withdrawn")
            await self._decide(session, swap, SwapStatus.CANCELLED, SwapStatus.OPEN, agent.id,
                               now)
            AuditTrail.add(session, actor, AuditAction.SWAP_CANCEL,
                           details={"swap_id": swap.id, "because": "withdrawn"})
            return await self._out(session, swap)

    @staticmethod
    async def _decide(session: AsyncSession, swap: ShiftSwap, status: str,
                      allowed: Sequence[str], by: int, now: datetime) -> None:
        won = await session.execute(
            update(ShiftSwap).where(ShiftSwap.id == swap.id, ShiftSwap.status.in_(allowed))
            .values(status=status, decided_at=now, decided_by=by))
        if affected_rows(won) != 1:
            raise Conflict("the swap was decided or withdrawn a moment ago")
        await session.refresh(swap)

    @staticmethod
    async def _swap(session: AsyncSession, swap_id: int, *, accepted: bool = False) -> ShiftSwap:
        swap = await session.get(ShiftSwap, swap_id)
        if swap is None:
            raise NotFound(f"no swap {swap_id}")
        if accepted and swap.status != SwapStatus.ACCEPTED:
            raise Conflict(f"the swap is {swap.status}: a supervisor decides accepted swaps only")
        return swap

    async def visible_to(self, viewer: AgentInfo) -> SwapsOut:
        query = select(ShiftSwap).order_by(ShiftSwap.id.desc()).limit(LIST_LIMIT)
        if not viewer.is_supervisor:
            query = query.where(or_(
                ShiftSwap.status == SwapStatus.OFFERED, ShiftSwap.offered_by == viewer.id,
                ShiftSwap.accepted_by == viewer.id))
        async with self._db.sessions() as session:
            swaps = (await session.scalars(query)).all()
            return SwapsOut(items=[await self._out(session, swap) for swap in swaps])

    async def _out(self, session: AsyncSession, swap: ShiftSwap) -> SwapOut:
        offered = await session.get(WorkforceShift, swap.shift_id)
        given = (await session.get(WorkforceShift, swap.give_shift_id)
                 if swap.give_shift_id is not None else None)
        assert offered is not None
        short: list[Short] = []
        if swap.status == SwapStatus.ACCEPTED and swap.accepted_by is not None:
            released = [r for r in await overlapping(session, swap.accepted_by,
                                                     offered.starts_at, offered.ends_at)
                        if given is None or r.id != given.id]
            short = await impact(session, self._zone, released)
        names = await names_of(session, [offered.agent_id, given.agent_id if given else None,
                                         swap.offered_by, swap.accepted_by, swap.decided_by])
        decided_by = None
        if swap.status == SwapStatus.APPROVED and swap.decided_by is None:
            decided_by = AUTOMATIC
        elif swap.decided_by is not None:
            decided_by = names.get(swap.decided_by, (f"#{swap.decided_by}",))[0]
        return SwapOut(
            id=swap.id, status=swap.status, shift=shift_out(offered, names),
            give_shift=shift_out(given, names) if given else None,
            offered_by=names.get(swap.offered_by, (f"#{swap.offered_by}",))[0],
            accepted_by=(names.get(swap.accepted_by, (f"#{swap.accepted_by}",))[0]
                         if swap.accepted_by is not None else None),
            coverage_ok=swap.coverage_ok, impact=short_out(short),
            created_at=aware(swap.created_at),
            decided_at=aware(swap.decided_at) if swap.decided_at else None,
            decided_by=decided_by)


class TimeOff:
    def __init__(self, db: Database, *, zone: ZoneInfo,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._zone = zone
        self._clock = clock

    async def request(self, agent: AgentInfo, body: TimeOffIn, actor: Actor) -> TimeOffOut:
        now = aware(self._clock())
        async with self._db.transaction() as session:
            clash = await session.scalar(select(TimeOffRequest.id).where(
                TimeOffRequest.agent_id == agent.id,
                TimeOffRequest.status.in_((TimeOffStatus.REQUESTED, TimeOffStatus.APPROVED)),
                TimeOffRequest.starts_at < body.to, TimeOffRequest.ends_at > body.from_,
            ).limit(1))
            if clash is not None:
                raise Conflict(f"it overlaps your time off request {clash}; change or wait "
                               "for that one")
            row = TimeOffRequest(agent_id=agent.id, starts_at=body.from_, ends_at=body.to,
                                 reason=body.reason, status=TimeOffStatus.REQUESTED,
                                 created_at=now)
            session.add(row)
            await session.flush()
            AuditTrail.add(session, actor, AuditAction.TIME_OFF_REQUEST,
                           details={"time_off_id": row.id})
            return await self._out(session, row)

    async def approve(self, supervisor: AgentInfo, request_id: int, actor: Actor) -> TimeOffOut:
        now = aware(self._clock())
        async with self._db.transaction() as session:
            row = await self._decide(session, request_id, TimeOffStatus.APPROVED,
                                     supervisor.id, now)
            touched = await overlapping(session, row.agent_id, row.starts_at, row.ends_at)
            ids = [r.id for r in touched]
            if ids:
                await session.execute(
                    update(WorkforceShift)
                    .where(WorkforceShift.id.in_(ids),
                           WorkforceShift.status == ShiftStatus.SCHEDULED)
                    .values(status=ShiftStatus.OFF))
            cancelled = await _cancel_touching(session, ids, actor, keep=None,
                                               because=f"time_off_{row.id}_approved",
                                               by=supervisor.id, now=now)
            AuditTrail.add(session, actor, AuditAction.TIME_OFF_APPROVE, details={
                "time_off_id": row.id, "shifts_off": ids, "cancelled_swaps": cancelled})
            return await self._out(session, row)

    async def refuse(self, supervisor: AgentInfo, request_id: int, actor: Actor) -> TimeOffOut:
        now = aware(self._clock())
        async with self._db.transaction() as session:
            row = await self._decide(session, request_id, TimeOffStatus.REFUSED,
                                     supervisor.id, now)
            AuditTrail.add(session, actor, AuditAction.TIME_OFF_REFUSE,
                           details={"time_off_id": row.id})
            return await self._out(session, row)

    @staticmethod
    async def _decide(session: AsyncSession, request_id: int, status: str, by: int,
                      now: datetime) -> TimeOffRequest:
        row = await session.get(TimeOffRequest, request_id)
        if row is None:
            raise NotFound(f"no time off request {request_id}")
        won = await session.execute(
            update(TimeOffRequest)
            .where(TimeOffRequest.id == row.id, TimeOffRequest.status == TimeOffStatus.REQUESTED)
            .values(status=status, decided_at=now, decided_by=by))
        if affected_rows(won) != 1:
            await session.refresh(row)
            raise Conflict(f"the request is {row.status}: only a requested one can be decided")
        await session.refresh(row)
        return row

    async def visible_to(self, viewer: AgentInfo) -> TimeOffsOut:
        query = select(TimeOffRequest).order_by(TimeOffRequest.id.desc()).limit(LIST_LIMIT)
        if not viewer.is_supervisor:
            query = query.where(TimeOffRequest.agent_id == viewer.id)
        async with self._db.sessions() as session:
            rows = (await session.scalars(query)).all()
            return TimeOffsOut(items=[await self._out(session, row) for row in rows])

    async def _out(self, session: AsyncSession, row: TimeOffRequest) -> TimeOffOut:
        """The impact: while requested, the agent's scheduled shifts it touches and what
        taking them off would leave short; once decided, the shifts it touches (now "off"
        when approved) and no shortfall to weigh."""
        statuses = ((ShiftStatus.SCHEDULED,) if row.status != TimeOffStatus.APPROVED
                    else (ShiftStatus.SCHEDULED, ShiftStatus.OFF))
        touched = await overlapping(session, row.agent_id, row.starts_at, row.ends_at,
                                    statuses=statuses)
        short = (await impact(session, self._zone, touched)
                 if row.status == TimeOffStatus.REQUESTED else [])
        names = await names_of(session, [row.agent_id, row.decided_by])
        return TimeOffOut(
            id=row.id, agent=names.get(row.agent_id, (f"#{row.agent_id}",))[0],
            from_=aware(row.starts_at), to=aware(row.ends_at), reason=row.reason,
            status=row.status, impact=TimeOffImpact(shifts=len(touched), short=short_out(short)),
            created_at=aware(row.created_at),
            decided_at=aware(row.decided_at) if row.decided_at else None,
            decided_by=(names.get(row.decided_by, (f"#{row.decided_by}",))[0]
                        if row.decided_by is not None else None))

