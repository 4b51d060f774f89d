"""The goodwill decision at claim time, the grant through the billing, the daily ``used``
refresh.

The decision is taken inside the claim's transaction (or the transaction that ends a handoff
nobody answered) and recorded in ``goodwill_decisions``: ``refused`` with the rule, or
``pending``. A pending grant is asked of the billing after the commit (``grant_pending``, woken
by the desk and every 30 s), with the idempotency key ``goodwill-handoff-<id>`` so a repeat
after a crash or a lost answer is not a second bonus. The billing's confirmation turns it
``granted`` by a conditional UPDATE, in the transaction that also queues the apology to the
subscriber: with two replicas, only the one whose UPDATE wins tells them.

A grant the billing did not confirm stays pending and is asked again: 30 s after the first
failure, then doubling up to once an hour. After ``grant.max_attempts`` failures (about a day
by default) it is refused with the rule ``billing_failed`` and logged as an error: visible on the
analytics page, never dropped silently. To try again later, set it back to pending
(``UPDATE goodwill_decisions SET outcome='pending', rule=NULL, attempts=0``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoffice_contract import BackofficeError, Billing
from bot.messages import OutboundMessage, utcnow
from bot.notify import Notifier
from bot.outbox import enqueue_reply
from bot.storage import Conversation, Database, Identity, affected_rows
from handoff.goodwill.policy import GOODWILL_FILE, Policy, load_policy
from handoff.goodwill.rules import Facts, Related, Rule, decide
from handoff.stats import zone
from handoff.tables import GoodwillDecision, GoodwillOutcome, Handoff
from handoff.timeutil import aware, seconds_between
from knowledge_base import KnowledgeBase, PhraseKey

log = logging.getLogger(__name__)

FIRST_RETRY = 30.0  # seconds after the first failure; doubles per failure
LONGEST_RETRY = 3600.0
GRANT_TIMEOUT = 30.0  # one billing call, whatever the client's own budget
BATCH = 100
RELATED_LOOKBACK = timedelta(days=1)  # a handoff waiting longer than a day is not "related"
USED_WINDOW = timedelta(days=60)
USED_RECHECK = timedelta(hours=20)
_GRANTING = (GoodwillOutcome.PENDING, GoodwillOutcome.GRANTED)


def retry_due(decided_at: datetime, attempts: int) -> datetime:
    """When a pending grant that failed ``attempts`` times is asked again."""
    delay = sum(min(FIRST_RETRY * 2 ** i, LONGEST_RETRY) for i in range(attempts))
    return aware(decided_at) + timedelta(seconds=delay)


def idempotency_key(handoff_id: int) -> str:
    return f"goodwill-handoff-{handoff_id}"


class Goodwill:
    def __init__(self, db: Database, *, kb: KnowledgeBase, billing: Billing | None,
                 wait_seconds: int, timezone: str, notifier: Notifier | None = None,
                 policy_file: Path = GOODWILL_FILE) -> None:
        """Reads ``policy_file`` now, so a broken policy stops the start-up."""
        self._db = db
        self._kb = kb
        self._billing = billing
        self._notifier = notifier
        self.wait_seconds = wait_seconds
        self.timezone = timezone
        self._zone = zone(timezone)
        self.policy: Policy = load_policy(policy_file)
        self.wake = asyncio.Event()  # set after a commit that left a grant pending

    # -- the decision (inside the desk's transactions) ---------------------------------------

    async def on_claimed(self, session: AsyncSession, conversation: Conversation,
                         handoff: Handoff, now: datetime) -> None:
        """Inside the claim's transaction: decide (and record) when the wait was too long."""
        await self._decide(session, conversation, handoff, now, left=False)

    async def on_ended_unanswered(self, session: AsyncSession, handoff: Handoff,
                                  now: datetime) -> None:
        """Inside the transaction that ends a handoff nobody answered (the subscriber
        cancelled or left): record the refusal when the wait was too long."""
        conversation = await session.get(Conversation, handoff.conversation_id)
        if conversation is not None:
            await self._decide(session, conversation, handoff, now, left=True)

    async def _decide(self, session: AsyncSession, conversation: Conversation,
                      handoff: Handoff, now: datetime, *, left: bool) -> None:
        wait = seconds_between(handoff.created_at, now)
        if wait <= self.wait_seconds:
            return  # not a long wait: no decision at all
        identity = await session.get(Identity, conversation.identity_id)
        phone = identity.verified_phone if identity is not None else None
        facts = Facts(
            created_at=handoff.created_at, decided_at=now, verified=bool(phone), left=left,
            last_grant_at=await self._last_grant(session, conversation.customer_id, now),
            related=await self._related(session, conversation.customer_id, handoff, now),
            grants_today=await self._grants_today(session, now),
        )
        rule = decide(self.policy.rules, facts)
        bonus = self.policy.bonus
        granting = rule is None
        session.add(GoodwillDecision(
            handoff_id=handoff.id, customer_id=conversation.customer_id,
            msisdn=phone.lstrip("+") if phone else None, decided_at=now,
            wait_seconds=round(wait, 3),
            outcome=GoodwillOutcome.PENDING if granting else GoodwillOutcome.REFUSED,
            rule=None if granting else str(rule),
            kind=bonus.kind if granting else None, amount=bonus.amount if granting else None,
            cost=str(bonus.cost) if granting else None,
            currency=bonus.currency if granting else None,
            idempotency_key=idempotency_key(handoff.id) if granting else None, attempts=0,
        ))
        await session.flush()
        log.info("goodwill for handoff %s after %d s: %s", handoff.id, int(wait),
                 "granted (pending the billing)" if granting else f"refused by {rule}")

    async def _last_grant(self, session: AsyncSession, customer_id: int,
                          now: datetime) -> datetime | None:
        days = self.policy.rules.once_per_customer_days
        if days is None:
            return None
        last: datetime | None = await session.scalar(
            select(func.max(GoodwillDecision.decided_at))
            .where(GoodwillDecision.customer_id == customer_id,
                   GoodwillDecision.decided_at >= now - timedelta(days=days),
                   GoodwillDecision.outcome.in_(_GRANTING))
        )
        return last

    async def _related(self, session: AsyncSession, customer_id: int, handoff: Handoff,
                       now: datetime) -> tuple[Related, ...]:
        """The other handoffs of the same customer or client address around this one."""
        minutes = self.policy.rules.reopened_within_minutes or 0
        since = aware(handoff.created_at) - RELATED_LOOKBACK - timedelta(minutes=minutes)
        same = Conversation.customer_id == customer_id
        if handoff.client_address:
            same = or_(same, Handoff.client_address == handoff.client_address)
        rows = await session.execute(
            select(Handoff.created_at, Handoff.claimed_at, Handoff.ended_at)
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .where(same, Handoff.id != handoff.id, Handoff.created_at >= since,
                   Handoff.created_at < now)
        )
        return tuple(Related(c, claimed, ended) for c, claimed, ended in rows)

    async def _grants_today(self, session: AsyncSession, now: datetime) -> int:
        if self.policy.rules.daily_budget is None:
            return 0
        local = aware(now).astimezone(self._zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        count = await session.scalar(
            select(func.count()).select_from(GoodwillDecision)
            .where(GoodwillDecision.decided_at >= midnight,
                   GoodwillDecision.outcome.in_(_GRANTING))
        )
        return int(count or 0)

    # -- the grant (after the commit) ---------------------------------------------------------

    async def grant_pending(self, now: datetime | None = None) -> int:
        """Ask the billing for every pending grant that is due; returns how many were
        confirmed (and the subscriber told)."""
        if self._billing is None:
            return 0
        now = now or utcnow()
        async with self._db.sessions() as session:
            pending = list((await session.scalars(
                select(GoodwillDecision)
                .where(GoodwillDecision.outcome == GoodwillOutcome.PENDING)
                .order_by(GoodwillDecision.id).limit(BATCH)
            )).all())
        granted = 0
        for decision in pending:
            if retry_due(decision.decided_at, decision.attempts) > aware(now):
                continue
            if await self._grant(self._billing, decision):
                granted += 1
        return granted

    async def _grant(self, billing: Billing, decision: GoodwillDecision) -> bool:
        try:
            await asyncio.wait_for(billing.grant_bonus(
                decision.msisdn or "", kind=decision.kind or "", amount=decision.amount or 0,
                reason=f"goodwill: long wait for the support desk (handoff {decision.handoff_id})",
                idempotency_key=decision.idempotency_key or idempotency_key(decision.handoff_id),
            ), GRANT_TIMEOUT)
        except (BackofficeError, TimeoutError, ValueError) as exc:
            await self._failed(decision, exc)
            return False
        return await self._confirm(decision.id)

    async def _confirm(self, decision_id: int) -> bool:
        """pending -> granted and the apology queued, in one transaction; False when another
        process confirmed it first (it told the subscriber)."""
        async with self._db.transaction() as session:
            now = utcnow()
            won = await session.execute(
                update(GoodwillDecision)
                .where(GoodwillDecision.id == decision_id,
                       GoodwillDecision.outcome == GoodwillOutcome.PENDING)
                .values(outcome=GoodwillOutcome.GRANTED, granted_at=now, last_error=None)
            )
            if affected_rows(won) != 1:
                return False
            decision = await session.get(GoodwillDecision, decision_id)
            handoff = await session.get(Handoff, decision.handoff_id) if decision else None
            conversation = (await session.get(Conversation, handoff.conversation_id)
                            if handoff else None)
            identity = (await session.get(Identity, conversation.identity_id)
                        if conversation else None)
            if decision and handoff and conversation and identity:
                lang = conversation.lang or handoff.lang or "ru"
                text = self._kb.phrase(PhraseKey.GOODWILL_GRANTED, lang, amount=decision.amount)
                await enqueue_reply(session, conversation=conversation, address=identity.address,
                                    message=OutboundMessage(text=text))
        if self._notifier is not None:
            self._notifier.messages.publish()
            self._notifier.outbox.publish()
        log.info("goodwill bonus for handoff %s granted", decision_id)
        return True

    async def _failed(self, decision: GoodwillDecision, exc: Exception) -> None:
        attempts = decision.attempts + 1
        give_up = attempts >= self.policy.max_attempts
        values: dict[str, object] = {"attempts": attempts, "last_error": type(exc).__name__}
        if give_up:
            values.update(outcome=GoodwillOutcome.REFUSED, rule=str(Rule.BILLING_FAILED))
        async with self._db.transaction() as session:
            changed = await session.execute(
                update(GoodwillDecision)
                .where(GoodwillDecision.id == decision.id,
                       GoodwillDecision.outcome == GoodwillOutcome.PENDING,
                       GoodwillDecision.attempts == decision.attempts)
                .values(**values)
            )
        if affected_rows(changed) != 1:
            return  # another process counted this round
        if give_up:
            log.error("goodwill grant for handoff %s: the billing failed %d times (%s); given "
                      "up as refused by billing_failed (set it back to pending to retry)",
                      decision.handoff_id, attempts, type(exc).__name__)
        else:
            log.warning("goodwill grant for handoff %s failed (%s, attempt %d); it stays pending "
                        "and is retried", decision.handoff_id, type(exc).__name__, attempts)

    # -- the "used" flag ------------------------------------------------------------------------

    async def refresh_used(self, now: datetime | None = None) -> int:
        """Refresh the ``used`` flag of recent grants from the billing; returns how many."""
        if self._billing is None:
            return 0
        now = now or utcnow()
        async with self._db.sessions() as session:
            rows = (await session.execute(
                select(GoodwillDecision.id, GoodwillDecision.msisdn,
                       GoodwillDecision.idempotency_key)
                .where(GoodwillDecision.outcome == GoodwillOutcome.GRANTED,
                       GoodwillDecision.granted_at >= now - USED_WINDOW,
                       or_(GoodwillDecision.used.is_(None), GoodwillDecision.used.is_(False)),
                       or_(GoodwillDecision.used_checked_at.is_(None),
                           GoodwillDecision.used_checked_at < now - USED_RECHECK),
                       GoodwillDecision.msisdn.is_not(None))
            )).all()
        by_number: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
        for decision_id, msisdn, key in rows:
            by_number[msisdn].append((decision_id, key))
        refreshed = 0
        for msisdn, decisions in by_number.items():
            try:
                bonuses = await asyncio.wait_for(self._billing.bonuses(msisdn), GRANT_TIMEOUT)
            except (BackofficeError, TimeoutError, ValueError) as exc:
                log.warning("goodwill: could not read a subscriber's bonuses (%s); retried "
                            "tomorrow", type(exc).__name__)
                continue
            used = {b.idempotency_key: b.used for b in bonuses}
            async with self._db.transaction() as session:
                for decision_id, key in decisions:
                    await session.execute(
                        update(GoodwillDecision).where(GoodwillDecision.id == decision_id)
                        .values(used=used.get(key or "", False), used_checked_at=now)
                    )
                    refreshed += 1
        return refreshed
