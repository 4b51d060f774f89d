"""``abonent``: the command line. Each part registers its own sub-commands."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from pydantic import ValidationError

from bot import commands, nlu_commands
from bot.config import get_settings
from channels.telegram import cli as telegram_commands
from channels.vk import cli as vk_commands
from handoff import cli as handoff_commands
from handoff.workforce import cli as workforce_commands

# Parts that add sub-commands: each has ``register(subparsers)``; handlers return an exit code.
_PARTS = [
    commands, nlu_commands, handoff_commands, workforce_commands, telegram_commands, vk_commands
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abonent", description="Abonent: a support bot for mobile operators."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for part in _PARTS:
        part.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        level = get_settings().log_level  # ABONENT_LOG_LEVEL, validated upper-case
    except ValidationError as exc:  # invalid settings: say which, before anything else runs
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        for noisy in ("alembic", "pymorphy3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    # the last resort of the command line: a clear sentence, and the traceback in debug mode
    except Exception as exc:  # noqa: BLE001
        if level == "DEBUG":
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
