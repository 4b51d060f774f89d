"""The VK channel (vk-api 11): Bots Long Poll or the Callback API in, the outbox sender out.

``build_vk`` is what the composition root (``bot/services.py``) calls when ``VK_GROUP_TOKEN`` is
set. vk-api stays inside this package: events become :class:`bot.messages.InboundMessage`
here, and replies are rendered here.

Names are loaded on first use: ``abonent`` imports this package for its ``vk`` sub-commands
even when VK is off.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.vk.channel import VkChannel
    from channels.vk.extension import VkExtension, build_vk
    from channels.vk.inbound import VK, to_inbound
    from channels.vk.options import VkConfigError, VkOptions

__all__ = [
    "VK",
    "VkChannel",
    "VkConfigError",
    "VkExtension",
    "VkOptions",
    "build_vk",
    "to_inbound",
]

_WHERE = {
    "VK": "inbound",
    "VkChannel": "channel",
    "VkConfigError": "options",
    "VkOptions": "options",
    "VkExtension": "extension",
    "build_vk": "extension",
    "to_inbound": "inbound",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"channels.vk.{_WHERE[name]}"), name)
