"""Long polling that loses nothing: our own loop around ``getUpdates``, not aiogram's.

aiogram's ``start_polling`` moves the offset as soon as it yields an update and handles updates
concurrently, so a crash loses updates and one chat's replies can overtake each other. Here
each batch is stored first; only the next ``getUpdates`` call, with an offset past the stored
updates, acknowledges them. A crash in between means Telegram delivers them again, and the
core's idempotent ``accept`` sees them as duplicates. When storing fails half-way, the offset
stops at the first unstored update and the rest of the batch is asked for again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import Update

from channels.common.turns import taking_turns
from channels.telegram.client import REQUEST_TIMEOUT
from channels.telegram.errors import channel_error
from channels.telegram.intake import TelegramIntake
from channels.telegram.options import ALLOWED_UPDATES

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds Telegram holds an empty getUpdates open
MAX_PAUSE = 60.0


class Poller:
    def __init__(self, bot: Bot, intake: TelegramIntake, *, timeout: int = POLL_TIMEOUT) -> None:
        self._bot = bot
        self._intake = intake
        self._timeout = timeout
        self._failures = 0
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("telegram: long polling started")
        while not stop.is_set():
            pause = await self.poll_once()
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)

    async def poll_once(self) -> float:
        """One ``getUpdates`` round; returns how long to pause before the next (0: none)."""
        try:
            updates = await self._bot.get_updates(
                offset=self.offset,
                timeout=self._timeout,
                allowed_updates=list(ALLOWED_UPDATES),
                request_timeout=int(REQUEST_TIMEOUT + self._timeout),
            )
        except TelegramRetryAfter as exc:
            log.warning("telegram: getUpdates flood control, waiting %s s", exc.retry_after)
            return float(exc.retry_after)
        except TelegramConflictError as exc:
            log.error("telegram: getUpdates conflicts (%s). Another process polls with this "
                      "token, or a webhook is set: run `abonent telegram delete-webhook` to poll, "
                      "or set TELEGRAM_WEBHOOK_URL for webhook mode", exc.message)
            return self._failed()
        except TelegramUnauthorizedError:
            log.error("telegram: the bot token was rejected; check TELEGRAM_BOT_TOKEN")
            return self._failed()
        except (TelegramAPIError, ClientDecodeError) as exc:  # network, 5xx, bad answers
            log.warning("telegram: getUpdates failed: %s", channel_error(exc, secret=self._bot.token))
            return self._failed()
        except Exception:  # the loop must survive anything
            log.exception("telegram: getUpdates failed unexpectedly")
            return self._failed()
        if not await self._store(updates):
            return self._failed()
        self._failures = 0
        return 0.0

    async def _store(self, updates: list[Update]) -> bool:
        """Store the batch; False when storing failed and the rest must be asked for again.

        One chat's flood must not hold up the others: senders take turns (one chat's updates
        stay in order), and each update is answered as soon as it is stored, not after the
        whole batch of up to 100. Answering before the offset acknowledges it is safe: a crash
        in between makes Telegram deliver it again, and ``accept`` sees a duplicate.
        """
        stored: set[int] = set()
        for update in taking_turns(updates, _sender):
            try:
                item = await self._intake.store(update)
            except Exception:
                log.exception("telegram: could not store update %s; it will be delivered again",
                              update.update_id)
                break
            stored.add(update.update_id)
            if item is not None:
                self._intake.dispatch(item)
        unstored = [update.update_id for update in updates if update.update_id not in stored]
        if unstored:  # acknowledge only up to the first unstored one; the rest come again
            self.offset = min(unstored)
            return False
        if updates:
            self.offset = max(update.update_id for update in updates) + 1
        return True

    def _failed(self) -> float:
        self._failures += 1
        ceiling = min(MAX_PAUSE, 2.0 ** min(self._failures, 10))
        return random.uniform(ceiling / 2, ceiling)


def _sender(update: Update) -> object:
    event = update.message or update.callback_query
    user = getattr(event, "from_user", None)
    return user.id if user is not None else ("update", update.update_id)
