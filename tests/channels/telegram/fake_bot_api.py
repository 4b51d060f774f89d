"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, the real API's shapes, and knobs.

It answers ``{base}/bot{token}/{method}`` (method names are case-insensitive, as Telegram's
are) with ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters"}``. Bodies may be ``multipart/form-data`` (what aiogram sends), urlencoded or
JSON; in forms, nested values such as ``reply_markup`` arrive as JSON strings.

Methods: ``getMe``, ``getUpdates`` (offset confirms earlier updates, ``timeout`` long-polls,
``limit``; 409 while a webhook is set), ``sendMessage`` (checks the HTML parse mode, the
4096-character limit and ``callback_data`` <= 64 bytes, as Telegram does), ``answerCallbackQuery``,
``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``.

Knobs, safe to turn while it runs: ``enqueue(update)``, ``fail_next(method, status, after=...,
retry_after=..., times=..., description=..., body=...)`` (429 flood control, 500, 403 "bot was
blocked by the user", a non-JSON 502...), ``block(chat_id)`` (every later send to that chat is
403), ``slow(method, seconds)``. Observations: ``calls(method)``, ``sent(chat_id)``,
``confirmed_offset``, ``served_at(update_id)``, ``webhook``, and ``wait_for(condition)`` to
poll with a deadline.

It runs aiohttp in a daemon thread with its own event loop, so a test's loop never waits on it
and a plain script can use it too::

    with FakeBotApi() as api:
        api.enqueue(user.text("какой у меня баланс"))
        ...  # Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.url)))
