"""One-time codes by SMS on a real database (SQLite, and PostgreSQL with TEST_DATABASE_URL):
the right code verifies the identity and its customer; wrong codes, expiry, reuse, a newer code,
the per-number and per-identity limits, a failing gateway, concurrent checks and requests; what
is stored (a hash, never the code), what is audited and what is logged."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from backoffice.sms_dev import DevelopmentSmsGateway
from bot.backoffice_contract import BackofficeError, SmsGateway
from bot.storage import Customer, Database, Identity, VerificationCode, VerificationEvent
from bot.verification import (
    CheckStatus,
    CodeCheck,
    CodeRequest,
    VerificationService,
    extract_code,
)

PHONE = "+375291234567"
OTHER_PHONE = "+375297654321"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class RecordingSms:
    """An SmsGateway that remembers every text it was asked to send; ``fail`` makes it raise
    BackofficeError (after recording, so a test still knows the code)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send(self, to: str, text: str) -> None:
        self.sent.append((to, text))
        if self.fail:
            raise BackofficeError("SMS gateway down (test)")

    def last_code(self) -> str:
        found = re.search(r"\b\d{6}\b", self.sent[-1][1])
        assert found is not None, "the SMS carries the code"
        return found.group()


def sms_text(code: str) -> str:
    return f"Abonent: ваш код {code}"


def service(db: Database, sms: SmsGateway, clock: Clock | None = None, *,
            max_attempts: int = 3, per_number_per_hour: int = 3) -> VerificationService:
    return VerificationService(db, sms, message=sms_text, clock=clock or Clock(),
                               max_attempts=max_attempts,
                               per_number_per_hour=per_number_per_hour)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def new_identity(db: Database, name: str) -> tuple[int, int]:
    async with db.transaction() as session:
        customer = Customer()
        session.add(customer)
        await session.flush()
        identity = Identity(customer_id=customer.id, channel="webchat", channel_user_id=name,
                            address=name)
        session.add(identity)
        await session.flush()
        return identity.id, customer.id


async def phones_of(db: Database, identity_id: int, customer_id: int) -> tuple[str | None, ...]:
    async with db.sessions() as session:
        identity = await session.get(Identity, identity_id)
        customer = await session.get(Customer, customer_id)
    assert identity is not None and customer is not None
    return identity.verified_phone, customer.verified_phone


async def events(db: Database, identity_id: int) -> list[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(VerificationEvent.event).where(VerificationEvent.identity_id == identity_id)
            .order_by(VerificationEvent.id)
        )
        return list(rows)


async def codes(db: Database, identity_id: int) -> list[VerificationCode]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(VerificationCode).where(VerificationCode.identity_id == identity_id)
            .order_by(VerificationCode.id)
        )
        return list(rows)


# -- the whole flow ----------------------------------------------------------------------------

async def test_the_right_code_verifies_the_identity_and_its_customer(db: Database) -> None:
    sms = DevelopmentSmsGateway(environment="test")
    clock = Clock()
    verification = service(db, sms, clock)
    identity_id, customer_id = await new_identity(db, "alice")

    request = await verification.request_code(identity_id, PHONE)

    assert request.status == "sent"
    assert request.expires_at == clock.now + timedelta(minutes=5)
    assert [m.to for m in sms.sent] == [PHONE]
    code = re.sub(r"\D", "", sms.sent[0].text)
    assert len(code) == 6
    assert await phones_of(db, identity_id, customer_id) == (None, None), "not before the code"

    check = await verification.check_code(identity_id, code)

    assert check == CodeCheck("verified", phone=PHONE)
    assert await phones_of(db, identity_id, customer_id) == (PHONE, PHONE)
    assert await events(db, identity_id) == ["requested", "sent", "verified"]
    [row] = await codes(db, identity_id)
    assert row.used_at is not None and row.dead_at is None


async def test_codes_are_six_digits_with_leading_zeros(db: Database,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "zeros")
    bounds: list[int] = []

    def randbelow(bound: int) -> int:
        bounds.append(bound)
        return 42

    monkeypatch.setattr("bot.verification.secrets.randbelow", randbelow)
    await verification.request_code(identity_id, PHONE)
    assert bounds == [10**6]
    assert sms.sent == [(PHONE, sms_text("000042"))]
    assert (await verification.check_code(identity_id, "000 042")).status == "verified"


