"""One-time codes by SMS that prove a subscriber owns a phone number (#12, any channel).

``request_code`` sends a random 6-digit code to a number; ``check_code`` reads the subscriber's
answer and, on the right code, marks the number verified on the channel identity and on its
customer in one transaction; ``forget`` ends a verification ("выйти").

Rules and why:

- a code lives ``code_ttl`` (5 minutes) and dies after ``max_attempts`` (3) wrong tries, when a
  newer code replaces it, or when its SMS could not be sent; a used code is never accepted again;
- at most ``per_number_per_hour`` codes to one number per hour (nobody can flood a stranger's
  phone) and ``per_identity_per_day`` per channel identity per day (nor one visitor fish through
  many numbers). A code counts as soon as it is created, even when the gateway then fails: a
  gateway that timed out may still have delivered the SMS;
- the outcome of a request depends only on these limits and on the gateway, never on the
  billing: "sent" does not tell a stranger whether the number is the operator's, and the service
  does not even ask;
- every request and every check leaves a ``verification_events`` row (the audit); logs carry
  only masked numbers (``mask_phone``) and outcomes, never a code or a whole number.

The code is stored as a salted scrypt hash (n=2**14, r=8, p=1: 16 MiB and ~40 ms a hash on a
2-core development machine; a whole ``request_code`` or ``check_code`` takes ~45 ms there, on
SQLite and on PostgreSQL). A 6-digit code has only 10**6 values, so no hash makes a stolen row
impossible to crack; what the hash must do is keep a database copy (a backup, a replica, an
agent's SQL console) from handing out a live code within its five minutes. PBKDF2-SHA256 would
need ~200 000 iterations for the same CPU time, and it is a GPU's home ground; memory-hard
scrypt leaves the same hardware far fewer guesses per second. Hashing runs in a thread (hashlib releases the GIL), at most four at once so
a burst cannot take more than 64 MiB; the parameters are stored with the hash, so changing them
does not break the codes alive at that moment.

Concurrency: the check that uses a code is one conditional UPDATE (``used_at IS NULL AND
dead_at IS NULL``) whose affected row count decides, so two checks of one code never both
verify; a wrong try is counted the same way. A request holds, for its few statements, a lock on
the identity and (PostgreSQL) an advisory lock on the number, so two requests at once cannot
both take the last slot of a limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Update, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.backoffice_contract import BackofficeError, SmsGateway
from bot.customers import VerifiedVia, link_phone, phone_lock_key, unlink
from bot.messages import utcnow
from bot.phones import MAX_TEXT_LENGTH, is_e164, mask_phone
from bot.storage import (
    Database,
    Identity,
    VerificationCode,
    VerificationEvent,
    affected_rows,
)

__all__ = [
    "CODE_DIGITS",
    "CheckStatus",
    "CodeCheck",
    "CodeRequest",
    "Event",
    "RequestStatus",
    "VerificationService",
    "audit",
    "extract_code",
]

log = logging.getLogger(__name__)

CODE_DIGITS = 6

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)

# scrypt: n=2**14, r=8 -> 128 * n * r = 16 MiB per hash
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024  # a stored hash asking for more is not trusted
_DIGEST_BYTES = 32
_SALT_BYTES = 16
_CONCURRENT_HASHES = 4

# digits with at most one space or dash between two of them: "123456", "123 456", "123-456"
_DIGIT_GROUP = re.compile(r"(?<![0-9])[0-9](?:[ \-\u00a0\u2010-\u2015\u2212]?[0-9])*(?![0-9])")


class Event:
    """``verification_events.event`` values."""

    REQUESTED = "requested"  # a code was created for the number
    SENT = "sent"  # the gateway accepted its SMS
    SEND_FAILED = "send_failed"  # the gateway could not send it (the code died)
    LIMITED_NUMBER = "limited_number"  # refused: too many codes to this number this hour
    LIMITED_IDENTITY = "limited_identity"  # refused: too many codes for this identity today
    NOT_A_CODE = "not_a_code"  # an answer without one 6-digit code (no try used)
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    LOCKED = "locked"  # the last allowed wrong try (the code died)
    VERIFIED = "verified"
    NO_CODE = "no_code"  # a check with no live code
    FORGOTTEN = "forgotten"  # the subscriber ended the verification
    LAPSED = "lapsed"  # the verification outlived its channel's VERIFICATION_TTL
    CONTACT = "contact_verified"  # verified by the platform (a Telegram contact), no code
    ALL = (REQUESTED, SENT, SEND_FAILED, LIMITED_NUMBER, LIMITED_IDENTITY, NOT_A_CODE,
           WRONG_CODE, EXPIRED, LOCKED, VERIFIED, NO_CODE, FORGOTTEN, LAPSED, CONTACT)


RequestStatus = Literal["sent", "limited", "failed"]
CheckStatus = Literal["verified", "wrong", "locked", "expired", "no_code", "not_a_code"]


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """``sent``: a code is on its way, alive until ``expires_at``; ``limited``: no code, ask
    again after ``retry_after``; ``failed``: the gateway could not send it (no code is alive)."""

    status: RequestStatus
    expires_at: datetime | None = None
    retry_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """``verified`` (``phone``: the number, now verified), ``wrong`` (``remaining`` tries left),
    ``locked`` (that was the last try), ``expired``, ``no_code`` (none alive: ask for a new
    one) or ``not_a_code`` (the text holds no single 6-digit code; no try was used)."""

    status: CheckStatus
    phone: str | None = None
    remaining: int = 0


def extract_code(text: object) -> str | None:
    """The one 6-digit code in ``text`` ("123456", "123 456", "123-456", "код: 123456"), or None.

    Digits separated by one space or dash count as one number, so a phone number or a longer
    run of digits is not taken for a code; two different 6-digit numbers are ambiguous (None).
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        return None
    found = {
        digits
        for match in _DIGIT_GROUP.finditer(text)
        if len(digits := "".join(c for c in match.group() if c in "0123456789")) == CODE_DIGITS
    }
    return found.pop() if len(found) == 1 else None


