"""``abonent vk info``: the community, the mode, and what VK reports about the server.

vk-api is imported only when it runs: ``abonent`` builds its parser on every call.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.config import get_settings
from channels.vk.options import CALLBACK_PATH, VkOptions


def register(subparsers: Any) -> None:
    vk = subparsers.add_parser("vk", help="the VK channel")
    sub = vk.add_subparsers(dest="vk_command", required=True, metavar="SUBCOMMAND")
    sub.add_parser(
        "info", help="show the community, the mode, and the long-poll or callback server as VK "
                     "sees them",
    ).set_defaults(handler=_info)


def _info(_args: argparse.Namespace) -> int:
    options = VkOptions.from_settings(get_settings())
    return asyncio.run(_report(options))


async def _report(options: VkOptions) -> int:
    from channels.vk.client import VkClient

    client = VkClient(token=options.token, api_version=options.api_version,
                      api_base=options.api_base, threads=1)
    try:
        found = await client.call("groups.getById", group_id=options.group_id)
        groups = found.get("groups", []) if isinstance(found, dict) else found
        group = groups[0] if groups else {}
        print(f"community: {group.get('name')} (id {group.get('id')}, "
              f"vk.com/{group.get('screen_name') or 'club' + str(options.group_id)})")
        print(f"configured mode: {options.mode.replace('_', ' ')}; API version "
              f"{options.api_version}; API base {options.api_base}")
        if options.mode == "long_poll":
            return _long_poll(options, await client.call(
                "groups.getLongPollSettings", group_id=options.group_id))
        return _callback(await client.call("groups.getCallbackServers",
                                           group_id=options.group_id))
    finally:
        client.close()


def _long_poll(options: VkOptions, settings: dict[str, Any]) -> int:
    enabled = bool(settings.get("is_enabled"))
    events = settings.get("events") or {}
    print(f"Bots Long Poll: {'on' if enabled else 'OFF'}; API version "
          f"{settings.get('api_version')}; message_new "
          f"{'on' if events.get('message_new') else 'OFF'}")
    problems = []
    if not enabled:
        problems.append("turn Bots Long Poll on (community settings > API usage > Long Poll API)")
    if not events.get("message_new"):
        problems.append("tick the event 'Incoming message' (message_new) for Long Poll")
    if settings.get("api_version") and settings.get("api_version") != options.api_version:
        problems.append(f"set the Long Poll API version to {options.api_version} (events come "
                        "in the shape of that version)")
    for problem in problems:
        print(f"to do: {problem}")
    return 1 if problems else 0


def _callback(servers: dict[str, Any]) -> int:
    items = servers.get("items") or []
    if not items:
        print(f"callback servers: none. Add https://<your host>{CALLBACK_PATH} in the "
              "community's settings (API usage > Callback API) with VK_CALLBACK_SECRET")
        return 1
    for item in items:
        print(f"callback server: {item.get('url')} (status: {item.get('status')})")
    bad = [i for i in items if i.get("status") != "ok"]
    return 1 if bad else 0
