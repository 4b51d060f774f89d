"""The goodwill bonus (#16) end to end, on SQLite and PostgreSQL: a verified subscriber on the
web chat escalates, the handoff's escalation is backdated in the database (no sleeping), an
agent claims through the desk API; the decision row, the bonus at a fake billing (real HTTP) and
the apology the subscriber reads on the web chat, in their language. Each anti-abuse rule of
handoff/data/goodwill.yml has a test that tries to game it; a grant whose answer was lost is
granted once across a restart; the billing's ``used`` flag is copied.

Each subscriber writes from their own loopback address (127.0.0.x) unless a test is about one
address.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.customers import VerifiedVia, link_phone
from bot.messages import utcnow
from bot.storage import Identity
from handoff.goodwill.rules import ALL_RULES, Rule
from handoff.tables import GoodwillDecision, Handoff
from knowledge_base import PhraseKey, load_knowledge_base
from tests.backoffice.fake_billing import FAKE_BILLING_TOKEN, FakeBilling
from tests.support.app import new_user
from tests.support.desk import Agent, Desk, client_from, running_desk
from tests.support.waiting import eventually
from tests.support.webchat import WebChatClient, WebChatTokens

WAIT = 180
_addresses = itertools.count(2)


def apology(lang: str) -> str:
    return load_knowledge_base().phrase(PhraseKey.GOODWILL_GRANTED, lang, amount=100)


@pytest.fixture
def billing() -> Iterator[FakeBilling]:
    with FakeBilling() as fake:
        yield fake


@dataclass
class Subscriber:
    user: str
    chat: WebChatClient
    conversation: str
    lang: str
    cursor: str | int = 0


@dataclass
class Scene:
    desk: Desk
    billing: FakeBilling
    stack: AsyncExitStack
    tokens: WebChatTokens

    async def escalate(self, *, address: str | None = None, user: str | None = None,
                       lang: str = "ru") -> Subscriber:
        """A web chat subscriber (from their own address unless given) asks for a person."""
        address = address or f"127.0.0.{next(_addresses)}"
        chat = WebChatClient(await self.stack.enter_async_context(
            client_from(self.desk, address)), self.tokens)
        user = user or new_user()
        answer = await chat.say(user, payload="/human_request", lang=lang)
        return Subscriber(user, chat, str(answer["conversation_id"]), lang,
                          answer.get("cursor") or 0)

    async def verify(self, subscriber: Subscriber, phone: str | None = None) -> str:
        """The subscriber proved a number (a new one of the billing unless given): their
        identity joins that number's customer, as an SMS code does (bot/customers.py)."""
        phone = phone or "+" + self.billing.add_subscriber().msisdn
        async with self.desk.services.db.transaction() as session:
            identity = await session.scalar(select(Identity.id).where(
                Identity.channel == "webchat", Identity.channel_user_id == subscriber.user))
            assert identity is not None
            await link_phone(session, identity, phone, via=VerifiedVia.SMS_CODE, now=utcnow())
        return phone

    async def handoff_of(self, subscriber: Subscriber) -> int:
        async with self.desk.services.db.sessions() as session:
            found = await session.scalar(
                select(Handoff.id).where(Handoff.conversation_id == subscriber.conversation)
                .order_by(Handoff.id.desc()).limit(1))
        assert found is not None
        return found

    async def backdate(self, handoff_id: int, *, created: float,
                       claimed: float | None = None, ended: float | None = None) -> None:
        """Set the handoff's times to that many seconds ago."""
        now = utcnow()
        values: dict[str, Any] = {"created_at": now - timedelta(seconds=created)}
        if claimed is not None:
            values["claimed_at"] = now - timedelta(seconds=claimed)
        if ended is not None:
            values["ended_at"] = now - timedelta(seconds=ended)
        async with self.desk.services.db.transaction() as session:
            await session.execute(update(Handoff).where(Handoff.id == handoff_id)
                                  .values(**values))

    async def claim(self, agent: Agent, subscriber: Subscriber) -> None:
        response = await self.desk.post(agent, subscriber.conversation, "claim")
        assert response.status_code == 200, response.text

    async def decision(self, handoff_id: int) -> GoodwillDecision | None:
        async with self.desk.services.db.sessions() as session:
            found: GoodwillDecision | None = await session.scalar(
                select(GoodwillDecision).where(GoodwillDecision.handoff_id == handoff_id))
            return found

    async def refused(self, handoff_id: int) -> str | None:
        decision = await self.decision(handoff_id)
        assert decision is not None, "a long wait is always decided"
        assert decision.outcome == "refused" and decision.amount is None
        return decision.rule

    async def told(self, subscriber: Subscriber, text: str) -> int:
        """How many replies since the subscriber's cursor are ``text`` (waits for one)."""
        seen: list[str] = []

        async def check() -> bool:
            update_ = await subscriber.chat.updates(subscriber.user, subscriber.cursor, wait=1)
            seen.extend(r["text"] for r in update_["replies"])
            subscriber.cursor = update_["cursor"]
            return text in seen

        await eventually(check, timeout=10)
        return seen.count(text)


