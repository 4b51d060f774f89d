"""The conversation core on a real database (SQLite, and PostgreSQL with TEST_DATABASE_URL):
inbound messages are deduplicated per sender, and a message whose processing keeps failing is
marked failed, answered honestly and handed to a person instead of wedging its conversation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update

from bot.conversations import Conversations
from bot.messages import NO_REPLY, THREAD, InboundMessage
from bot.notify import Notifier
from bot.policy import DialoguePolicy
from bot.storage import Conversation, ConversationState, Database, Message
from knowledge_base import KnowledgeBase, PhraseKey, load_knowledge_base
from nlu import IntentScore, NluResult
from tests.support.handoff_stub import StateOnlyHandoff

POISON = "сломай меня 8029-123-45-67"  # the text that makes the stub NLU raise
MAX_ID = "x" * 128


class Boom(RuntimeError):
    """What the stub NLU raises for the poison text (its message quotes the text, as real
    exceptions often do: it must not reach the log)."""


class Killed(BaseException):
    """Stands for the process dying mid-pass: not an Exception, so nothing counts it."""


@dataclass
class StubNlu:
    """Understands everything as ``check_balance``; raises for the poison text."""

    kill_on_call: int | None = None
    calls: list[str] = field(default_factory=list)

    async def parse(self, text: str, lang_hint: str | None = None) -> NluResult:
        self.calls.append(text)
        if self.kill_on_call == len(self.calls):
            raise Killed
        if text == POISON:
            raise Boom(f"cannot parse {text!r}")
        return NluResult(
            text=text, intent="check_balance", family="check_balance", confidence=0.95,
            ranking=(IntentScore("check_balance", 0.95),), entities=(), lang="ru",
            model_id="stub",
        )


@dataclass
class Core:
    db: Database
    kb: KnowledgeBase

    def conversations(self, nlu: StubNlu, *, max_attempts: int = 3) -> Conversations:
        """A fresh Conversations over the same database: a restarted app, as far as it knows."""
        return Conversations(
            self.db, nlu, DialoguePolicy(self.kb), StateOnlyHandoff(self.kb),
            Notifier(), kb=self.kb, max_attempts=max_attempts,
        )

    async def inbound(self, conversation_id: str) -> list[Message]:
        async with self.db.sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(Message)
                        .where(Message.conversation_id == conversation_id,
                               Message.direction == "in")
                        .order_by(Message.id)
                    )
                ).all()
            )

    async def state(self, conversation_id: str) -> str:
        async with self.db.sessions() as session:
            convo = await session.get(Conversation, conversation_id)
            assert convo is not None
            return convo.state


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture
async def core(database_url: str, kb: KnowledgeBase) -> AsyncIterator[Core]:
    db = Database(database_url)
    await db.upgrade()
    try:
        yield Core(db, kb)
    finally:
        await db.close()


def message(user: str, message_id: str, text: str = "какой у меня баланс") -> InboundMessage:
    return InboundMessage(channel="webchat", channel_user_id=user, channel_message_id=message_id,
                          text=text, lang="ru")


def texts(received: object) -> list[str]:
    return [reply.message.text for reply in received.replies]  # type: ignore[attr-defined]


# -- defect 1: message ids are unique per sender, not per channel ---------------------------

async def test_ids_that_concatenate_alike_are_different_messages(core: Core) -> None:
    conversations = core.conversations(StubNlu())
    first = await conversations.receive(message("a:b", "c"))
    second = await conversations.receive(message("a", "b:c"))
    assert not first.duplicate and not second.duplicate
    assert first.message_id != second.message_id
    assert first.conversation_id != second.conversation_id
    assert second.replies and {r.id for r in second.replies}.isdisjoint(
        {r.id for r in first.replies}
    )


async def test_the_same_id_from_two_users_is_two_messages(core: Core) -> None:
    conversations = core.conversations(StubNlu())
    anna = await conversations.receive(message("anna", "1"))
    boris = await conversations.receive(message("boris", "1"))
    assert not boris.duplicate
    assert (boris.message_id, boris.conversation_id) != (anna.message_id, anna.conversation_id)
    assert len(boris.replies) == len(anna.replies) >= 1


async def test_a_repeated_id_from_the_same_user_returns_the_first_answer(core: Core) -> None:
    nlu = StubNlu()
    conversations = core.conversations(nlu)
    first = await conversations.receive(message("anna", "42"))
    again = await conversations.receive(message("anna", "42", text="something else entirely"))
    assert again.duplicate and again.message_id == first.message_id
    assert [r.id for r in again.replies] == [r.id for r in first.replies]
    assert nlu.calls == ["какой у меня баланс"], "answered once"
    assert len(await core.inbound(first.conversation_id)) == 1


# -- threads: a channel with threads (e-mail) gets a conversation per thread -----------------

def threaded(user: str, message_id: str, thread: str | None) -> InboundMessage:
    return InboundMessage(channel="email", channel_user_id=user, channel_message_id=message_id,
                          text="какой у меня баланс", lang="ru",
                          metadata={THREAD: thread} if thread is not None else {})


async def test_each_thread_of_one_sender_is_a_conversation_of_its_own(core: Core) -> None:
    conversations = core.conversations(StubNlu())
    first = await conversations.receive(threaded("anna@example.test", "<1@x>", "<1@x>"))
    other = await conversations.receive(threaded("anna@example.test", "<2@x>", "<2@x>"))
    reply = await conversations.receive(threaded("anna@example.test", "<3@x>", "<1@x>"))
    assert first.conversation_id != other.conversation_id, "a new thread, a new conversation"
    assert reply.conversation_id == first.conversation_id, "a reply joins its thread"
    assert [m.channel_message_id for m in await core.inbound(first.conversation_id)] == \
        ["<1@x>", "<3@x>"]


async def test_without_a_thread_the_sender_keeps_one_conversation(core: Core) -> None:
    conversations = core.conversations(StubNlu())
    threaded_one = await conversations.receive(threaded("boris", "1", "<t@x>"))
    chat = [await conversations.receive(threaded("boris", str(i), None)) for i in (2, 3)]
    assert chat[0].conversation_id == chat[1].conversation_id
    assert chat[0].conversation_id != threaded_one.conversation_id, "threads stay apart"


async def test_a_message_marked_no_reply_is_kept_but_never_answered(core: Core) -> None:
    nlu = StubNlu()
    conversations = core.conversations(nlu)
    bounce = InboundMessage(channel="email", channel_user_id="mailer-daemon@example.test",
                            channel_message_id="<b@x>", text="Undelivered mail", lang="ru",
                            metadata={NO_REPLY: "bounce"})
    received = await conversations.receive(bounce)
    assert not received.replies and nlu.calls == []
    [stored] = await core.inbound(received.conversation_id)
    assert stored.text == "Undelivered mail" and stored.processed_at is not None
    assert await conversations.recover() == 0, "the sweep does not answer it later either"


async def test_the_longest_user_and_message_ids_fit(core: Core) -> None:
    conversations = core.conversations(StubNlu())
    received = await conversations.receive(message(MAX_ID, MAX_ID))
    again = await conversations.receive(message(MAX_ID, MAX_ID))
    assert received.replies and again.duplicate
    [stored] = await core.inbound(received.conversation_id)
    assert stored.channel_message_id == MAX_ID and stored.identity_id is not None


# -- defect 5: a poison message ---------------------------------------------------------------

def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "bot.conversations" and r.levelno >= logging.ERROR]


async def test_a_poison_message_is_failed_answered_and_handed_over(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nlu = StubNlu()
    conversations = core.conversations(nlu, max_attempts=3)
    received = await conversations.receive(message("anna", "1", POISON))

    assert nlu.calls == [POISON] * 3, "three passes, then it gives up"
    sorry = core.kb.phrase(PhraseKey.PROCESSING_FAILED, "ru")
    assert texts(received)[0] == sorry
    assert received.state == ConversationState.WAITING_AGENT
    [poison] = await core.inbound(received.conversation_id)
    assert poison.attempts == 3 and poison.failed_at is not None
    assert poison.processed_at is not None

    [error] = _errors(caplog)
    assert "failed 3 time(s) (Boom)" in error.getMessage()
    everything = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "сломай" not in everything and "8029" not in everything, "no message text in the log"

    nxt = await conversations.receive(message("anna", "2", "а баланс?"))
    [_, after] = await core.inbound(received.conversation_id)
    assert after.id == nxt.message_id and after.processed_at is not None
    assert after.failed_at is None and after.attempts == 0
    assert texts(nxt) == [core.kb.phrase(PhraseKey.HANDOFF_ALREADY_WAITING, "ru")]
    assert len(_errors(caplog)) == 1, "logged once"


async def test_the_next_stored_message_is_answered_in_the_same_pass(core: Core) -> None:
    """Both stored (as a Telegram batch would be) before processing: the poison one does not
    block the one after it."""
    nlu = StubNlu()
    conversations = core.conversations(nlu, max_attempts=2)
    accepted = await conversations.accept(message("anna", "1", POISON))
    await conversations.accept(message("anna", "2", "какой у меня баланс"))
    await conversations.process(accepted.conversation_id)
    poison, fine = await core.inbound(accepted.conversation_id)
    assert (poison.attempts, poison.failed_at is not None) == (2, True)
    assert fine.processed_at is not None and fine.failed_at is None
    assert nlu.calls == [POISON, POISON], "the next one goes to the agent, not the NLU"


async def test_a_failure_that_recurs_in_one_conversation_does_not_stop_recovery(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    conversations = core.conversations(StubNlu())
    poisoned = await conversations.accept(message("anna", "1", POISON))
    healthy = await conversations.accept(message("boris", "1", "какой у меня баланс"))

    assert await conversations.recover() == 2
    assert await core.state(poisoned.conversation_id) == ConversationState.WAITING_AGENT
    [fine] = await core.inbound(healthy.conversation_id)
    assert fine.processed_at is not None and fine.failed_at is None
    assert await core.state(healthy.conversation_id) == ConversationState.BOT
    assert await conversations.recover() == 0, "nothing left to retry every minute"
    assert len(_errors(caplog)) == 1


async def test_the_attempt_count_survives_a_restart(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    first_run = core.conversations(StubNlu(kill_on_call=3))
    accepted = await first_run.accept(message("anna", "1", POISON))
    with pytest.raises(Killed):  # two passes fail, the process dies during the third
        await first_run.process(accepted.conversation_id)
    [stored] = await core.inbound(accepted.conversation_id)
    assert (stored.attempts, stored.processed_at) == (2, None)

    nlu = StubNlu()
    assert await core.conversations(nlu).recover() == 1
    assert nlu.calls == [POISON], "one more pass, not three"
    [stored] = await core.inbound(accepted.conversation_id)
    assert stored.attempts == 3 and stored.failed_at is not None
    assert len(_errors(caplog)) == 1


async def test_a_message_that_used_up_its_attempts_is_not_tried_again(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    """A run died after counting the last attempt but before giving up: the next run gives up
    without processing it again."""
    conversations = core.conversations(StubNlu())
    accepted = await conversations.accept(message("anna", "1", POISON))
    async with core.db.transaction() as session:
        await session.execute(update(Message).where(Message.id == accepted.message_id)
                              .values(attempts=3))
    nlu = StubNlu()
    await core.conversations(nlu).process(accepted.conversation_id)
    assert nlu.calls == []
    [stored] = await core.inbound(accepted.conversation_id)
    assert stored.failed_at is not None
    assert await core.state(accepted.conversation_id) == ConversationState.WAITING_AGENT
    [error] = _errors(caplog)
    assert "in an earlier run" in error.getMessage()
