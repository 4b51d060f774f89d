"""Which thread a mail belongs to, and the record of every mail in and out.

A thread is named by the Message-ID of its first mail. A mail joins a thread when its
``In-Reply-To`` or ``References`` names any mail we know (the subscriber's or our own reply);
clients that keep only part of the chain still land in the right thread. A mail with neither
header joins the sender's most recent thread with the same subject (without Re:/Fwd:) of the
last 30 days; otherwise it starts a thread of its own.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.messages import utcnow
from bot.storage import Database
from channels.email.parsing import ParsedMail
from channels.email.subjects import normalise_subject
from channels.email.tables import EmailRecord

SUBJECT_WINDOW = timedelta(days=30)
_KEY = 255


class ThreadIndex:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def thread_of(self, mail: ParsedMail, address: str) -> str:
        """The thread key for this incoming mail (not recorded yet: see :meth:`record`)."""
        known = [*reversed(mail.references), *([mail.in_reply_to] if mail.in_reply_to else [])]
        async with self._db.sessions() as session:
            own = await session.scalar(
                select(EmailRecord.thread_key).where(EmailRecord.message_id == mail.message_id)
            )
            if own is not None:  # delivered again
                return own
            if known:
                rows = (await session.execute(
                    select(EmailRecord.message_id, EmailRecord.thread_key)
                    .where(EmailRecord.message_id.in_([k[:_KEY] for k in known]))
                )).all()
                by_id: dict[str, str] = {row.message_id: row.thread_key for row in rows}
                for message_id in known:  # the nearest ancestor we know
                    if message_id[:_KEY] in by_id:
                        return by_id[message_id[:_KEY]]
                return mail.references[0][:_KEY] if mail.references else known[0][:_KEY]
            subject = normalise_subject(mail.subject)[:_KEY]
            if subject:
                found = await session.scalar(
                    select(EmailRecord.thread_key)
                    .where(EmailRecord.address == address, EmailRecord.subject_key == subject,
                           EmailRecord.created_at >= utcnow() - SUBJECT_WINDOW)
                    .order_by(EmailRecord.id.desc()).limit(1)
                )
                if found is not None:
                    return found
        return mail.message_id[:_KEY]

    async def record(self, *, message_id: str, thread_key: str, address: str, subject: str,
                     direction: str) -> None:
        """Remember a mail (once: a mail delivered twice, or a reply sent again, is kept once)."""
        try:
            async with self._db.transaction() as session:
                exists = await session.scalar(
                    select(EmailRecord.id).where(EmailRecord.message_id == message_id[:_KEY])
                )
                if exists is None:
                    session.add(EmailRecord(
                        message_id=message_id[:_KEY], thread_key=thread_key[:_KEY],
                        address=address[:320], subject_key=normalise_subject(subject)[:_KEY],
                        direction=direction,
                    ))
        except IntegrityError:  # recorded by a concurrent pass first
            return
