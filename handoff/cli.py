"""``abonent agents``: desk accounts from the command line.

    abonent agents create USERNAME --role agent|supervisor [--name "Anna K."]
    abonent agents password USERNAME          # reset (logs the agent out everywhere)
    abonent agents disable USERNAME           # no more logins; open sessions end at once
    abonent agents enable USERNAME
    abonent agents skills USERNAME technical,general   # "" clears (handoff/data/skills.yml)
    abonent agents list

Passwords are read from standard input (asked twice on a terminal), never from arguments,
so they stay out of the shell history and the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from bot.config import get_settings
from bot.storage import Database
from handoff.audit import Actor
from handoff.auth import Accounts, check_new_account
from handoff.errors import HandoffError
from handoff.routing import RoutingConfigError, UnknownSkill, load_skills
from handoff.tables import Role

T = TypeVar("T")


def register(subparsers: Any) -> None:
    agents = subparsers.add_parser("agents", help="agent desk accounts")
    sub = agents.add_subparsers(dest="agents_command", required=True, metavar="SUBCOMMAND")

    create = sub.add_parser("create", help="create an account (password from standard input)")
    create.add_argument("username")
    create.add_argument("--role", choices=Role.ALL, default=Role.AGENT)
    create.add_argument("--name", help="the name the subscriber sees when the agent joins")
    create.set_defaults(handler=_create)

    password = sub.add_parser("password", help="reset a password (from standard input)")
    password.add_argument("username")
    password.set_defaults(handler=_password)

    disable = sub.add_parser("disable", help="stop an agent logging in; ends their sessions")
    disable.add_argument("username")
    disable.set_defaults(handler=_disable)

    enable = sub.add_parser("enable", help="let a disabled agent log in again")
    enable.add_argument("username")
    enable.set_defaults(handler=_enable)

    skills = sub.add_parser("skills", help="set an agent's skills for routing")
    skills.add_argument("username")
    skills.add_argument("skills", help='comma-separated, e.g. technical,general; "" clears')
    skills.set_defaults(handler=_skills)

    sub.add_parser("list", help="list the accounts").set_defaults(handler=_list)


def read_password(stdin: Any = None) -> str:
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("the passwords do not match")
        return first
    line: str = stdin.readline()
    return line.rstrip("\r\n")


def operator() -> Actor:
    """Who runs the command, for the audit trail: ``cli:<login name>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's bare uid)
        user = "unknown"
    return Actor(None, None, f"cli:{user}"[:64])


def _with_accounts(action: Callable[[Accounts], Awaitable[T]]) -> T:
    settings = get_settings()

    async def main() -> T:
        db = Database(settings.database_url.get_secret_value())
        try:
            if settings.auto_migrate:
                await db.upgrade()
            accounts = Accounts(db, session_ttl=timedelta(hours=settings.desk_session_hours),
                                operator=operator())
            return await action(accounts)
        finally:
            await db.close()

    return asyncio.run(main())


def _create(args: argparse.Namespace) -> int:
    password = read_password()
    try:
        check_new_account(args.username, password, args.role)
        agent = _with_accounts(
            lambda accounts: accounts.create(args.username, password, role=args.role,
                                             display_name=args.name)
        )
    except (HandoffError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {agent.role} {agent.username!r}")
    return 0


def _password(args: argparse.Namespace) -> int:
    password = read_password()
    try:
        _with_accounts(lambda accounts: accounts.set_password(args.username, password))
    except (HandoffError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"password of {args.username!r} reset; their sessions are logged out")
    return 0


def _set_active(username: str, active: bool) -> int:
    try:
        changed = _with_accounts(lambda accounts: accounts.set_active(username, active))
    except HandoffError as exc:
        print(f"error: {exc} (`abonent agents list` shows the accounts)", file=sys.stderr)
        return 1
    if not active:
        print(f"{username!r} is disabled; their sessions are logged out" if changed
              else f"{username!r} was already disabled")
    else:
        print(f"{username!r} is enabled" if changed else f"{username!r} was already enabled")
    return 0


def _disable(args: argparse.Namespace) -> int:
    return _set_active(args.username, False)


def _enable(args: argparse.Namespace) -> int:
    return _set_active(args.username, True)


def _skills(args: argparse.Namespace) -> int:
    try:
        skills = load_skills().check(args.skills.split(","))
        _with_accounts(lambda accounts: accounts.set_skills(args.username, skills))
    except (RoutingConfigError, UnknownSkill) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except HandoffError as exc:
        print(f"error: {exc} (`abonent agents list` shows the accounts)", file=sys.stderr)
        return 1
    print(f"skills of {args.username!r}: {', '.join(skills)}" if skills
          else f"{args.username!r} has no skills: every handoff is offered to them alike")
    return 0


def _list(_args: argparse.Namespace) -> int:
    async def read(accounts: Accounts) -> tuple[list[Any], dict[str, list[str]]]:
        return await accounts.all_agents(), await accounts.skills_of()

    rows, skills = _with_accounts(read)
    for agent, active, seen in rows:
        state = "active" if active else "disabled"
        last = seen.isoformat(timespec="seconds") if seen else "never"
        has = ",".join(skills.get(agent.username, [])) or "-"
        print(f"{agent.username:<24} {agent.role:<11} {state:<9} skills {has:<20} "
              f"last seen {last}")
    return 0
