"""A fake VK API server for a community bot: real HTTP on 127.0.0.1, VK's shapes, and knobs.

Methods answer ``{url}/method/{name}`` (POST form, as vk-api sends, or GET query string) with
``{"response": ...}`` or ``{"error": {"error_code", "error_msg", "request_params"}}``, both with
HTTP 200 as VK does. Every call needs ``access_token`` (error 5) and ``v`` (error 8); an unknown
method is error 3. Served: ``groups.getById``, ``groups.getLongPollServer``,
``groups.getLongPollSettings``, ``groups.getCallbackServers``, ``users.get``, ``messages.send``
(random_id, empty text, 4096 characters, keyboard rules, blocked peers, deduplication by
``(peer_id, random_id)`` as VK does) and ``messages.sendMessageEventAnswer``.

The Bots Long Poll server is ``{url}/lp?act=a_check&key=K&ts=T&wait=W``: events are numbered
from 1 as they are enqueued; a poll with ``ts=T`` gets the events numbered ``>= T`` (at most
100) and the ``ts`` to ask for next, or waits up to ``wait`` seconds for one. ``{"failed": 1}``
for a ts it no longer keeps (``forget_before``), ``{"failed": 2}`` for a key it did not issue or
expired (``expire_key``), and any of the three once with ``fail_next_poll``.

Knobs, safe to turn while it runs: ``enqueue``, ``fail_next``, ``fail_next_poll``, ``slow``,
``block``, ``set_user``, ``expire_key``, ``forget_before``, and the attributes ``group_name``,
``screen_name``, ``echo_replies``, ``callback_url``, ``callback_secret``, ``callback_status``,
``long_poll_settings``. Observations: ``calls``, ``sent``, ``all_sent``, ``polls``,
``held_polls``, ``current_ts``, ``events``, and ``wait_for`` to poll with a deadline.

It runs aiohttp in a daemon thread with its own event loop, like the fake Bot API::

    with FakeVkApi() as vk:
        vk.enqueue(ivan.text("какой у меня баланс"))
        ...  # VkClient(token=vk.token, api_version="5.199", api_base=vk.url)
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self

from aiohttp import web

from tests.channels.vk.vk_wire import (
    API_VERSION,
    DEFAULT_GROUP_ID,
    DEFAULT_TOKEN,
    HTTP_BODIES,
    INT32,
    MAX_MESSAGE_LENGTH,
    VkError,
    error,
    int_param,
    keyboard_problem,
    read_params,
    response,
)
from tests.support.server_thread import ServerThread

__all__ = ["ApiCall", "FakeVkApi", "Poll", "SentMessage"]

LONG_POLL = "lp"  # the name ``slow`` and ``fail_next`` know the long-poll endpoint by
MAX_EVENTS = 100
MAX_WAIT = 90.0
DEFAULT_WAIT = 25.0
FIRST_MESSAGE_ID = 50_000_001  # far from the ids tests/channels/vk/events.py gives users' messages
MESSAGE_VERSION = 10_000_001


def default_long_poll_settings() -> dict[str, Any]:
    events = {"message_new": 1, "message_reply": 1, "message_edit": 1, "message_event": 1,
              "message_allow": 1, "message_deny": 1, "message_typing_state": 0,
              "photo_new": 0, "wall_post_new": 0, "group_join": 0, "group_leave": 0}
    return {"is_enabled": True, "api_version": API_VERSION, "events": events}


@dataclass(frozen=True)
class ApiCall:
    method: str  # as it was called: "messages.send"
    params: dict[str, str]  # as they arrived (strings), without access_token
    at: float  # time.monotonic() on arrival
    error: int | None  # the VK error code answered, if any
    http_status: int = 200


@dataclass(frozen=True)
class SentMessage:
    peer_id: int
    text: str
    random_id: int
    keyboard: dict[str, Any] | None
    message_id: int
    at: float  # time.monotonic() when it was delivered


class Poll(NamedTuple):
    ts: int | None  # the ts asked for (None: missing or not a number)
    key: str
    failed: int | None  # the "failed" code answered, None for events (or none)


@dataclass
class _Fault:
    method: str
    remaining: int
    error_code: int | None
    error_msg: str | None
    http_status: int | None
    body: str | None


@dataclass(eq=False)
class FakeVkApi:
    token: str = DEFAULT_TOKEN
    group_id: int = DEFAULT_GROUP_ID
    group_name: str = "Абонент — поддержка"
    screen_name: str = "abonent_support"
    echo_replies: bool = True  # every delivered send also appears as a message_reply event
    callback_url: str = "https://bot.example.test/vk/callback"  # "" : no Callback API server
    callback_secret: str = "fake-callback-secret"
    callback_status: str = "ok"
    long_poll_settings: dict[str, Any] = field(default_factory=default_long_poll_settings)
    url: str = ""
    _initial: dict[str, Any] = field(default_factory=dict, repr=False)
    _events: list[tuple[int, dict[str, Any]]] = field(default_factory=list, repr=False)
    _next_ts: int = 1
    _oldest_ts: int = 1
    _keys: set[str] = field(default_factory=set, repr=False)
    _poll_faults: list[int] = field(default_factory=list, repr=False)
    _polls: list[Poll] = field(default_factory=list, repr=False)
    _held: int = 0
    _calls: list[ApiCall] = field(default_factory=list, repr=False)
    _sent: list[SentMessage] = field(default_factory=list, repr=False)
    _delivered: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)
    _next_message_id: int = FIRST_MESSAGE_ID
    _conversation_ids: dict[int, int] = field(default_factory=dict, repr=False)
    _users: dict[int, tuple[str, str]] = field(default_factory=dict, repr=False)
    _faults: list[_Fault] = field(default_factory=list, repr=False)
    _blocked: set[int] = field(default_factory=set, repr=False)
    _delays: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ServerThread | None = field(default=None, repr=False)
    _wakeup: asyncio.Event | None = field(default=None, repr=False)
    _tasks: set[asyncio.Future[web.Response]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.group_id = int(self.group_id)
        self._initial = copy.deepcopy({name: getattr(self, name) for name in _SETTINGS})

    # -- knobs ---------------------------------------------------------------------------------

    def enqueue(self, event: dict[str, Any]) -> int:
        """Add an event to the long-poll log; returns its number (the ts that fetches it)."""
        with self._lock:
            number = self._append_event(dict(event))
        self._wake()
        return number

    def forget_before(self, ts: int) -> None:
        """Drop the events numbered below ``ts``: a poll asking for them gets ``failed: 1``."""
        with self._lock:
            self._oldest_ts = min(max(self._oldest_ts, ts), self._next_ts)
            self._events = [(n, e) for n, e in self._events if n >= self._oldest_ts]
        self._wake()

    def expire_key(self) -> None:
        """Every key issued so far stops working (``failed: 2``) until a new one is fetched."""
        with self._lock:
            self._keys.clear()
        self._wake()

    def fail_next_poll(self, failed: int) -> None:
        """Answer the next poll (or the one waiting now) with ``{"failed": failed}`` once."""
        if failed not in (1, 2, 3):
            raise ValueError("VK's long poll fails with 1, 2 or 3")
        with self._lock:
            self._poll_faults.append(failed)
        self._wake()

    def fail_next(
        self,
        method: str,
        *,
        error_code: int | None = None,
        error_msg: str | None = None,
        http_status: int | None = None,
        body: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"lp"``: the long-poll endpoint) with
        VK error ``error_code`` (HTTP 200, ``error_msg`` or VK's usual text), with HTTP
        ``http_status`` and a proxy's HTML page, or with the raw ``body`` (HTTP ``http_status``
        or 200)."""
        if error_code is None and http_status is None and body is None:
            raise ValueError("give error_code, http_status or body")
        if method == LONG_POLL and error_code is not None:
            raise ValueError("the long-poll server fails with HTTP or fail_next_poll()")
        with self._lock:
            self._faults.append(_Fault(method.lower(), times, error_code, error_msg,
                                       http_status, body))

    def slow(self, method: str, seconds: float) -> None:
        """Wait ``seconds`` before answering ``method`` (``"lp"``: the long poll; 0 to stop)."""
        with self._lock:
            self._delays[method.lower()] = seconds

    def block(self, peer_id: int) -> None:
        """The user forbade the community's messages: later sends to them are error 901."""
        with self._lock:
            self._blocked.add(peer_id)

    def set_user(self, user_id: int, first_name: str, last_name: str) -> None:
        """The name ``users.get`` gives (others are "User" "<id>")."""
        with self._lock:
            self._users[user_id] = (first_name, last_name)

    def reset(self) -> None:
        """A fresh, well-behaved community on the same server: no events (ts back to 1), keys,
        faults, delays, blocks, users, deduplication memory or observations; the attributes
        back to the constructor's values. A poll waiting now is answered ``failed: 2``."""
        with self._lock:
            for name, value in copy.deepcopy(self._initial).items():
                setattr(self, name, value)
            self._events.clear()
            self._next_ts = self._oldest_ts = 1
            self._keys.clear()
            self._poll_faults.clear()
            self._polls.clear()
            self._calls.clear()
            self._sent.clear()
            self._delivered.clear()
            self._conversation_ids.clear()
            self._users.clear()
            self._faults.clear()
            self._blocked.clear()
            self._delays.clear()
        self._wake()

    # -- observations --------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method.lower() == method.lower()]

    def sent(self, peer_id: int) -> list[SentMessage]:
        """The messages delivered to ``peer_id``, in order (a deduplicated retry is not one)."""
        with self._lock:
            return [m for m in self._sent if m.peer_id == peer_id]

    def all_sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._sent)

    @property
    def polls(self) -> list[Poll]:
        """Every long poll answered with JSON, in order (HTTP faults are not listed)."""
        with self._lock:
            return list(self._polls)

    @property
    def held_polls(self) -> int:
        """Long polls waiting for an event right now."""
        with self._lock:
            return self._held

    @property
    def current_ts(self) -> int:
        """The number the next event gets: what ``groups.getLongPollServer`` answers as ts."""
        with self._lock:
            return self._next_ts

    def events(self) -> list[dict[str, Any]]:
        """The long-poll log as kept (``forget_before`` drops the start)."""
        with self._lock:
            return [event for _, event in self._events]

    async def wait_for(
        self, condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
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
                raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                     f"(last: {result!r}; {self._summary()})")
            await asyncio.sleep(0.02)

    async def wait_sent(self, peer_id: int, count: int = 1, *, timeout: float = 10.0
                        ) -> list[SentMessage]:
        await self.wait_for(lambda: len(self.sent(peer_id)) >= count, timeout=timeout,
                            what=f"{count} message(s) to peer {peer_id}")
        return self.sent(peer_id)

    def _summary(self) -> str:
        with self._lock:
            methods = [c.method for c in self._calls[-5:]]
            return (f"{len(self._calls)} calls, last {methods}; {len(self._sent)} sent; "
                    f"{len(self._polls)} polls, {self._held} waiting; next ts {self._next_ts}")

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = ServerThread(self._routes, name="fake-vk-api", shutdown_timeout=1.0,
                                    on_stop=self._wake_in_loop,
                                    before_cleanup=self._cancel_tasks)
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
        app.router.add_route("*", "/method/{method}", self._handle)
        app.router.add_route("*", "/lp", self._long_poll)

    async def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _wake(self) -> None:
        if self._server is not None:
            self._server.call_soon(self._wake_in_loop)

    def _wake_in_loop(self) -> None:
        if self._wakeup is not None:
            event, self._wakeup = self._wakeup, asyncio.Event()
            event.set()

    # -- methods -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await read_params(request)
        # A caller that gives up (a read timeout) does not undo a call VK already took.
        task = asyncio.ensure_future(self._answer(method, params, arrived))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def _answer(self, method: str, params: dict[str, str], arrived: float
                      ) -> web.Response:
        shown = {key: value for key, value in params.items() if key != "access_token"}
        delay = self._delay(method)
        if delay:
            await asyncio.sleep(delay)
        try:
            if not params.get("access_token"):
                raise VkError(5, message="User authorization failed: no access_token passed.")
            if params["access_token"] != self.token:
                raise VkError(5)
            if not params.get("v"):
                raise VkError(8)
            fault = self._take_fault(method)
            if fault is not None and fault.error_code is None:
                status = fault.http_status or 200
                self._record(ApiCall(method, shown, arrived, None, status))
                text = fault.body if fault.body is not None else HTTP_BODIES.get(
                    status, f"<html><body><h1>{status}</h1></body></html>")
                return web.Response(status=status, text=text, content_type="text/html")
            if fault is not None and fault.error_code is not None:
                raise VkError(fault.error_code, message=fault.error_msg)
            handler = _METHODS.get(method.lower())
            if handler is None:
                raise VkError(3)
            result = await handler(self, params)
        except VkError as exc:
            self._record(ApiCall(method, shown, arrived, exc.code))
            return web.json_response(error(method, exc.code, exc.message, params))
        self._record(ApiCall(method, shown, arrived, None))
        return web.json_response(response(result))

    def _record(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _delay(self, method: str) -> float:
        with self._lock:
            return self._delays.get(method.lower(), 0.0)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method == method.lower():
                    fault.remaining -= 1
                    return fault
        return None

    def _check_group(self, params: dict[str, str]) -> None:
        if int_param(params, "group_id") != self.group_id:
            raise VkError(100, "group_id is invalid")

    async def _groups_get_by_id(self, params: dict[str, str]) -> Any:
        wanted = params.get("group_ids") or params.get("group_id") or str(self.group_id)
        groups = []
        for item in filter(None, (part.strip() for part in wanted.split(","))):
            if item in (str(self.group_id), self.screen_name, f"club{self.group_id}"):
                groups.append(self._group(self.group_id, self.group_name, self.screen_name))
            elif item.lstrip("-").isdigit():
                other = abs(int(item))
                groups.append(self._group(other, f"Сообщество {other}", f"club{other}"))
            else:
                raise VkError(100, "group_ids is invalid")
        return {"groups": groups, "profiles": []}

    @staticmethod
    def _group(group_id: int, name: str, screen_name: str) -> dict[str, Any]:
        return {"id": group_id, "name": name, "screen_name": screen_name, "is_closed": 0,
                "type": "group"}

    async def _groups_get_long_poll_server(self, params: dict[str, str]) -> Any:
        self._check_group(params)
        key = secrets.token_hex(20)
        with self._lock:
            self._keys.add(key)
            ts = self._next_ts
        return {"key": key, "server": f"{self.url}/{LONG_POLL}", "ts": str(ts)}

    async def _groups_get_long_poll_settings(self, params: dict[str, str]) -> Any:
        self._check_group(params)
        with self._lock:
            return copy.deepcopy(self.long_poll_settings)

    async def _groups_get_callback_servers(self, params: dict[str, str]) -> Any:
        self._check_group(params)
        with self._lock:
            if not self.callback_url:
                return {"count": 0, "items": []}
            return {"count": 1, "items": [{
                "id": 1, "title": "abonent", "url": self.callback_url,
                "secret_key": self.callback_secret, "status": self.callback_status,
            }]}

    async def _users_get(self, params: dict[str, str]) -> Any:
        users = []
        for item in filter(None, (part.strip() for part in params.get("user_ids", "").split(","))):
            if not item.isdigit():
                raise VkError(113)
            user_id = int(item)
            with self._lock:
                first, last = self._users.get(user_id, ("User", str(user_id)))
            users.append({"id": user_id, "first_name": first, "last_name": last,
                          "can_access_closed": True, "is_closed": False})
        return users

    async def _messages_send(self, params: dict[str, str]) -> Any:
        peer_id = int_param(params, "peer_id", required=False)
        if peer_id is None:
            peer_id = int_param(params, "user_id", required=False)
        if not peer_id:
            raise VkError(100, "you should specify peer_id, user_id, domain, chat_id or "
                               "user_ids param")
        random_id = int_param(params, "random_id")
        assert random_id is not None
        if not INT32[0] <= random_id <= INT32[1]:
            raise VkError(100, "random_id is out of range")
        text = params.get("message", "")
        if not text.strip():
            raise VkError(100, "message is empty or invalid")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise VkError(914)
        keyboard = None
        if "keyboard" in params:
            problem, keyboard = keyboard_problem(params["keyboard"])
            if problem:
                raise VkError(911, problem)
        with self._lock:
            # random_id 0 asks VK not to deduplicate
            earlier = self._delivered.get((peer_id, random_id)) if random_id else None
            if earlier is not None:
                return earlier
            if peer_id in self._blocked:
                raise VkError(901)
            message_id = self._next_message_id
            self._next_message_id += 1
            if random_id:
                self._delivered[(peer_id, random_id)] = message_id
            self._sent.append(SentMessage(peer_id, text, random_id, keyboard, message_id,
                                          time.monotonic()))
            conversation_id = self._conversation_ids.get(peer_id, 0) + 1
            self._conversation_ids[peer_id] = conversation_id
            if self.echo_replies:
                self._append_event(self._reply_event(
                    peer_id, text, random_id, keyboard, message_id, conversation_id))
        self._wake()
        return message_id

    def _reply_event(self, peer_id: int, text: str, random_id: int,
                     keyboard: dict[str, Any] | None, message_id: int, conversation_id: int
                     ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "date": int(time.time()), "from_id": -self.group_id, "id": message_id, "out": 1,
            "version": MESSAGE_VERSION + message_id, "attachments": [],
            "conversation_message_id": conversation_id, "fwd_messages": [],
            "important": False, "is_hidden": False, "peer_id": peer_id,
            "random_id": random_id, "text": text,
        }
        if keyboard is not None:
            message["keyboard"] = keyboard
        return {"type": "message_reply", "event_id": secrets.token_hex(20), "v": API_VERSION,
                "object": message, "group_id": self.group_id}

    async def _messages_send_message_event_answer(self, params: dict[str, str]) -> Any:
        for name in ("user_id", "peer_id"):
            int_param(params, name)
        if not params.get("event_id"):
            raise VkError(100, "event_id is a required parameter")
        if "event_data" in params:
            try:
                data = json.loads(params["event_data"])
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise VkError(100, "event_data is invalid")
        return 1

    # -- the Bots Long Poll server -------------------------------------------------------------

    async def _long_poll(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        delay = self._delay(LONG_POLL)
        if delay:
            await asyncio.sleep(delay)
        fault = self._take_fault(LONG_POLL)
        if fault is not None:
            status = fault.http_status or 200
            text = fault.body if fault.body is not None else HTTP_BODIES.get(status, str(status))
            return web.Response(status=status, text=text, content_type="text/html")
        if params.get("act") != "a_check":
            return web.Response(status=400, text="act must be a_check")
        key = params.get("key", "")
        ts = _int_or_none(params.get("ts"))
        wait = min(max(_float_or(params.get("wait"), DEFAULT_WAIT), 0.0), MAX_WAIT)
        deadline = time.monotonic() + wait
        assert self._server is not None
        stopping = self._server.stopping
        assert stopping is not None
        while True:
            wakeup = self._wakeup
            assert wakeup is not None
            answer = self._poll_answer(key, ts)
            left = deadline - time.monotonic()
            if answer is None and (left <= 0 or stopping.is_set()):
                answer = {"ts": str(ts), "updates": []}
            if answer is not None:
                failed = answer.get("failed")
                with self._lock:
                    self._polls.append(Poll(ts, key, failed))
                return web.json_response(answer)
            with self._lock:
                self._held += 1
            try:
                await asyncio.wait_for(wakeup.wait(), left)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    self._held -= 1

    def _poll_answer(self, key: str, ts: int | None) -> dict[str, Any] | None:
        """The answer to give now, or None to keep waiting for an event."""
        with self._lock:
            if self._poll_faults:
                failed = self._poll_faults.pop(0)
                return {"failed": 1, "ts": str(self._next_ts)} if failed == 1 else {
                    "failed": failed}
            if key not in self._keys:
                return {"failed": 2}
            if ts is None or ts > self._next_ts:
                return {"failed": 1, "ts": str(self._next_ts)}
            if ts < self._oldest_ts:
                return {"failed": 1, "ts": str(self._oldest_ts)}
            batch = [(n, e) for n, e in self._events if n >= ts][:MAX_EVENTS]
            if not batch:
                return None
            return {"ts": str(batch[-1][0] + 1), "updates": [e for _, e in batch]}

    def _append_event(self, event: dict[str, Any]) -> int:
        """Under the lock."""
        number = self._next_ts
        self._next_ts += 1
        self._events.append((number, event))
        return number


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float_or(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


_SETTINGS = ("group_name", "screen_name", "echo_replies", "callback_url", "callback_secret",
             "callback_status", "long_poll_settings")

Handler = Callable[[FakeVkApi, dict[str, str]], Any]
_METHODS: dict[str, Handler] = {
    "groups.getbyid": FakeVkApi._groups_get_by_id,
    "groups.getlongpollserver": FakeVkApi._groups_get_long_poll_server,
    "groups.getlongpollsettings": FakeVkApi._groups_get_long_poll_settings,
    "groups.getcallbackservers": FakeVkApi._groups_get_callback_servers,
    "users.get": FakeVkApi._users_get,
    "messages.send": FakeVkApi._messages_send,
    "messages.sendmessageeventanswer": FakeVkApi._messages_send_message_event_answer,
}
