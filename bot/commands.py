"""Sub-commands of the app itself: ``run``, ``shell``, ``db upgrade``, ``kb check``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

from bot.config import Settings, get_settings
from bot.runtime import nlu_settings
from nlu.languages import LANGUAGES


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="start the app (and a local Rasa unless RASA_URL is set)")
    run.add_argument("--host", help="address to listen on (ABONENT_HOST, default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (ABONENT_PORT, default 8000)")
    run.set_defaults(handler=_run)

    shell = subparsers.add_parser("shell", help="chat with the bot in the terminal")
    shell.add_argument("--lang", choices=LANGUAGES, help="force the reply language")
    shell.set_defaults(handler=_shell)

    db = subparsers.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    db_sub.add_parser("upgrade", help="apply schema migrations").set_defaults(handler=_db_upgrade)

    kb = subparsers.add_parser("kb", help="knowledge base commands")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="SUBCOMMAND")
    kb_sub.add_parser("check", help="validate the knowledge base").set_defaults(handler=_kb_check)


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    updates = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    return settings.model_copy(update=updates) if updates else settings


def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from bot import shutdown
    from bot.app import create_app

    settings = _settings(args)
    if settings.workers > 1:
        return _run_workers(settings)

    async def main(stop: shutdown.GracefulStop) -> None:
        async with nlu_settings(settings) as ready:
            app = create_app(ready)
            config = uvicorn.Config(
                app, host=ready.host, port=ready.port, log_level=ready.log_level.lower(),
                # open long polls (web chat pages, the desk's events) must not hold a stop
                timeout_graceful_shutdown=shutdown.GRACE_SECONDS,
            )
            server = shutdown.uvicorn_server(config)
            print(f"Abonent is up: open the web chat at http://{ready.host}:{ready.port}/",
                  flush=True)
            with stop.serving(server):
                await server.serve()

    # SIGTERM/SIGINT shut uvicorn down, then the local Rasa: see bot/shutdown.py
    return shutdown.run(main)


def _run_workers(settings: Settings) -> int:
    """ABONENT_WORKERS=N (PostgreSQL only): one Rasa, N app processes on one port."""
    from bot import shutdown
    from bot.workers import WorkersError, bind, check_workers, serve_workers

    try:
        check_workers(settings)
        sock = bind(settings.host, settings.port)  # before Rasa's 40 s: a busy port fails now
    except WorkersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main(_stop: shutdown.GracefulStop) -> int:
        with sock:
            async with nlu_settings(settings) as ready:
                print(f"Abonent is up with {ready.workers} workers: open the web chat at "
                      f"http://{ready.host}:{ready.port}/", flush=True)
                # a stop signal cancels this: the workers stop, then the local Rasa
                return await serve_workers(ready, sock)

    return shutdown.run(main)


def _shell(args: argparse.Namespace) -> int:
    from bot.messages import InboundMessage
    from bot.services import build_services

    async def main() -> None:
        async with nlu_settings(get_settings()) as ready:
            services = build_services(ready)
            await services.start()
            user = f"shell-{uuid.uuid4().hex[:8]}"
            print("Type a message (Ctrl-D to quit). Buttons: type their number.")
            buttons: list[str] = []
            try:
                while True:
                    line = await asyncio.to_thread(_read_line)
                    if line is None:
                        break
                    text, payload = line.strip(), None
                    if text.isdigit() and 0 < int(text) <= len(buttons):
                        payload, text = buttons[int(text) - 1], ""
                    if not text and not payload:
                        continue
                    received = await services.conversations.receive(
                        InboundMessage(
                            channel="webchat", channel_user_id=user,
                            channel_message_id=uuid.uuid4().hex, text=text, payload=payload,
                            lang=args.lang,
                        )
                    )
                    buttons = []
                    for reply in received.replies:
                        print(f"bot> {reply.message.as_plain_text()}")
                        buttons += [b.payload for b in reply.message.buttons]
                    print(f"     [{received.state}]")
            finally:
                await services.stop()

    asyncio.run(main())
    return 0


def _read_line() -> str | None:
    try:
        return input("you> ")
    except EOFError:
        return None


def _db_upgrade(_args: argparse.Namespace) -> int:
    from bot.storage import upgrade_schema

    settings = get_settings()
    upgrade_schema(settings.database_url.get_secret_value())
    print("database schema is up to date")
    return 0


def _kb_check(_args: argparse.Namespace) -> int:
    from knowledge_base import check_knowledge_base, load_knowledge_base

    settings = get_settings()
    problems = check_knowledge_base(settings.kb_dir)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    kb = load_knowledge_base(settings.kb_dir)
    print(
        f"knowledge base OK: {len(kb.articles)} articles, {len(kb.countries)} countries, "
        f"{len(kb.zones)} zones"
    )
    return 0
