"""``abonent telegram set-webhook | delete-webhook | info``.

aiogram is imported only when one of these runs: ``abonent`` builds its parser on every call.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.config import get_settings
from channels.telegram.options import ALLOWED_UPDATES, WEBHOOK_PATH, TelegramOptions

if TYPE_CHECKING:
    from aiogram import Bot


def register(subparsers: Any) -> None:
    telegram = subparsers.add_parser("telegram", help="the Telegram channel")
    sub = telegram.add_subparsers(dest="telegram_command", required=True, metavar="SUBCOMMAND")

    set_hook = sub.add_parser(
        "set-webhook",
        help="tell Telegram to post updates to TELEGRAM_WEBHOOK_URL (with TELEGRAM_WEBHOOK_SECRET)",
    )
    set_hook.add_argument("--drop-pending-updates", action="store_true",
                          help="discard the updates Telegram is still holding")
    set_hook.set_defaults(handler=_set_webhook)

    delete_hook = sub.add_parser("delete-webhook", help="remove the webhook (back to polling)")
    delete_hook.add_argument("--drop-pending-updates", action="store_true",
                             help="discard the updates Telegram is still holding")
    delete_hook.set_defaults(handler=_delete_webhook)

    sub.add_parser("info", help="show the bot and its webhook as Telegram sees them") \
        .set_defaults(handler=_info)


def _options() -> TelegramOptions:
    return TelegramOptions.from_settings(get_settings())


def _bot(options: TelegramOptions) -> Bot:
    from channels.telegram.client import create_bot

    return create_bot(options)


def _set_webhook(args: argparse.Namespace) -> int:
    options = _options()
    if options.webhook_url is None or options.webhook_secret is None:
        raise ValueError("set TELEGRAM_WEBHOOK_URL (and TELEGRAM_WEBHOOK_SECRET) first")
    if not urlsplit(options.webhook_url).path.endswith(WEBHOOK_PATH):
        print(f"note: the app serves the webhook at {WEBHOOK_PATH}; make sure "
              f"{options.webhook_url} reaches it")

    async def call() -> None:
        bot = _bot(options)
        try:
            await bot.set_webhook(
                url=options.webhook_url or "",
                secret_token=options.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=args.drop_pending_updates,
            )
        finally:
            await bot.session.close()

    asyncio.run(call())
    print(f"webhook set: Telegram now posts updates to {options.webhook_url}")
    return 0


def _delete_webhook(args: argparse.Namespace) -> int:
    options = _options()

    async def call() -> None:
        bot = _bot(options)
        try:
            await bot.delete_webhook(drop_pending_updates=args.drop_pending_updates)
        finally:
            await bot.session.close()

    asyncio.run(call())
    print("webhook deleted: the bot can poll (leave TELEGRAM_WEBHOOK_URL unset)")
    return 0


def _info(_args: argparse.Namespace) -> int:
    options = _options()

    async def call() -> None:
        bot = _bot(options)
        try:
            me = await bot.get_me()
            hook = await bot.get_webhook_info()
        finally:
            await bot.session.close()
        print(f"bot: @{me.username} (id {me.id})")
        print(f"configured mode: {options.mode}")
        print(f"webhook: {hook.url or '(none: polling)'}; pending updates: "
              f"{hook.pending_update_count}")
        if hook.last_error_message:
            print(f"last webhook error: {hook.last_error_message}")

    asyncio.run(call())
    return 0
