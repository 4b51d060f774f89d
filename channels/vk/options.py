"""The VK settings this channel needs, checked once: token, community, API version and base,
and the Callback API's confirmation string and secret.

Bots Long Poll is the default (no public address needed). Callback mode (``POST /vk/callback``,
for several replicas behind a balancer) is on when ``VK_CALLBACK_CONFIRMATION`` is set, and then
``VK_CALLBACK_SECRET`` is required: without it anyone could post events as VK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from bot.config import Settings

VK_DEFAULT_BASE = "https://api.vk.ru"  # vk-api's fixed base; VK_API_BASE may point elsewhere
CALLBACK_PATH = "/vk/callback"
MIN_API_VERSION = (5, 103)  # message_new.object is {message, client_info} from 5.103 on

_TOKEN = re.compile(r"[A-Za-z0-9._-]{20,512}")
_GROUP = re.compile(r"(?:-|club|public)?(\d{1,15})")
_VERSION = re.compile(r"(\d+)\.(\d+)")
_SECRET = re.compile(r"[A-Za-z0-9]{1,50}")  # what VK's community settings accept
_CONFIRMATION = re.compile(r"[A-Za-z0-9]{1,64}")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class VkConfigError(ValueError):
    """The VK settings are incomplete or malformed (the message says which variable)."""


@dataclass(frozen=True, slots=True)
class VkOptions:
    token: str = field(repr=False)
    group_id: int
    api_version: str = "5.199"
    api_base: str = VK_DEFAULT_BASE
    callback_confirmation: str | None = field(default=None, repr=False)
    callback_secret: str | None = field(default=None, repr=False)

    @property
    def mode(self) -> Literal["long_poll", "callback"]:
        return "callback" if self.callback_confirmation else "long_poll"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never reach a log (scrubbed from error messages)."""
        return tuple(s for s in (self.token, self.callback_secret) if s)

    @classmethod
    def from_settings(cls, settings: Settings) -> VkOptions:
        token = _secret(settings.vk_group_token)
        if not token:
            raise VkConfigError("VK_GROUP_TOKEN is not set")
        if not _TOKEN.fullmatch(token):
            raise VkConfigError(
                "VK_GROUP_TOKEN does not look like a community token (20 or more letters, digits, "
                "'.', '_' or '-'; create it in the community's settings: API usage)"
            )
        group = (settings.vk_group_id or "").strip()
        if not group:
            raise VkConfigError("VK_GROUP_ID is not set: the community's numeric id (club123 -> 123)")
        matched = _GROUP.fullmatch(group)
        if matched is None or int(matched.group(1)) == 0:
            raise VkConfigError(f"VK_GROUP_ID must be the community's numeric id, not {group!r}")
        return cls(
            token=token,
            group_id=int(matched.group(1)),
            api_version=_api_version(settings.vk_api_version),
            api_base=_api_base(settings.vk_api_base),
            **_callback(settings),
        )


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()).strip() if getter is not None else ""


def _api_version(value: str) -> str:
    version = value.strip()
    matched = _VERSION.fullmatch(version)
    if matched is None:
        raise VkConfigError(f"VK_API_VERSION must look like 5.199, not {version!r}")
    if (int(matched.group(1)), int(matched.group(2))) < MIN_API_VERSION:
        raise VkConfigError(
            f"VK_API_VERSION {version} is too old: the bot reads messages in the shape of 5.103 "
            "and later (5.199 recommended)"
        )
    return version


def _api_base(value: str) -> str:
    base = value.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise VkConfigError(f"VK_API_BASE must be an http(s) URL such as {VK_DEFAULT_BASE}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise VkConfigError(
            "VK_API_BASE must use https (the community token travels with every call); plain "
            "http is allowed only on this machine (127.0.0.1)"
        )
    return base


def _callback(settings: Settings) -> dict[str, str | None]:
    confirmation = _secret(settings.vk_callback_confirmation) or None
    secret = _secret(settings.vk_callback_secret) or None
    if confirmation is None:
        if secret is not None:
            raise VkConfigError(
                "VK_CALLBACK_SECRET is set but VK_CALLBACK_CONFIRMATION is not: Callback mode "
                "needs both (leave both unset for Bots Long Poll)"
            )
        return {}
    if not _CONFIRMATION.fullmatch(confirmation):
        raise VkConfigError(
            "VK_CALLBACK_CONFIRMATION must be the string VK shows in the community's Callback "
            "API settings (letters and digits)"
        )
    if secret is None:
        raise VkConfigError(
            "VK_CALLBACK_CONFIRMATION is set but VK_CALLBACK_SECRET is not: Callback mode needs "
            "a secret key so that only VK can post events"
        )
    if not _SECRET.fullmatch(secret):
        raise VkConfigError("VK_CALLBACK_SECRET must be 1-50 letters and digits (VK's rule)")
    return {"callback_confirmation": confirmation, "callback_secret": secret}
