"""``abonent workforce``: workforce planning from the command line (no database needed).

    abonent workforce staffing --contacts 100 --interval 30 --aht 180 --target 20 \\
        --service-level 0.8 --shrinkage 0 --max-occupancy 1

prints the agents Erlang C asks for in one interval. Left-out values come from the settings:
ABONENT_WORKFORCE_SERVICE_LEVEL, _SHRINKAGE, _MAX_OCCUPANCY and HANDOFF_TARGET_SECONDS.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.config import get_settings
from handoff.workforce.model import INTERVAL_MINUTES
from handoff.workforce.staffing import staff


def register(subparsers: Any) -> None:
    workforce = subparsers.add_parser("workforce", help="workforce planning")
    sub = workforce.add_subparsers(dest="workforce_command", required=True,
                                   metavar="SUBCOMMAND")
    staffing = sub.add_parser(
        "staffing", help="agents needed for one interval (Erlang C)",
        description="Agents needed to answer the contacts of one interval (Erlang C).",
    )
    staffing.add_argument("--contacts", type=float, required=True,
                          help="contacts arriving in the interval")
    staffing.add_argument("--interval", type=int, default=INTERVAL_MINUTES,
                          help=f"interval length in minutes (default {INTERVAL_MINUTES})")
    staffing.add_argument("--aht", type=float, required=True,
                          help="average handling time in seconds")
    staffing.add_argument("--target", type=float,
                          help="answer within this many seconds (default: the "
                               "handoff_target_seconds setting)")
    staffing.add_argument("--service-level", type=float,
                          help="share answered within the target, e.g. 0.9 (default: the "
                               "workforce_service_level setting)")
    staffing.add_argument("--shrinkage", type=float,
                          help="share of paid time agents are not available, e.g. 0.3 "
                               "(default: the workforce_shrinkage setting)")
    staffing.add_argument("--max-occupancy", type=float,
                          help="the busiest an agent may be, e.g. 0.85 (default: the "
                               "workforce_max_occupancy setting)")
    staffing.set_defaults(handler=_staffing)


def _staffing(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        result = staff(
            args.contacts,
            aht_seconds=args.aht,
            target_seconds=_or(args.target, settings.handoff_target_seconds),
            service_level=_or(args.service_level, settings.workforce_service_level),
            shrinkage=_or(args.shrinkage, settings.workforce_shrinkage),
            max_occupancy=_or(args.max_occupancy, settings.workforce_max_occupancy),
            interval_minutes=args.interval,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"raw agents: {result.raw_agents}")
    print(f"rostered agents: {result.agents}")
    print(f"service level: {result.service_level:.1%}")
    print(f"occupancy: {result.occupancy:.1%}")
    print(f"waiting probability: {result.waiting_probability:.1%}")
    return 0


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