@asynccontextmanager
async def scene(database_url: str, billing: FakeBilling,
                tokens: WebChatTokens | None = None) -> AsyncIterator[Scene]:
    async with AsyncExitStack() as stack:
        desk = await stack.enter_async_context(running_desk(
            database_url, billing_url=billing.url,
            billing_token=SecretStr(FAKE_BILLING_TOKEN), goodwill_wait_seconds=WAIT))
        yield Scene(desk, billing, stack, tokens or WebChatTokens())


async def long_wait_claimed(s: Scene, agent: Agent, subscriber: Subscriber,
                            seconds: float = WAIT + 60) -> int:
    handoff_id = await s.handoff_of(subscriber)
    await s.backdate(handoff_id, created=seconds)
    await s.claim(agent, subscriber)
    return handoff_id


async def test_a_verified_subscriber_who_waited_long_gets_100_mb_once_in_their_language(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        subscriber = await s.escalate(lang="en")
        phone = await s.verify(subscriber)
        handoff_id = await long_wait_claimed(s, agent, subscriber)

        assert await s.told(subscriber, apology("en")) == 1
        decision = await eventually(lambda: s.decision(handoff_id))
        assert (decision.outcome, decision.rule, decision.kind, decision.amount) == (
            "granted", None, "traffic_mb", 100)
        assert decision.msisdn == phone.lstrip("+") and decision.wait_seconds >= WAIT + 60
        assert (decision.cost, decision.currency) == ("0.30", "BYN")
        [call] = billing.calls("grantBonus")
        assert call.msisdn == phone.lstrip("+") and call.status == 201
        assert call.body["idempotency_key"] == f"goodwill-handoff-{handoff_id}"
        assert (call.body["kind"], call.body["amount"]) == ("traffic_mb", 100)
        assert phone.lstrip("+") not in call.body["reason"]
        account = billing.account(phone.lstrip("+"))
        assert account is not None and len(account.bonuses) == 1

        # the billing's "used" flag reaches the decision, once a day
        billing.mark_used(phone.lstrip("+"), f"goodwill-handoff-{handoff_id}")
        assert await s.desk.module.goodwill.refresh_used() == 1
        assert (await s.decision(handoff_id)).used is True  # type: ignore[union-attr]
        assert await s.desk.module.goodwill.refresh_used() == 0  # checked: not asked again

        # a wait below GOODWILL_WAIT_SECONDS: no decision at all
        quick = await s.escalate()
        await s.verify(quick)
        quick_id = await long_wait_claimed(s, agent, quick, seconds=WAIT - 30)
        assert await s.decision(quick_id) is None


async def test_an_unverified_subscriber_gets_nothing(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        subscriber = await s.escalate()
        handoff_id = await long_wait_claimed(s, agent, subscriber, seconds=3600)
        assert await s.refused(handoff_id) == Rule.VERIFIED_ONLY
        assert (await s.decision(handoff_id)).msisdn is None  # type: ignore[union-attr]
        assert billing.calls("grantBonus") == []


async def test_a_second_long_wait_within_30_days_gets_nothing_even_from_another_browser(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        first = await s.escalate()
        phone = await s.verify(first)
        await long_wait_claimed(s, agent, first)
        await s.told(first, apology("ru"))

        # the same number proven in another browser, from another address: the same customer
        again = await s.escalate(lang="be")
        await s.verify(again, phone)
        second_id = await long_wait_claimed(s, agent, again, seconds=3600)
        assert await s.refused(second_id) == Rule.ONCE_PER_CUSTOMER
        assert len(billing.calls("grantBonus")) == 1
        account = billing.account(phone.lstrip("+"))
        assert account is not None and len(account.bonuses) == 1


async def test_cancelling_after_a_long_wait_then_coming_back_gets_nothing(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        subscriber = await s.escalate()
        await s.verify(subscriber)
        first_id = await s.handoff_of(subscriber)
        await s.backdate(first_id, created=1000)
        await subscriber.chat.say(subscriber.user, payload="/cancel")
        assert await s.refused(first_id) == Rule.REFUSE_WHEN_LEFT

        # back a few minutes later: the new handoff also "waits long"
        await subscriber.chat.say(subscriber.user, payload="/human_request")
        second_id = await s.handoff_of(subscriber)
        assert second_id != first_id
        await s.backdate(first_id, created=1000, ended=300)
        await s.backdate(second_id, created=WAIT + 70)
        await s.claim(agent, subscriber)
        assert await s.refused(second_id) == Rule.REOPENED_WITHIN
        assert billing.calls("grantBonus") == []


async def test_an_agent_ending_a_handoff_nobody_answered_records_the_refusal(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        supervisor = await s.desk.admin()
        subscriber = await s.escalate()
        await s.verify(subscriber)
        handoff_id = await s.handoff_of(subscriber)
        await s.backdate(handoff_id, created=WAIT + 100)
        response = await s.desk.post(supervisor, subscriber.conversation, "return-to-bot")
        assert response.status_code == 200, response.text
        assert await s.refused(handoff_id) == Rule.REFUSE_WHEN_LEFT


async def test_reopening_within_minutes_from_the_same_address_gets_nothing(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        first = await s.escalate(address="127.0.1.5")
        await s.claim(agent, first)
        response = await s.desk.post(agent, first.conversation, "close", {"resolution": "ok"})
        assert response.status_code == 200, response.text
        await s.backdate(await s.handoff_of(first), created=1000, claimed=900, ended=400)

        # another browser on the same address, verified, right after
        second = await s.escalate(address="127.0.1.5")
        await s.verify(second)
        second_id = await long_wait_claimed(s, agent, second, seconds=WAIT + 70)
        assert await s.refused(second_id) == Rule.REOPENED_WITHIN
        assert billing.calls("grantBonus") == []


async def test_own_handoffs_filling_the_queue_get_nothing(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        agent = await s.desk.create_agent("anna")
        tabs = [await s.escalate(address="127.0.1.6") for _ in range(3)]
        await s.verify(tabs[0])
        for tab in tabs:
            await s.backdate(await s.handoff_of(tab), created=WAIT + 120)
        handoff_id = await long_wait_claimed(s, agent, tabs[0], seconds=WAIT + 120)
        assert await s.refused(handoff_id) == Rule.OWN_HANDOFFS_IN_QUEUE
        assert billing.calls("grantBonus") == []


async def test_the_daily_budget_stops_grants(database_url: str, billing: FakeBilling) -> None:
    async with scene(database_url, billing) as s:
        goodwill = s.desk.module.goodwill
        goodwill.policy = replace(goodwill.policy,
                                  rules=replace(goodwill.policy.rules, daily_budget=1))
        agent = await s.desk.create_agent("anna")
        first, second = await s.escalate(), await s.escalate()
        await s.verify(first)
        await s.verify(second)
        await long_wait_claimed(s, agent, first)
        second_id = await long_wait_claimed(s, agent, second)
        assert await s.refused(second_id) == Rule.DAILY_BUDGET
        await s.told(first, apology("ru"))
        assert len(billing.calls("grantBonus")) == 1


async def test_a_grant_whose_answer_was_lost_is_granted_once_across_a_restart(
    database_url: str, billing: FakeBilling,
) -> None:
    tokens = WebChatTokens()
    billing.drop_after_next("grantBonus", times=3)  # the client's attempt and its 2 retries
    async with scene(database_url, billing, tokens) as s:
        agent = await s.desk.create_agent("anna")
        subscriber = await s.escalate(address="127.0.1.7")
        phone = await s.verify(subscriber)
        handoff_id = await long_wait_claimed(s, agent, subscriber)

        async def failed_once() -> GoodwillDecision | None:
            decision = await s.decision(handoff_id)
            return decision if decision is not None and decision.attempts >= 1 else None

        decision = await eventually(failed_once)
        assert (decision.outcome, decision.last_error) == ("pending", "BackofficeError")
        account = billing.account(phone.lstrip("+"))
        assert account is not None and len(account.bonuses) == 1  # granted, answer lost
        # the next attempt is due 30 s after the decision: let that time pass
        async with s.desk.services.db.transaction() as session:
            await session.execute(update(GoodwillDecision)
                                  .where(GoodwillDecision.handoff_id == handoff_id)
                                  .values(decided_at=utcnow() - timedelta(hours=1)))
    before = subscriber.cursor

    async with scene(database_url, billing, tokens) as s:
        async def granted() -> GoodwillDecision | None:
            decision = await s.decision(handoff_id)
            return decision if decision is not None and decision.outcome == "granted" else None

        await eventually(granted)
        subscriber.chat = WebChatClient(await s.stack.enter_async_context(
            client_from(s.desk, "127.0.1.7")), tokens)
        subscriber.cursor = before
        assert await s.told(subscriber, apology("ru")) == 1
        assert len(account.bonuses) == 1
        keys = {c.body["idempotency_key"] for c in billing.calls("grantBonus")}
        assert keys == {f"goodwill-handoff-{handoff_id}"}
        assert len(billing.calls("grantBonus")) == 4  # 3 lost answers, 1 replayed grant


async def test_the_analytics_page_counts_the_decisions_of_the_period(
    database_url: str, billing: FakeBilling,
) -> None:
    async with scene(database_url, billing) as s:
        subscriber = await s.escalate()
        conversation = subscriber.conversation
        now = utcnow()
        seeded = [  # (outcome, rule, used, days ago)
            ("granted", None, True, 1), ("granted", None, True, 2), ("granted", None, False, 0),
            ("pending", None, None, 0), ("refused", "verified_only", None, 1),
            ("refused", "verified_only", None, 3), ("refused", "daily_budget", None, 0),
            ("refused", "billing_failed", None, 2),
            ("granted", None, True, 40),  # before the period: not counted
        ]
        async with s.desk.services.db.transaction() as session:
            for outcome, rule, used, days in seeded:
                handoff = Handoff(conversation_id=conversation, status="closed",
                                  reason="subscriber_request", channel="webchat", lang="ru",
                                  card={}, created_at=now - timedelta(days=days, minutes=10))
                session.add(handoff)
                await session.flush()
                granting = outcome != "refused"
                session.add(GoodwillDecision(
                    handoff_id=handoff.id, customer_id=None, msisdn=None,
                    decided_at=now - timedelta(days=days, minutes=5), wait_seconds=400.0,
                    outcome=outcome, rule=rule, kind="traffic_mb" if granting else None,
                    amount=100 if granting else None, cost="0.30" if granting else None,
                    currency="BYN" if granting else None, attempts=0, used=used))
        admin = await s.desk.admin()
        response = await s.desk.http.get("/api/desk/analytics", headers=admin.headers)
        assert response.status_code == 200, response.text
        goodwill = response.json()["goodwill"]
        assert {k: goodwill[k] for k in ("decisions", "granted", "granted_mb", "pending",
                                        "refused", "used", "used_share", "cost", "currency")} \
            == {"decisions": 8, "granted": 3, "granted_mb": 300, "pending": 1, "refused": 4,
                "used": 2, "used_share": 0.6667, "cost": "0.90", "currency": "BYN"}
        by_rule = {r["rule"]: r["count"] for r in goodwill["refused_by_rule"]}
        assert by_rule == {"verified_only": 2, "refuse_when_left": 0,
                           "once_per_customer_days": 0, "own_handoffs_in_queue": 0,
                           "reopened_within_minutes": 0, "daily_budget": 1,
                           "billing_failed": 1}
        assert [r["rule"] for r in goodwill["refused_by_rule"]] == list(ALL_RULES)

        csv = await s.desk.http.get("/api/desk/analytics/goodwill.csv", headers=admin.headers)
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.splitlines()
        assert lines[0] == "figure,key,value"
        assert {"granted,,3", "granted_mb,,300", "pending,,1", "refused,,4",
                "refused_by_rule,verified_only,2", "refused_by_rule,daily_budget,1",
                "used,,2", "used_share,,0.6667", "cost,BYN,0.90"} <= set(lines)
        # a supervisor-only figure: an agent gets 403
        agent = await s.desk.create_agent("anna")
        denied = await s.desk.http.get("/api/desk/analytics/goodwill.csv",
                                       headers=agent.headers)
        assert denied.status_code == 403
