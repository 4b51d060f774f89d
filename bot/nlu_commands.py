"""``abonent nlu train|build-data|serve|parse|eval``: the NLU wired to settings and the
knowledge base (part of the composition root, so ``nlu/`` itself imports nothing of ours)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings, get_settings
from bot.runtime import nlu_settings, train_model
from knowledge_base import load_knowledge_base
from nlu.client import NluClient
from nlu.evaluation import EvalRow, evaluate, load_eval_file
from nlu.training import build_training_data


def register(subparsers: Any) -> None:
    nlu = subparsers.add_parser("nlu", help="the Rasa NLU model and server")
    sub = nlu.add_subparsers(dest="nlu_command", required=True, metavar="SUBCOMMAND")

    train = sub.add_parser("train", help="train the model (only when config or data changed)")
    train.add_argument("--force", action="store_true", help="train even if a model is cached")
    train.set_defaults(handler=_train)

    data = sub.add_parser("build-data", help="write the full training data (with the lookup) to DIR")
    data.add_argument("directory", type=Path)
    data.set_defaults(handler=_build_data)

    serve = sub.add_parser("serve", help="start a local Rasa server and keep it running")
    serve.add_argument("--port", type=int, help="port (RASA_PORT, default 5005)")
    serve.set_defaults(handler=_serve)

    parse = sub.add_parser("parse", help="print what the model understands of a text")
    parse.add_argument("text")
    parse.add_argument("--json", action="store_true", help="print the full result as JSON")
    parse.set_defaults(handler=_parse)

    ev = sub.add_parser(
        "eval", help="evaluate on TSV files (lang, intent, text[, form]) with one Rasa start"
    )
    ev.add_argument("files", type=Path, nargs="+", metavar="FILE")
    ev.add_argument(
        "--json", type=Path,
        help="also write the report as JSON to this file (several files: {file: report})",
    )
    ev.set_defaults(handler=_eval)


def _train(args: argparse.Namespace) -> int:
    train_model(get_settings(), force=args.force)
    return 0


def _build_data(args: argparse.Namespace) -> int:
    kb = load_knowledge_base(get_settings().kb_dir)
    out = build_training_data(kb.country_lookup(), args.directory)
    print(f"training data written to {out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from bot import shutdown

    settings = get_settings().model_copy(update={"rasa_url": None})

    async def main(_stop: shutdown.GracefulStop) -> None:
        async with nlu_settings(settings, port=args.port) as ready:
            print(f"Rasa NLU server: {ready.rasa_url}  (token in RASA_TOKEN, or printed below)")
            if not settings.rasa_token:
                assert ready.rasa_token is not None
                print(f"RASA_URL={ready.rasa_url} RASA_TOKEN={ready.rasa_token.get_secret_value()}")
            print("Press Ctrl-C to stop.", flush=True)
            await asyncio.Event().wait()

    # Ctrl-C or SIGTERM cancels the wait above, and leaving `async with` stops Rasa
    return shutdown.run(main)


def _client(settings: Settings, http: httpx.AsyncClient) -> NluClient:
    token = settings.rasa_token.get_secret_value() if settings.rasa_token else None
    assert settings.rasa_url is not None
    return NluClient(http, settings.rasa_url, token, timeout=settings.nlu_timeout)


def _parse(args: argparse.Namespace) -> int:
    async def main() -> None:
        async with nlu_settings(get_settings()) as ready, httpx.AsyncClient() as http:
            result = await _client(ready, http).parse(args.text)
        if args.json:
            print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
            return
        print(f"intent:     {result.intent} (family {result.family})")
        print(f"confidence: {result.confidence:.3f}")
        print(f"language:   {result.lang}")
        entities = ", ".join(f"{e.name}={e.value} ({e.text!r})" for e in result.entities)
        print(f"entities:   {entities or '-'}")
        ranking = ", ".join(f"{s.name} {s.confidence:.2f}" for s in result.ranking[:4])
        print(f"ranking:    {ranking}")

    asyncio.run(main())
    return 0


def _eval(args: argparse.Namespace) -> int:
    """Evaluate each file in turn on one Rasa server. A missing or malformed file is reported
    (``file:line``) and skipped, the others are still evaluated; the exit status is then 2."""
    sets, status = _load_eval_sets(args.files)
    if not sets:
        return status
    # one INFO line per request (hundreds) would bury the report; problems still show
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def main() -> dict[str, Any]:
        reports: dict[str, Any] = {}
        async with nlu_settings(get_settings()) as ready, httpx.AsyncClient() as http:
            client = _client(ready, http)
            for path, rows in sets:
                report = await evaluate(client, rows)
                print(f"\n=== Intents: {path} ===", flush=True)
                print(report.format(), flush=True)
                reports[str(path)] = report.to_dict()
        return reports

    reports = asyncio.run(main())
    if args.json:
        # one file keeps the report itself (the format before several files were allowed)
        data = next(iter(reports.values())) if len(args.files) == 1 else reports
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return status


def _load_eval_sets(files: list[Path]) -> tuple[list[tuple[Path, list[EvalRow]]], int]:
    """Read every file before Rasa starts, so a bad one costs no model load."""
    sets: list[tuple[Path, list[EvalRow]]] = []
    status = 0
    for path in files:
        if not path.is_file():
            print(f"nlu eval: {path} does not exist: skipped", file=sys.stderr)
            status = 2
            continue
        try:
            rows = load_eval_file(path)
        except ValueError as exc:  # names file:line
            print(f"nlu eval: {exc}: skipped", file=sys.stderr)
            status = 2
            continue
        if not rows:
            print(f"nlu eval: {path} holds no messages: skipped", file=sys.stderr)
            status = 2
            continue
        sets.append((path, rows))
    return sets, status
