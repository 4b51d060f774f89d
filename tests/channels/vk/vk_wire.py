"""VK API's wire format, as the fake server needs it: the defaults a test community has, reading
a call's parameters (form or query string, every value a string, as VK sees them), the answer
envelopes (HTTP 200 either way) and the checks VK makes on ``messages.send``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

API_VERSION = "5.199"
DEFAULT_TOKEN = "vk1.a.fake-community-token-for-tests"
DEFAULT_GROUP_ID = 229000001
CHAT_PEER_BASE = 2_000_000_000  # peer ids of group chats start here

MAX_MESSAGE_LENGTH = 4096
INT32 = (-(2**31), 2**31 - 1)
BUTTON_TYPES = {"text", "callback", "open_link", "location", "vkpay", "open_app"}
LABELLED_TYPES = {"text", "callback"}
COLORS = {"primary", "secondary", "negative", "positive"}
MAX_PAYLOAD_BYTES = 255
MAX_LABEL = 40
MAX_PER_ROW = 5
LIMITS = {True: (6, 10), False: (10, 40)}  # inline? -> (rows, buttons in all)

# The messages VK answers with (error_msg); a fault without one uses these.
ERROR_MESSAGES = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token",
    6: "Too many requests per second",
    8: "Invalid request: v is required",
    9: "Flood control",
    10: "Internal server error",
    15: "Access denied",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
    911: "Keyboard format is invalid",
    914: "Message is too long",
}
HTTP_BODIES = {
    500: "<html><body><h1>500 Internal Server Error</h1></body></html>",
    502: "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
    503: "<html><body><h1>503 Service Unavailable</h1></body></html>",
    504: "<html><body><h1>504 Gateway Time-out</h1></body></html>",
}


class VkError(Exception):
    """A VK error answer to give instead of ``response``."""

    def __init__(self, code: int, detail: str | None = None, *, message: str | None = None
                 ) -> None:
        base = message or ERROR_MESSAGES.get(code, "Error")
        super().__init__(f"{base}: {detail}" if detail else base)
        self.code = code
        self.message = str(self)


async def read_params(request: web.Request) -> dict[str, str]:
    """The query string, then the form body over it (vk-api posts urlencoded forms)."""
    params = dict(request.query)
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        for key, value in form.items():
            params[key] = value if isinstance(value, str) else "<file>"
    return params


def response(result: Any) -> dict[str, Any]:
    return {"response": result}


def error(method: str, code: int, message: str, params: dict[str, str]) -> dict[str, Any]:
    """VK echoes the call back, but never the token."""
    echoed = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    echoed += [{"key": key, "value": value} for key, value in params.items()
               if key != "access_token"]
    return {"error": {"error_code": code, "error_msg": message, "request_params": echoed}}


def int_param(params: dict[str, str], name: str, *, required: bool = True) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise VkError(100, f"{name} is a required parameter")
        return None
    try:
        return int(raw)
    except ValueError:
        raise VkError(100, f"{name} not integer") from None


def keyboard_problem(raw: str) -> tuple[str | None, dict[str, Any] | None]:
    """(why VK refuses this keyboard, or None; the parsed keyboard when it is an object)."""
    try:
        keyboard = json.loads(raw)
    except ValueError:
        return "keyboard is not valid JSON", None
    if not isinstance(keyboard, dict):
        return "keyboard must be an object", None
    rows = keyboard.get("buttons")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return "buttons must be an array of arrays", keyboard
    inline = bool(keyboard.get("inline"))
    max_rows, max_buttons = LIMITS[inline]
    kind = "inline" if inline else "default"
    if len(rows) > max_rows:
        return f"too many rows: {len(rows)} > {max_rows} for a {kind} keyboard", keyboard
    total = sum(len(row) for row in rows)
    if total > max_buttons:
        return f"too many buttons: {total} > {max_buttons} for a {kind} keyboard", keyboard
    for number, row in enumerate(rows, 1):
        if len(row) > MAX_PER_ROW:
            return f"row {number} has {len(row)} buttons, at most {MAX_PER_ROW}", keyboard
        for button in row:
            problem = _button_problem(button)
            if problem:
                return f"row {number}: {problem}", keyboard
    return None, keyboard


def _button_problem(button: Any) -> str | None:
    if not isinstance(button, dict) or not isinstance(button.get("action"), dict):
        return "a button must be an object with an action"
    action = button["action"]
    kind = action.get("type")
    if kind not in BUTTON_TYPES:
        return f"unknown action type {kind!r}"
    color = button.get("color")
    if color is not None and color not in COLORS:
        return f"unknown color {color!r}"
    if kind in LABELLED_TYPES:
        label = action.get("label")
        if not isinstance(label, str) or not 1 <= len(label) <= MAX_LABEL:
            return f"label must be 1..{MAX_LABEL} characters"
    payload = action.get("payload")
    if payload is not None:
        if not isinstance(payload, str):
            return "payload must be a string"
        if len(payload.encode()) > MAX_PAYLOAD_BYTES:
            return f"payload is longer than {MAX_PAYLOAD_BYTES} bytes"
        try:
            json.loads(payload)
        except ValueError:
            return "payload is not valid JSON"
    return None
