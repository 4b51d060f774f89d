"""Store first, acknowledge second: the one path every Telegram update takes, in both modes.

``store(update)`` maps the update, resolves a hashed button payload and stores the message in
the core (idempotent on its delivery id); only when it returns may the caller acknowledge the
update (move the ``getUpdates`` offset past it, or answer the webhook 200). ``dispatch`` may
follow at once, before the acknowledgement: it answers in the background (the button spinner
is stopped and the conversation is processed), and an update delivered again after a crash is a
duplicate that ``accept`` recognises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import Update

from bot import failpoints
from bot.conversations import Conversations
from channels.common.button_payloads import PayloadResolver
from channels.common.worker import ConversationWorker
from channels.telegram.errors import channel_error
from channels.telegram.inbound import to_inbound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stored:
    update_id: int
    conversation_id: str
    duplicate: bool
    callback_query_id: str | None = None


class TelegramIntake:
    def __init__(
        self,
        *,
        bot: Bot,
        conversations: Conversations,
        payloads: PayloadResolver,
        worker: ConversationWorker,
    ) -> None:
        self._bot = bot
        self._conversations = conversations
        self._payloads = payloads
        self._worker = worker

    async def store(self, update: Update) -> Stored | None:
        """Store the update's message; None when the bot ignores it. Storage errors propagate:
        the caller must then not acknowledge the update, so that Telegram delivers it again."""
        try:
            inbound = to_inbound(update)
        except Exception:  # a shape we did not foresee must not jam the queue: skip it
            log.exception("telegram update %s could not be read; skipped", update.update_id)
            return None
        if inbound is None:
            log.debug("telegram update %s ignored (not for the bot)", update.update_id)
            return None
        inbound = await self._payloads.resolve_pressed(inbound)
        accepted = await self._conversations.accept(inbound)
        failpoints.hit(failpoints.AFTER_ACCEPT)
        callback = inbound.metadata.get("callback_query_id")
        return Stored(
            update_id=update.update_id,
            conversation_id=accepted.conversation_id,
            duplicate=accepted.duplicate,
            callback_query_id=str(callback) if callback else None,
        )

    def dispatch(self, stored: Stored) -> None:
        """Once stored: stop the button's spinner, answer the conversation (in the background)."""
        if stored.callback_query_id is not None:
            self._worker.spawn(self._answer_callback(stored.callback_query_id))
        self._worker.submit(stored.conversation_id)


    async def _answer_callback(self, callback_query_id: str) -> None:
        try:
            await self._bot.answer_callback_query(callback_query_id)
        except Exception as exc:  # the spinner stops by itself after a while; never fatal
            error = channel_error(exc, secret=self._bot.token)
            if error is None:
                log.exception("answering a callback query failed")
            else:
                log.info("could not answer a callback query: %s", error)