"""

from __future__ import annotations

import asyncio
import html
import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.channels.telegram.bot_api_wire import (
    DEFAULT_DESCRIPTIONS,
    TAG,
    error,
    html_problem,
    ok,
    read_params,
)
from tests.support.server_thread import ServerThread

__all__ = ["ApiCall", "FakeBotApi", "SentMessage"]

TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmnop"

@dataclass(frozen=True)
class ApiCall:
    method: str  # as Telegram names it: "sendMessage"
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int


@dataclass(frozen=True)
class SentMessage:
    chat_id: int
    text: str  # what the user sees: entities decoded, tags removed
    raw: str  # what the bot sent
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    message_id: int
    at: float


@dataclass
class _Fault:
    method: str
    status: int
    remaining: int
    description: str
    retry_after: int | None
    body: str | None
    after: int = 0  # calls to let through first


@dataclass(eq=False)
class FakeBotApi:
    token: str = TOKEN
    bot_id: int = 123456789
    username: str = "abonent_test_bot"
    url: str = ""
    webhook: dict[str, Any] | None = None
    confirmed_offset: int = 0
    _updates: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _next_update_id: int = 1000
    _next_message_id: int = 1
    _calls: list[ApiCall] = field(default_factory=list, repr=False)
    _sent: list[SentMessage] = field(default_factory=list, repr=False)
    _served: dict[int, float] = field(default_factory=dict, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _blocked: set[int] = field(default_factory=set, repr=False)
    _delays: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ServerThread | None = field(default=None, repr=False)
    _wakeup: asyncio.Event | None = field(default=None, repr=False)

    # -- knobs ---------------------------------------------------------------------------------

    def enqueue(self, update: dict[str, Any]) -> int:
        """Deliver an update (``update_id`` assigned when missing); returns its update_id.

        It is handed out by every ``getUpdates`` until one comes with an offset past it.
        """
        with self._lock:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
                self._next_update_id += 1
            else:
                self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
            self._updates.append(update)
            self._updates.sort(key=lambda u: u["update_id"])
        self._wake()
        return int(update["update_id"])

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        body: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer ``times`` calls of ``method`` with an error, after letting ``after`` calls
        through (``body``: a raw, non-JSON answer such as a proxy's HTML page)."""
        text = description or DEFAULT_DESCRIPTIONS.get(status, "Error")
        with self._lock:
            self._faults.append(_Fault(method.lower(), status, times,
                                       text.format(retry_after=retry_after), retry_after, body,
                                       after))

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every later message to them answers 403."""
        with self._lock:
            self._blocked.add(chat_id)

    def slow(self, method: str, seconds: float) -> None:
        """Wait ``seconds`` before answering ``method`` (0 to stop)."""
        with self._lock:
            self._delays[method.lower()] = seconds

    def reset(self) -> None:
        """A well-behaved server again: no updates, faults, blocks, delays, webhook or log."""
        with self._lock:
            self._updates.clear()
            self._calls.clear()
            self._sent.clear()
            self._served.clear()
            self._faults.clear()
            self._blocked.clear()
            self._delays.clear()
            self.webhook = None
            self.confirmed_offset = 0

    # -- observations --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method.lower() == method.lower()]

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        with self._lock:
            return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    def served_at(self, update_id: int) -> float | None:
        """When (``time.monotonic()``) ``getUpdates`` first handed this update out, if it did."""
        with self._lock:
            return self._served.get(update_id)

    def pending_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    async def wait_for(
        self, condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition"
    ) -> Any:
        """Poll ``condition`` (a function, or an async one) until it returns something truthy,
        which is returned; fail when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_sent(self, chat_id: int, count: int = 1, *, timeout: float = 20.0
                        ) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.sent(chat_id)) >= count, timeout=timeout,
                            what=f"{count} message(s) to chat {chat_id}")
        return self.sent(chat_id)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ServerThread(self._routes, name="fake-bot-api")
        self.url = self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _routes(self, app: web.Application) -> None:
        self._wakeup = asyncio.Event()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    def _wake(self) -> None:
        if self._server is not None:
            self._server.call_soon(self._wake_in_loop)

    def _wake_in_loop(self) -> None:
        if self._wakeup is not None:
            event, self._wakeup = self._wakeup, asyncio.Event()
            event.set()

    # -- the API -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await read_params(request)
        if request.match_info["token"] != self.token:
            return self._record(method, params, arrived, 401, error(401, "Unauthorized"))
        fault = self._take_fault(method)
        delay = self._delays.get(method.lower(), 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None:
            if fault.body is not None:
                with self._lock:
                    self._calls.append(ApiCall(method, params, arrived, fault.status))
                return web.Response(status=fault.status, text=fault.body, content_type="text/html")
            extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
            return self._record(method, params, arrived, fault.status,
                                error(fault.status, fault.description, extra))
        handler = _METHODS.get(method.lower())
        if handler is None:
            return self._record(method, params, arrived, 404, error(404, "Not Found"))
        status, payload = await handler(self, params)
        return self._record(method, params, arrived, status, payload)

    def _record(self, method: str, params: dict[str, Any], at: float, status: int,
                payload: dict[str, Any]) -> web.Response:
        with self._lock:
            self._calls.append(ApiCall(method, params, at, status))
        return web.json_response(payload, status=status)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method == method.lower():
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.remaining -= 1
                    return fault
        return None

    async def _get_me(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, ok(self._bot_user())

    async def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.webhook is not None:
            return 409, error(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active; use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        assert self._wakeup is not None and self._server is not None
        stopping = self._server.stopping
        assert stopping is not None
        deadline = time.monotonic() + timeout
        while True:
            wakeup = self._wakeup
            with self._lock:
                if offset > 0:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                    self.confirmed_offset = max(self.confirmed_offset, offset)
                batch = self._updates[:limit]
                if batch:
                    now = time.monotonic()
                    for served in batch:
                        self._served.setdefault(served["update_id"], now)
            left = deadline - time.monotonic()
            if batch or left <= 0 or stopping.is_set():
                return 200, ok(batch)
            try:
                await asyncio.wait_for(wakeup.wait(), left)
            except TimeoutError:
                pass

    async def _send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            return 400, error(400, "Bad Request: chat_id is empty")
        raw = str(params.get("text") or "")
        parse_mode = params.get("parse_mode")
        visible = raw
        if parse_mode == "HTML":
            problem = html_problem(raw)
            if problem:
                return 400, error(400, f"Bad Request: can't parse entities: {problem}")
            visible = html.unescape(TAG.sub("", raw))
        if not visible.strip():
            return 400, error(400, "Bad Request: message text is empty")
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return 400, error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            for row in markup.get("inline_keyboard") or ():
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        return 400, error(400, "Bad Request: BUTTON_DATA_INVALID")
        with self._lock:
            if chat_id in self._blocked:
                return 403, error(403, "Forbidden: bot was blocked by the user")
            message_id = self._next_message_id
            self._next_message_id += 1
            self._sent.append(SentMessage(chat_id, visible, raw, parse_mode,
                                          markup if isinstance(markup, dict) else None,
                                          message_id, time.monotonic()))
        return 200, ok({
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._bot_user(),
            "text": visible,
        })

    async def _answer_callback_query(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not params.get("callback_query_id"):
            return 400, error(400, "Bad Request: query_id is empty")
        return 200, ok(True)

    async def _set_webhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = str(params.get("url") or "")
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook = dict(params) if url else None
        return 200, ok(True, "Webhook was set" if url else "Webhook was deleted")

    async def _delete_webhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook = None
        return 200, ok(True, "Webhook was deleted")

    async def _get_webhook_info(self, _params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            hook, pending = self.webhook, len(self._updates)
        return 200, ok({
            "url": (hook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": pending,
        })

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Abonent",
                "username": self.username, "can_join_groups": False,
                "can_read_all_group_messages": False, "supports_inline_queries": False}


Handler = Callable[[FakeBotApi, dict[str, Any]], Any]
_METHODS: dict[str, Handler] = {
    "getme": FakeBotApi._get_me,
    "getupdates": FakeBotApi._get_updates,
    "sendmessage": FakeBotApi._send_message,
    "answercallbackquery": FakeBotApi._answer_callback_query,
    "setwebhook": FakeBotApi._set_webhook,
    "deletewebhook": FakeBotApi._delete_webhook,
    "getwebhookinfo": FakeBotApi._get_webhook_info,
}
