"""The Bot API's wire format, as the fake server needs it: reading a request's parameters
(multipart, urlencoded or JSON; form values are strings, nested ones JSON), the answer
envelopes, and the checks Telegram makes on a message's HTML."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

INT_FIELDS = {"chat_id", "offset", "limit", "timeout", "message_id", "max_connections",
              "cache_time", "user_id"}
BOOL_FIELDS = {"drop_pending_updates", "show_alert", "disable_notification", "protect_content"}
JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "link_preview_options",
               "reply_parameters"}
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
        "code", "pre", "blockquote", "tg-emoji"}
TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^<>]*>")
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        for key, value in form.items():
            params[key] = value if isinstance(value, str) else f"<file {value.filename}>"
    return {key: typed(key, value) for key, value in params.items()}


def typed(key: str, value: Any) -> Any:
    """Form values are strings (aiogram JSON-encodes scalars and nested values)."""
    if not isinstance(value, str):
        return value
    try:
        if key in INT_FIELDS:
            return int(value)
        if key in BOOL_FIELDS:
            return value.lower() == "true"
        if key in JSON_FIELDS:
            return json.loads(value)
    except ValueError:
        return value
    return value


def html_problem(text: str) -> str | None:
    """Telegram refuses a ``<`` that does not start a supported tag."""
    position = 0
    while (at := text.find("<", position)) != -1:
        match = TAG.match(text, at)
        if match is None or match.group(1).lower() not in TAGS:
            name = match.group(1) if match else text[at + 1: at + 8]
            offset = len(text[:at].encode())
            return f'Unsupported start tag "{name}" at byte offset {offset}'
        position = match.end()
    return None


def ok(result: Any, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return body


def error(code: int, description: str, parameters: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body