class VerificationService:
    """Codes by SMS through ``sms``; ``message(code)`` is the SMS text (it must contain the
    code). ``clock`` returns the current time (UTC; tests move it)."""

    def __init__(
        self,
        db: Database,
        sms: SmsGateway,
        *,
        message: Callable[[str], str],
        clock: Callable[[], datetime] = utcnow,
        code_ttl: timedelta = timedelta(minutes=5),
        max_attempts: int = 3,
        per_number_per_hour: int = 3,
        per_identity_per_day: int = 10,
        code_key: bytes = b"",
    ) -> None:
        """``code_key``: a server-side secret (VERIFICATION_CODE_KEY) hashed with every code, so
        a copy of the database alone cannot be used to work a live code out."""
        if code_ttl <= timedelta(0):
            raise ValueError("code_ttl must be positive")
        if min(max_attempts, per_number_per_hour, per_identity_per_day) < 1:
            raise ValueError("max_attempts and the limits must be at least 1")
        self._db = db
        self._sms = sms
        self._message = message
        self._clock = clock
        self._ttl = code_ttl
        self._max_attempts = max_attempts
        self._per_number = per_number_per_hour
        self._per_identity = per_identity_per_day
        self._hashing = asyncio.Semaphore(_CONCURRENT_HASHES)
        self._key = code_key
        self.code_ttl = code_ttl

    # -- requesting a code -----------------------------------------------------------------

    async def request_code(self, identity_id: int, phone: str) -> CodeRequest:
        """Send a new code to ``phone`` (E.164) for ``identity_id``, ending any earlier code of
        that identity. ValueError for a number that is not E.164, LookupError for an unknown
        identity; every other outcome is the returned status."""
        if not is_e164(phone):
            raise ValueError("phone must be E.164 ('+' and digits): use bot.phones first")
        now = self._now()
        # a first look without locks, so a refused request costs no hashing
        async with self._db.sessions() as session:
            await _require_identity(session, identity_id)
            limit = await self._limit(session, identity_id, phone, now)
        if limit is not None:
            return await self._refuse(identity_id, phone, limit, now)

        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        sms_text = self._message(code)
        salt = secrets.token_bytes(_SALT_BYTES)
        code_hash = await self._hash(code, salt)
        async with self._db.transaction() as session:
            await self._lock(session, identity_id, phone)
            limit = await self._limit(session, identity_id, phone, now)
            if limit is None:
                code_id = await self._store(session, identity_id, phone, code_hash, salt, now)
        if limit is not None:  # another request took the last slot meanwhile
            return await self._refuse(identity_id, phone, limit, now)

        try:
            await self._sms.send(phone, sms_text)
        except BackofficeError as exc:  # its message is safe to log (the contract says so)
            await self._send_failed(code_id, identity_id, phone)
            log.warning("verification: SMS to %s for identity %s not sent: %s",
                        mask_phone(phone), identity_id, exc)
            return CodeRequest("failed")
        except Exception:
            await self._send_failed(code_id, identity_id, phone)  # never leave it half alive
            raise
        async with self._db.transaction() as session:
            _add_event(session, identity_id, phone, Event.SENT, self._now())
        log.info("verification: code sent to %s for identity %s", mask_phone(phone), identity_id)
        return CodeRequest("sent", expires_at=now + self._ttl)

    async def _limit(self, session: AsyncSession, identity_id: int, phone: str,
                     now: datetime) -> tuple[timedelta, str] | None:
        """(retry after, event) when a limit is reached; the longer wait when both are."""
        reached: list[tuple[timedelta, str]] = []
        for where, window, limit, event in (
            (VerificationCode.phone == phone, _HOUR, self._per_number, Event.LIMITED_NUMBER),
            (VerificationCode.identity_id == identity_id, _DAY, self._per_identity,
             Event.LIMITED_IDENTITY),
        ):
            # the limit-th newest code in the window: while it is in, the window is full
            oldest_counted = await session.scalar(
                select(VerificationCode.created_at)
                .where(where, VerificationCode.created_at > now - window)
                .order_by(VerificationCode.created_at.desc())
                .offset(limit - 1)
                .limit(1)
            )
            if oldest_counted is not None:
                reached.append((_aware(oldest_counted) + window - now, event))
        return max(reached) if reached else None

    async def _lock(self, session: AsyncSession, identity_id: int, phone: str) -> None:
        """Serialise requests for this identity and this number until the transaction ends."""
        if self._db.is_sqlite:
            # SQLite has one writer, and its driver opens the transaction only at the first
            # write: writing first takes the database's write lock before anything is counted
            await session.execute(
                update(Identity).where(Identity.id == identity_id)
                .values(verified_phone=Identity.verified_phone)
                .execution_options(synchronize_session=False)
            )
            return
        # always the identity first, then the number: no two requests wait on each other
        await session.execute(
            select(Identity.id).where(Identity.id == identity_id).with_for_update(key_share=True)
        )
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                              {"key": phone_lock_key(phone)})

    async def _store(self, session: AsyncSession, identity_id: int, phone: str,
                     code_hash: str, salt: bytes, now: datetime) -> int:
        await session.execute(
            _kill(VerificationCode.identity_id == identity_id, now)
        )
        row = VerificationCode(identity_id=identity_id, phone=phone, code_hash=code_hash,
                               salt=salt.hex(), created_at=now, expires_at=now + self._ttl,
                               attempts=0)
        session.add(row)
        _add_event(session, identity_id, phone, Event.REQUESTED, now)
        await session.flush()
        return row.id

    async def _refuse(self, identity_id: int, phone: str, limit: tuple[timedelta, str],
                      now: datetime) -> CodeRequest:
        retry_after, event = limit
        async with self._db.transaction() as session:
            _add_event(session, identity_id, phone, event, now)
        log.info("verification: code to %s for identity %s refused (%s)",
                 mask_phone(phone), identity_id, event)
        return CodeRequest("limited", retry_after=retry_after)

    async def _send_failed(self, code_id: int, identity_id: int, phone: str) -> None:
        now = self._now()
        async with self._db.transaction() as session:
            await session.execute(_kill(VerificationCode.id == code_id, now))
            _add_event(session, identity_id, phone, Event.SEND_FAILED, now)

    # -- checking an answer ----------------------------------------------------------------

    async def check_code(self, identity_id: int, text: str) -> CodeCheck:
        """Check the subscriber's answer ``text`` against the identity's live code. Never raises
        for any text; LookupError for an unknown identity."""
        now = self._now()
        async with self._db.sessions() as session:
            await _require_identity(session, identity_id)
            live = await session.scalar(
                select(VerificationCode)
                .where(VerificationCode.identity_id == identity_id, _live())
                .order_by(VerificationCode.id.desc())
                .limit(1)
            )
        if live is None:
            return await self._outcome(identity_id, None, Event.NO_CODE, CodeCheck("no_code"))
        phone = live.phone
        if now >= _aware(live.expires_at):
            async with self._db.transaction() as session:
                await session.execute(_kill(VerificationCode.id == live.id, now))
                _add_event(session, identity_id, phone, Event.EXPIRED, now)
            return self._logged(identity_id, phone, Event.EXPIRED, CodeCheck("expired"))
        code = extract_code(text)
        if code is None:
            return await self._outcome(identity_id, phone, Event.NOT_A_CODE,
                                       CodeCheck("not_a_code"))
        if await self._matches(code, live.salt, live.code_hash):
            return await self._use(live.id, identity_id, phone, now)
        return await self._wrong(live.id, identity_id, phone, now)

    async def _use(self, code_id: int, identity_id: int, phone: str,
                   now: datetime) -> CodeCheck:
        async with self._db.transaction() as session:
            await self._lock(session, identity_id, phone)  # the order request_code takes
            used = await session.execute(
                update(VerificationCode)
                .where(VerificationCode.id == code_id, _live(),
                       VerificationCode.expires_at > now,
                       VerificationCode.attempts < self._max_attempts)
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if affected_rows(used) != 1:  # a concurrent check used or killed it first
                _add_event(session, identity_id, phone, Event.NO_CODE, now)
                event, result = Event.NO_CODE, CodeCheck("no_code")
            else:
                await link_phone(session, identity_id, phone, via=VerifiedVia.SMS_CODE, now=now)
                _add_event(session, identity_id, phone, Event.VERIFIED, now)
                event, result = Event.VERIFIED, CodeCheck("verified", phone=phone)
        return self._logged(identity_id, phone, event, result)

    async def _wrong(self, code_id: int, identity_id: int, phone: str,
                     now: datetime) -> CodeCheck:
        async with self._db.transaction() as session:
            attempts = await session.scalar(
                update(VerificationCode)
                .where(VerificationCode.id == code_id, _live(),
                       VerificationCode.attempts < self._max_attempts)
                .values(attempts=VerificationCode.attempts + 1)
                .returning(VerificationCode.attempts)
                .execution_options(synchronize_session=False)
            )
            if attempts is None:  # a concurrent check used or killed it first
                event, result = Event.NO_CODE, CodeCheck("no_code")
            elif attempts >= self._max_attempts:
                await session.execute(_kill(VerificationCode.id == code_id, now))
                event, result = Event.LOCKED, CodeCheck("locked")
            else:
                event = Event.WRONG_CODE
                result = CodeCheck("wrong", remaining=self._max_attempts - attempts)
            _add_event(session, identity_id, phone, event, now)
        return self._logged(identity_id, phone, event, result)

    # -- forgetting --------------------------------------------------------------------------

    async def forget(self, identity_id: int) -> bool:
        """End the identity's verification ("выйти", "forget me") and any code on its way;
        whether it was verified. The identity leaves the verified customer
        (bot.customers.unlink); the customer keeps the number for its other channels.
        LookupError for an unknown identity."""
        return await self._end(identity_id, Event.FORGOTTEN)

    async def lapse(self, identity_id: int) -> None:
        """End a verification that outlived its channel's VERIFICATION_TTL (audited as
        ``lapsed``); LookupError for an unknown identity."""
        await self._end(identity_id, Event.LAPSED)

    async def _end(self, identity_id: int, event: str) -> bool:
        now = self._now()
        async with self._db.transaction() as session:
            was = await session.scalar(
                select(Identity.verified_phone).where(Identity.id == identity_id)
            )
            if not await unlink(session, identity_id):
                raise LookupError(f"no identity {identity_id}")
            await session.execute(_kill(VerificationCode.identity_id == identity_id, now))
            # no number in this row: the subscriber asked to be forgotten
            _add_event(session, identity_id, None, event, now)
        log.info("verification: identity %s %s", identity_id, event)
        return was is not None

    # -- helpers -----------------------------------------------------------------------------

    def _now(self) -> datetime:
        # UTC always: SQLite keeps datetimes as text without a zone, compared as text
        return _aware(self._clock()).astimezone(UTC)

    async def _hash(self, code: str, salt: bytes) -> str:
        async with self._hashing:
            return await asyncio.to_thread(_scrypt, self._key + code.encode("ascii"), salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)

    async def _matches(self, code: str, salt_hex: str, stored: str) -> bool:
        try:
            scheme, n, r, p, _digest = stored.split("$")
            salt = bytes.fromhex(salt_hex)
            if scheme != "scrypt":
                raise ValueError(scheme)
            async with self._hashing:
                computed = await asyncio.to_thread(_scrypt, self._key + code.encode("ascii"), salt,
                                                   int(n), int(r), int(p))
        except ValueError:  # not a hash this module wrote: it cannot match
            log.error("verification: a stored code hash is malformed; treated as no match")
            return False
        return hmac.compare_digest(computed.encode(), stored.encode())

    async def _outcome(self, identity_id: int, phone: str | None, event: str,
                       result: CodeCheck) -> CodeCheck:
        async with self._db.transaction() as session:
            _add_event(session, identity_id, phone, event, self._now())
        return self._logged(identity_id, phone, event, result)

    @staticmethod
    def _logged(identity_id: int, phone: str | None, event: str, result: CodeCheck) -> CodeCheck:
        log.info("verification: check for identity %s (%s): %s", identity_id,
                 mask_phone(phone) if phone else "no number", event)
        return result


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int) -> str:
    digest = hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p,
                            maxmem=_SCRYPT_MAXMEM, dklen=_DIGEST_BYTES)
    return f"scrypt${n}${r}${p}${digest.hex()}"


def _live() -> ColumnElement[bool]:
    return VerificationCode.used_at.is_(None) & VerificationCode.dead_at.is_(None)


def _kill(where: ColumnElement[bool], now: datetime) -> Update:
    return (
        update(VerificationCode).where(where, _live()).values(dead_at=now)
        .execution_options(synchronize_session=False)
    )


def audit(session: AsyncSession, identity_id: int, phone: str | None, event: str) -> None:
    """Add an audit row (``Event``) in the caller's transaction, e.g. a Telegram contact."""
    _add_event(session, identity_id, phone, event, utcnow())


def _add_event(session: AsyncSession, identity_id: int, phone: str | None, event: str,
               now: datetime) -> None:
    session.add(VerificationEvent(identity_id=identity_id, phone=phone, event=event,
                                  created_at=now))


async def _require_identity(session: AsyncSession, identity_id: int) -> None:
    if await session.scalar(select(Identity.id).where(Identity.id == identity_id)) is None:
        raise LookupError(f"no identity {identity_id}")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

