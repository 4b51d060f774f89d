"""Store first, answer second: the one path every VK event takes, in both modes.

``store(events)`` maps the events, resolves hashed button payloads, asks VK for the senders'
names (one ``users.get``, cached) and stores each message in the core (idempotent on its
delivery id). Only when it returns may the caller move on: persist the long poll's ``ts`` past
these events, or answer the Callback API ``ok``. ``dispatch`` answers in the background; an
event delivered again after a crash is a duplicate that ``accept`` recognises.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot import failpoints
from bot.conversations import Conversations
from bot.messages import InboundMessage
from channels.common.button_payloads import PayloadResolver
from channels.common.turns import taking_turns
from channels.common.worker import ConversationWorker
from channels.vk.inbound import to_inbound
from channels.vk.names import UserNames

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stored:
    conversation_id: str
    duplicate: bool


class StoreFailed(Exception):
    """Storing the batch failed part-way: offer it all again (what was stored is recognised)."""


class VkIntake:
    def __init__(
        self,
        *,
        group_id: int,
        conversations: Conversations,
        payloads: PayloadResolver,
        names: UserNames,
        worker: ConversationWorker,
    ) -> None:
        self._group_id = group_id
        self._conversations = conversations
        self._payloads = payloads
        self._names = names
        self._worker = worker

    async def store(self, events: Sequence[Mapping[str, Any]]) -> list[Stored]:
        """Store the batch's messages, senders taking turns (each sender's in order), and
        answer each as soon as it is stored.

        Raises :class:`StoreFailed` when storing fails: the caller must then offer the batch
        again and must not acknowledge it.
        """
        messages = [m for m in map(self._read, events) if m is not None]
        await self._names.fetch(int(m.channel_user_id) for m in messages)
        stored: list[Stored] = []
        for inbound in taking_turns(messages, lambda m: m.channel_user_id):
            try:
                item = await self._accept(inbound)
            except Exception as exc:
                log.exception("vk: could not store message %s; it will be offered again",
                              inbound.channel_message_id)
                raise StoreFailed(type(exc).__name__) from exc
            stored.append(item)
            self._worker.submit(item.conversation_id)
        return stored

    def _read(self, event: Mapping[str, Any]) -> InboundMessage | None:
        try:
            inbound = to_inbound(event, group_id=self._group_id)
        except Exception:  # a shape we did not foresee must not jam the queue: skip it
            log.exception("vk: an event of type %r could not be read; skipped",
                          str(event.get("type"))[:40])
            return None
        if inbound is None:
            log.debug("vk: %s event ignored (not for the bot)", str(event.get("type"))[:40])
        return inbound

    async def _accept(self, inbound: InboundMessage) -> Stored:
        name = self._names.cached(int(inbound.channel_user_id))
        if name is not None:
            inbound = dataclasses.replace(inbound, display_name=name)
        inbound = await self._payloads.resolve_pressed(inbound)
        accepted = await self._conversations.accept(inbound)
        failpoints.hit(failpoints.AFTER_ACCEPT)
        return Stored(conversation_id=accepted.conversation_id, duplicate=accepted.duplicate)