async def test_wrong_codes_count_down_then_lock_the_code(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, customer_id = await new_identity(db, "bob")
    await verification.request_code(identity_id, PHONE)
    code = sms.last_code()
    wrong = other_code(code)

    assert await verification.check_code(identity_id, wrong) == CodeCheck("wrong", remaining=2)
    assert await verification.check_code(identity_id, wrong) == CodeCheck("wrong", remaining=1)
    assert await verification.check_code(identity_id, wrong) == CodeCheck("locked")
    assert (await verification.check_code(identity_id, code)).status == "no_code", \
        "the right code is refused once the code is locked"

    assert await phones_of(db, identity_id, customer_id) == (None, None)
    [row] = await codes(db, identity_id)
    assert row.attempts == 3 and row.dead_at is not None and row.used_at is None
    assert await events(db, identity_id) == [
        "requested", "sent", "wrong_code", "wrong_code", "locked", "no_code"]


async def test_the_right_code_after_a_wrong_one_still_verifies(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "carol")
    await verification.request_code(identity_id, PHONE)
    code = sms.last_code()
    assert (await verification.check_code(identity_id, other_code(code))).status == "wrong"
    assert (await verification.check_code(identity_id, code)).status == "verified"


async def test_a_code_lives_five_minutes(db: Database) -> None:
    sms, clock = RecordingSms(), Clock()
    verification = service(db, sms, clock)
    in_time, _ = await new_identity(db, "in-time")
    too_late, customer_id = await new_identity(db, "too-late")
    await verification.request_code(in_time, PHONE)
    in_time_code = sms.last_code()
    await verification.request_code(too_late, OTHER_PHONE)
    too_late_code = sms.last_code()

    clock.now += timedelta(minutes=4, seconds=59)
    assert (await verification.check_code(in_time, in_time_code)).status == "verified"
    clock.now += timedelta(seconds=1)
    assert await verification.check_code(too_late, too_late_code) == CodeCheck("expired")
    assert (await verification.check_code(too_late, too_late_code)).status == "no_code"

    assert await phones_of(db, too_late, customer_id) == (None, None)
    [row] = await codes(db, too_late)
    assert row.dead_at is not None and row.used_at is None
    assert await events(db, too_late) == ["requested", "sent", "expired", "no_code"]


async def test_a_used_code_cannot_be_used_again(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "dave")
    await verification.request_code(identity_id, PHONE)
    code = sms.last_code()
    assert (await verification.check_code(identity_id, code)).status == "verified"
    assert await verification.check_code(identity_id, code) == CodeCheck("no_code")
    assert await events(db, identity_id) == ["requested", "sent", "verified", "no_code"]


async def test_a_new_request_kills_the_earlier_code(db: Database,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sms, clock = RecordingSms(), Clock()
    verification = service(db, sms, clock)
    identity_id, customer_id = await new_identity(db, "erin")
    fixed = iter([111111, 222222])
    monkeypatch.setattr("bot.verification.secrets.randbelow", lambda _bound: next(fixed))
    await verification.request_code(identity_id, PHONE)
    clock.now += timedelta(minutes=1)
    await verification.request_code(identity_id, OTHER_PHONE)

    first, second = await codes(db, identity_id)
    assert first.dead_at is not None and second.dead_at is None
    assert await verification.check_code(identity_id, "111111") == CodeCheck("wrong", remaining=2)
    assert await verification.check_code(identity_id, "222222") == CodeCheck(
        "verified", phone=OTHER_PHONE)
    assert await phones_of(db, identity_id, customer_id) == (OTHER_PHONE, OTHER_PHONE)


async def test_an_answer_without_a_code_uses_no_try(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "frank")
    await verification.request_code(identity_id, PHONE)
    code = sms.last_code()
    for answer in ("не пришёл код", "12345", "1234567", f"{code} или 000000"):
        assert await verification.check_code(identity_id, answer) == CodeCheck("not_a_code")
    assert (await verification.check_code(identity_id, f"код {code}")).status == "verified"
    assert await events(db, identity_id) == ["requested", "sent"] + ["not_a_code"] * 4 + [
        "verified"]


async def test_a_check_without_any_code_is_no_code(db: Database) -> None:
    verification = service(db, RecordingSms())
    identity_id, _ = await new_identity(db, "gina")
    assert await verification.check_code(identity_id, "123456") == CodeCheck("no_code")
    assert await events(db, identity_id) == ["no_code"]


# -- limits ------------------------------------------------------------------------------------

async def test_at_most_three_codes_per_number_per_hour(db: Database) -> None:
    sms, clock = RecordingSms(), Clock()
    verification = service(db, sms, clock)
    # three visitors on three identities: the limit protects the number, whoever asks
    first, second, third, fourth = [await new_identity(db, f"n{i}") for i in range(4)]
    start = clock.now
    for identity_id, _ in (first, second, third):
        assert (await verification.request_code(identity_id, PHONE)).status == "sent"
        clock.now += timedelta(minutes=10)

    refused = await verification.request_code(fourth[0], PHONE)
    assert refused.status == "limited"
    assert refused.retry_after == start + timedelta(hours=1) - clock.now == timedelta(minutes=30)
    assert len(sms.sent) == 3, "no SMS for a refused request"
    assert await codes(db, fourth[0]) == []
    assert await events(db, fourth[0]) == ["limited_number"]
    assert (await verification.request_code(fourth[0], OTHER_PHONE)).status == "sent", \
        "another number is not limited"

    clock.now = start + timedelta(hours=1) - timedelta(seconds=1)
    assert (await verification.request_code(fourth[0], PHONE)).status == "limited"
    clock.now = start + timedelta(hours=1)
    assert (await verification.request_code(fourth[0], PHONE)).status == "sent", \
        "the oldest code has left the hour"
    assert (await verification.request_code(fourth[0], PHONE)).retry_after == timedelta(
        minutes=10)


async def test_at_most_ten_codes_per_identity_per_day(db: Database) -> None:
    sms, clock = RecordingSms(), Clock()
    verification = service(db, sms, clock)
    identity_id, _ = await new_identity(db, "fisher")
    start = clock.now
    for n in range(10):
        result = await verification.request_code(identity_id, f"+37529123450{n}")
        assert result.status == "sent"
        clock.now += timedelta(hours=1)

    refused = await verification.request_code(identity_id, "+375291234599")
    assert refused.status == "limited"
    assert refused.retry_after == timedelta(hours=14)  # the first code leaves the day at 24 h
    assert len(sms.sent) == 10
    assert (await events(db, identity_id))[-1] == "limited_identity"
    other_identity, _ = await new_identity(db, "someone-else")
    assert (await verification.request_code(other_identity, "+375291234599")).status == "sent"

    clock.now = start + timedelta(days=1)
    assert (await verification.request_code(identity_id, "+375291234598")).status == "sent"


async def test_concurrent_requests_cannot_pass_the_number_limit(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identities = [await new_identity(db, f"rush{i}") for i in range(8)]
    results = await asyncio.gather(
        *(verification.request_code(identity_id, PHONE) for identity_id, _ in identities))
    assert sorted(r.status for r in results) == ["limited"] * 5 + ["sent"] * 3
    assert len(sms.sent) == 3


# -- the gateway -------------------------------------------------------------------------------

async def test_a_gateway_failure_leaves_no_usable_code(db: Database) -> None:
    sms = RecordingSms()
    sms.fail = True
    verification = service(db, sms)
    identity_id, customer_id = await new_identity(db, "henry")

    assert await verification.request_code(identity_id, PHONE) == CodeRequest("failed")
    code = sms.last_code()
    assert await verification.check_code(identity_id, code) == CodeCheck("no_code")
    assert await phones_of(db, identity_id, customer_id) == (None, None)
    [row] = await codes(db, identity_id)
    assert row.dead_at is not None
    assert await events(db, identity_id) == ["requested", "send_failed", "no_code"]

    sms.fail = False
    assert (await verification.request_code(identity_id, PHONE)).status == "sent"
    assert (await verification.check_code(identity_id, sms.last_code())).status == "verified"


async def test_an_unexpected_gateway_error_kills_the_code_and_propagates(db: Database) -> None:
    class Broken:
        async def send(self, to: str, text: str) -> None:
            raise RuntimeError("bug in a gateway")

    verification = service(db, Broken())
    identity_id, _ = await new_identity(db, "ivan")
    with pytest.raises(RuntimeError):
        await verification.request_code(identity_id, PHONE)
    [row] = await codes(db, identity_id)
    assert row.dead_at is not None
    assert await events(db, identity_id) == ["requested", "send_failed"]


# -- what is stored, audited and logged --------------------------------------------------------

async def test_only_a_salted_hash_of_the_code_is_stored(db: Database,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "judy")
    monkeypatch.setattr("bot.verification.secrets.randbelow", lambda _bound: 583_907)
    await verification.request_code(identity_id, PHONE)
    await verification.request_code(identity_id, PHONE)
    code = sms.last_code()
    assert code == "583907"

    first, second = await codes(db, identity_id)
    assert first.salt != second.salt and first.code_hash != second.code_hash, "salted"
    scheme, n, r, p, digest = second.code_hash.split("$")
    assert scheme == "scrypt"
    expected = hashlib.scrypt(code.encode(), salt=bytes.fromhex(second.salt), n=int(n), r=int(r),
                              p=int(p), maxmem=64 * 1024 * 1024, dklen=32)
    assert digest == expected.hex()
    async with db.sessions() as session:
        stored = [
            *(await session.execute(text("SELECT * FROM verification_codes"))).all(),
            *(await session.execute(text("SELECT * FROM verification_events"))).all(),
        ]
    assert stored
    assert not [row for row in stored if any(code in str(value) for value in row)]


async def test_a_malformed_stored_hash_never_matches(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "kate")
    await verification.request_code(identity_id, PHONE)
    async with db.transaction() as session:
        row = (await session.scalars(select(VerificationCode))).one()
        row.code_hash = "md5$" + sms.last_code()
    assert (await verification.check_code(identity_id, sms.last_code())).status == "wrong"


async def test_logs_carry_masked_numbers_and_outcomes_only(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.verification")
    sms, clock = RecordingSms(), Clock()
    verification = service(db, sms, clock, per_number_per_hour=2)
    identity_id, _ = await new_identity(db, "leo")
    await verification.request_code(identity_id, PHONE)
    first = sms.last_code()
    await verification.check_code(identity_id, other_code(first))
    sms.fail = True
    await verification.request_code(identity_id, PHONE)
    await verification.request_code(identity_id, PHONE)  # limited
    sms.fail = False
    await verification.request_code(identity_id, OTHER_PHONE)
    second = sms.last_code()
    await verification.check_code(identity_id, second)
    await verification.forget(identity_id)

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "bot.verification")
    assert "+375 29 ***-**-67" in logged and "verified" in logged and "limited_number" in logged
    for secret in (PHONE, PHONE[4:], OTHER_PHONE[4:], first, other_code(first), second):
        assert secret not in logged


# -- concurrency -------------------------------------------------------------------------------

async def test_two_checks_of_one_code_at_once_verify_once(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    for round_ in range(4):
        identity_id, _ = await new_identity(db, f"twice{round_}")
        await verification.request_code(identity_id, f"+37529765432{round_}")
        code = sms.last_code()
        results = await asyncio.gather(verification.check_code(identity_id, code),
                                       verification.check_code(identity_id, code))
        assert sorted(r.status for r in results) == ["no_code", "verified"]
        assert sorted(await events(db, identity_id)) == sorted(
            ["requested", "sent", "verified", "no_code"])


async def test_concurrent_wrong_tries_are_all_counted(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, _ = await new_identity(db, "burst")
    await verification.request_code(identity_id, PHONE)
    wrong = other_code(sms.last_code())
    results = await asyncio.gather(*(verification.check_code(identity_id, wrong)
                                     for _ in range(5)))
    statuses = sorted(r.status for r in results)
    assert statuses == ["locked", "no_code", "no_code", "wrong", "wrong"]
    assert sorted(r.remaining for r in results if r.status == "wrong") == [1, 2]
    [row] = await codes(db, identity_id)
    assert row.attempts == 3 and row.dead_at is not None


# -- forgetting --------------------------------------------------------------------------------

async def test_forget_ends_the_verification_of_that_identity(db: Database) -> None:
    sms = RecordingSms()
    verification = service(db, sms)
    identity_id, customer_id = await new_identity(db, "mia")
    await verification.request_code(identity_id, PHONE)
    await verification.check_code(identity_id, sms.last_code())
    await verification.request_code(identity_id, OTHER_PHONE)  # a new number, not yet proved
    pending = sms.last_code()

    await verification.forget(identity_id)

    assert await phones_of(db, identity_id, customer_id) == (None, PHONE)
    assert await verification.check_code(identity_id, pending) == CodeCheck("no_code")
    async with db.sessions() as session:
        forgotten = (await session.scalars(
            select(VerificationEvent).where(VerificationEvent.event == "forgotten"))).one()
    assert forgotten.identity_id == identity_id and forgotten.phone is None


# -- arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["375291234567", "+375 29 123-45-67", "80291234567", "", "+0"])
async def test_a_number_that_is_not_e164_is_refused(db: Database, phone: str) -> None:
    sms = RecordingSms()
    identity_id, _ = await new_identity(db, "nick")
    with pytest.raises(ValueError, match="E.164"):
        await service(db, sms).request_code(identity_id, phone)
    assert sms.sent == [] and await events(db, identity_id) == []


async def test_an_unknown_identity_is_refused(db: Database) -> None:
    verification = service(db, RecordingSms())
    with pytest.raises(LookupError):
        await verification.request_code(987654, PHONE)
    with pytest.raises(LookupError):
        await verification.check_code(987654, "123456")
    with pytest.raises(LookupError):
        await verification.forget(987654)


@pytest.mark.parametrize("limits", [{"max_attempts": 0}, {"per_number_per_hour": 0},
                                    {"per_identity_per_day": -1},
                                    {"code_ttl": timedelta(0)}])
async def test_limits_below_one_are_refused(db: Database, limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        VerificationService(db, RecordingSms(), message=sms_text, **limits)


# -- reading the answer ------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "code"), [
    ("123456", "123456"),
    ("123 456", "123456"),
    ("123-456", "123456"),
    ("код 123456", "123456"),
    ("Код: 654 321, спасибо", "654321"),
    ("  000042\n", "000042"),
    ("123456 123456", None),  # twelve digits in one run
    ("123456 и ещё раз 123456", "123456"),
    ("12345", None),
    ("1234567", None),
    ("123456 или 654321", None),
    ("+375 29 123-45-67", None),
    ("12  3456", None),  # two separators: two numbers, neither of six digits
    ("١٢٣٤٥٦", None),  # only ASCII digits
    ("", None),
    ("1" * 5000, None),
])
def test_extract_code(answer: str, code: str | None) -> None:
    assert extract_code(answer) == code


@pytest.fixture
async def waiting_code(db: Database) -> tuple[VerificationService, int]:
    """A live code that never locks, so every example reaches the comparison."""
    verification = service(db, RecordingSms(), max_attempts=1_000_000)
    identity_id, _ = await new_identity(db, "fuzz")
    assert (await verification.request_code(identity_id, PHONE)).status == "sent"
    return verification, identity_id


_answers = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[0-9 \-]{0,14}", fullmatch=True),
    st.builds(lambda a, b, c: f"{a}{b}{c}", st.text(max_size=8),
              st.integers(0, 10**7), st.text(max_size=8)),
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(answer=_answers)
async def test_any_answer_is_an_outcome_never_an_error(
        waiting_code: tuple[VerificationService, int], answer: str) -> None:
    verification, identity_id = waiting_code
    result = await verification.check_code(identity_id, answer)
    assert result.status in get_args(CheckStatus)
    if extract_code(answer) is None:
        assert result.status in ("not_a_code", "no_code")  # no_code: a lucky guess verified
    else:
        assert result.status in ("wrong", "verified", "no_code")
