"""Property-based fuzzing of every public endpoint, generated from the app's own OpenAPI schema.

schemathesis 3.x turns each operation of ``/openapi.json`` into a Hypothesis strategy of
requests, valid ones (positive) and invalid ones (negative); ``fuzz`` sends ``examples`` of each
to a running app and checks, for every single request:

- no 5xx, and an answer at all (a dropped connection counts as a failure);
- an unauthenticated call to the agent desk (anything but ``/api/desk/login``) gets 401, 403 or
  422 — never data, never a 5xx;
- nothing is stored from a rejected request: the rows of ``messages`` (inbound),
  ``conversations``, ``identities`` and ``webchat_sessions`` are counted before each request
  and again after every non-2xx answer, and must not change;
- a web chat conversation answers only its own browser session: the fuzzer keeps the
  ``session_token`` of every user_id a 200 answer opened, and about a third of the web chat
  requests are aimed at such a user_id, half of them with its token and half without. Only
  requests with the token may get a 200 for a known user_id, and ``updates`` never answers 200
  without one.

And at the end: every stored web chat identity belongs to a user some 200 answer accepted, and
no user has more inbound rows than accepted requests.

Operations without inputs (``/healthz``, ``/api/desk/me``...) would be one request each, so
every request also carries generated noise where a client controls it: unknown query
parameters, and ``Authorization``, ``Cookie``, ``X-Forwarded-For``, ``X-Webchat-Token`` headers
with arbitrary values. That makes each operation's requests distinct and probes the auth and
proxy-header parsing on every route.

It is synchronous (schemathesis sends with ``requests``): run it in a thread from async code.
The row counts use their own event loop and engine in that thread.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import DataGenerationMethod
from schemathesis.types import NotSet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Conversation, Identity, Message, normalise_url
from channels.web.api import TOKEN_HEADER
from channels.web.tables import WebChatSession
from tests.support.kill9 import app_environment
from tests.support.processes import AppProcess
from tests.support.servers import free_port

DESK = "/api/desk/"
LOGIN = "/api/desk/login"
WEBCHAT_POST = ("POST", "/api/webchat/messages")
WEBCHAT_UPDATES = ("GET", "/api/webchat/updates")
# Streams (``.../events``, 30 s each) and session enders are not fuzzed with a valid session
# (they would hang or log out).
NOT_WITH_SESSION = {"/api/desk/logout", LOGIN}
UNAUTHENTICATED_DESK = {401, 403, 422}
# the long-poll wait of /api/webchat/updates is capped so 1,000 requests take seconds, not hours
MAX_WAIT = 0.05
_SHOWN = 300  # characters of a request or response kept in a finding


@dataclass(frozen=True)
class Finding:
    operation: str
    status: int | None
    request: str
    response: str

    def __str__(self) -> str:
        return f"{self.operation} -> {self.status}: {self.request} => {self.response}"


@dataclass
class FuzzReport:
    calls: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    server_errors: list[Finding] = field(default_factory=list)
    no_answer: list[Finding] = field(default_factory=list)
    desk_leaks: list[Finding] = field(default_factory=list)
    session_leaks: list[Finding] = field(default_factory=list)  # 200 without the session token
    stored_from_rejected: list[Finding] = field(default_factory=list)
    storage_problems: list[str] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)  # user_id -> 200 answers to POST
    # web chat requests aimed at a known session, with its token and without: op -> status
    with_token: dict[str, Counter[int]] = field(default_factory=dict)
    without_token: dict[str, Counter[int]] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        found = [*self.server_errors, *self.no_answer, *self.desk_leaks, *self.session_leaks,
                 *self.stored_from_rejected]
        return [str(f) for f in found] + self.storage_problems

    def merge(self, other: FuzzReport) -> None:
        self.calls.update(other.calls)
        for op, counter in other.statuses.items():
            self.statuses.setdefault(op, Counter()).update(counter)
        self.server_errors += other.server_errors
        self.no_answer += other.no_answer
        self.desk_leaks += other.desk_leaks
        self.session_leaks += other.session_leaks
        for mine, theirs in ((self.with_token, other.with_token),
                             (self.without_token, other.without_token)):
            for op, counter in theirs.items():
                mine.setdefault(op, Counter()).update(counter)
        self.stored_from_rejected += other.stored_from_rejected
        self.storage_problems += other.storage_problems
        self.accepted.update(other.accepted)


class RowCounter:
    """Counts the rows a request could create, from a worker thread with its own loop."""

    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._engine = create_async_engine(normalise_url(database_url))

    def counts(self) -> tuple[int, int, int, int]:
        return self._loop.run_until_complete(self._counts())

    async def _counts(self) -> tuple[int, int, int, int]:
        query = select(
            select(func.count()).select_from(Message)
            .where(Message.direction == "in").scalar_subquery(),
            select(func.count()).select_from(Conversation).scalar_subquery(),
            select(func.count()).select_from(Identity).scalar_subquery(),
            select(func.count()).select_from(WebChatSession).scalar_subquery(),
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def stored_users(self) -> Counter[str]:
        """Inbound web chat rows per user id."""
        return self._loop.run_until_complete(self._stored_users())

    async def _stored_users(self) -> Counter[str]:
        query = (
            select(Identity.channel_user_id, func.count(Message.id))
            .select_from(Identity)
            .outerjoin(Conversation, Conversation.identity_id == Identity.id)
            .outerjoin(Message, (Message.conversation_id == Conversation.id)
                       & (Message.direction == "in"))
            .where(Identity.channel == "webchat")
            .group_by(Identity.channel_user_id)
        )
        async with self._engine.connect() as conn:
            return Counter({user: int(n) for user, n in (await conn.execute(query)).all()})

    def close(self) -> None:
        self._loop.run_until_complete(self._engine.dispose())
        self._loop.close()


async def fuzz_app(
    *, database_url: str, rasa_url: str, rasa_token: str, workdir: Path, examples: int,
    seed: int, progress: bool = False, accepted_before: Counter[str] | None = None,
) -> FuzzReport:
    """Start the real app on ``database_url``, fuzz it anonymously, then the desk operations
    with a supervisor's session; stop it. The two reports are merged. ``accepted_before``: the
    web chat users an earlier run on the same database had answered (their rows are not this
    run's findings)."""
    workdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    env = {**app_environment(database_url, rasa_url, rasa_token),
           "ABONENT_ADMIN_PASSWORD": password,
           # the default long poll of /api/webchat/updates (no ``wait``) would cost 10 s a request
           "WEBCHAT_POLL": "0"}
    app = AppProcess(env, free_port(), workdir / "app-fuzz.log", cwd=workdir)
    try:
        await app.wait_healthy()
        # log in first: the anonymous pass will trip the login throttle for this address
        token = await asyncio.to_thread(log_in, app.url, "admin", password)
        report = await asyncio.to_thread(
            fuzz, app.url, database_url, examples, seed=seed, progress=progress,
            accepted_before=accepted_before,
        )
        logged_in = await asyncio.to_thread(
            fuzz, app.url, database_url, examples, bearer=token, seed=seed, progress=progress
        )
        report.merge(logged_in)
    finally:
        app.stop()
    return report


def log_in(base_url: str, username: str, password: str) -> str:
    response = requests.post(
        f"{base_url}{LOGIN}", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["token"])


def fuzz(
    base_url: str,
    database_url: str,
    examples: int,
    *,
    bearer: str | None = None,
    seed: int = 0,
    progress: bool = False,
    accepted_before: Counter[str] | None = None,
) -> FuzzReport:
    """Send ``examples`` generated requests (about half valid, half not) to every operation.

    With ``bearer`` (a desk session token) only the desk operations are fuzzed, logged in.
    The same ``seed`` generates the same requests (print it to reproduce a finding).
    """
    # FastAPI writes OpenAPI 3.1; schemathesis 3.x generates from it as 3.0 when told to
    schema = schemathesis.from_uri(
        f"{base_url}/openapi.json", base_url=base_url, force_schema_version="30"
    )
    report = FuzzReport()
    rows = RowCounter(database_url)
    http = requests.Session()
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
    sessions = Sessions()
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if bearer and (not operation.path.startswith(DESK)
                           or operation.path in NOT_WITH_SESSION
                           or operation.path.endswith("/events")):
                continue
            _fuzz_operation(operation, report, rows, http, base_url, headers, examples, seed,
                            sessions)
            if progress:
                name = f"{operation.method.upper()} {operation.path}"
                statuses = dict(sorted(report.statuses.get(name, Counter()).items()))
                print(f"  fuzz {name}: {report.calls[name]} requests {statuses}", flush=True)
        if not bearer:  # the logged-in pass fuzzes the desk only, which stores no web chat rows
            _check_storage(report, rows, accepted_before or Counter())
    finally:
        http.close()
        rows.close()
    return report


# Header values a client can send: printable latin-1 (what HTTP allows), sometimes empty.
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     exclude_characters="\x7f"), max_size=80).map(str.strip)
_NOISE_HEADERS = st.fixed_dictionaries({}, optional={
    "Authorization": st.one_of(_HEADER_TEXT, _HEADER_TEXT.map("Bearer {}".format)),
    "Cookie": _HEADER_TEXT,
    "X-Forwarded-For": _HEADER_TEXT,
    "X-Webchat-Token": _HEADER_TEXT,
})
_NOISE_QUERY = st.dictionaries(
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).map("x_{}".format),
    st.text(max_size=40), max_size=3,
)


class Sessions:
    """The web chat sessions the fuzzed app opened: user_id -> the token its first answer
    carried (in the order they were opened)."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def pick(self, index: int) -> tuple[str, str] | None:
        if not self.tokens:
            return None
        user = list(self.tokens)[index % len(self.tokens)]
        return user, self.tokens[user]

    def remember(self, case: Any, response: requests.Response) -> None:
        user = case.body.get("user_id") if isinstance(case.body, dict) else None
        if response.status_code != 200 or not isinstance(user, str):
            return
        try:
            token = response.json().get("session_token")
        except ValueError:
            return
        if isinstance(token, str):
            self.tokens[user] = token


# For a web chat operation: None leaves the generated request alone; (i, True) aims it at the
# i-th known session with its token, (i, False) at that session without it.
_AIM = st.one_of(st.none(), st.none(), st.tuples(st.integers(0, 10_000), st.booleans()))


def _webchat_user(case: Any) -> object:
    """The user_id a web chat request names (body or query), if any."""
    if isinstance(case.body, dict):
        return case.body.get("user_id")
    if isinstance(case.query, dict):
        return case.query.get("user_id")
    return None


def _aim(case: Any, sessions: Sessions, aim: tuple[int, bool] | None) -> tuple[bool, bool]:
    """Point ``case`` at a known session, with its token when the aim says so (and no cookie
    either way): whether it was aimed, and whether it carries a valid token."""
    picked = sessions.pick(aim[0]) if aim is not None else None
    if aim is None or picked is None:
        return False, False
    user, token = picked
    if isinstance(case.body, dict):
        case.body = {**case.body, "user_id": user}
    elif isinstance(case.query, dict) and "user_id" in case.query:
        case.query = {**case.query, "user_id": user}
    headers = {k: v for k, v in (case.headers or {}).items()
               if k.lower() not in ("cookie", TOKEN_HEADER.lower())}
    if aim[1]:
        headers[TOKEN_HEADER] = token
    case.headers = headers
    return True, aim[1]


def _has_inputs(operation: Any) -> bool:
    parts = (operation.path_parameters, operation.headers, operation.cookies, operation.query)
    return any(len(part) for part in parts) or bool(len(operation.body))


def _strategy(operation: Any, *, authenticated: bool) -> st.SearchStrategy[Any]:
    cases = operation.as_strategy(data_generation_method=DataGenerationMethod.positive)
    if _has_inputs(operation):  # schemathesis cannot make an invalid request without inputs
        cases = st.one_of(
            cases, operation.as_strategy(data_generation_method=DataGenerationMethod.negative)
        )
    noise_headers = st.just({}) if authenticated else _NOISE_HEADERS
    # The schema cannot say "text or payload", so most generated web chat bodies have neither
    # and are refused: give about half of them a text, so the accepting path is fuzzed too.
    texts = st.none()
    if (operation.method.upper(), operation.path) == WEBCHAT_POST:
        texts = st.one_of(st.none(), st.text(min_size=1, max_size=300).filter(_printable))
    return st.tuples(cases, noise_headers, _NOISE_QUERY, texts).map(_with_noise)


def _printable(value: object) -> bool:
    return isinstance(value, str) and any(ch.isprintable() and not ch.isspace() for ch in value)


def _with_noise(drawn: tuple[Any, dict[str, str], dict[str, str], str | None]) -> Any:
    case, headers, query, text_ = drawn
    body = case.body
    if text_ is not None and isinstance(body, dict) and not _printable(body.get("payload")):
        case.body = {**body, "text": text_}
    if headers:
        case.headers = {**(case.headers or {}), **headers}
    if query:
        case.query = {**query, **(case.query or {})}
    return case


def _fuzz_operation(
    operation: Any, report: FuzzReport, rows: RowCounter, http: requests.Session,
    base_url: str, headers: dict[str, str] | None, examples: int, seed: int, sessions: Sessions,
) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    statuses = report.statuses.setdefault(name, Counter())
    authenticated = headers is not None
    webchat = (operation.method.upper(), operation.path) in (WEBCHAT_POST, WEBCHAT_UPDATES)

    @settings(
        max_examples=examples, deadline=None, database=None,
        phases=[Phase.generate], suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=_strategy(operation, authenticated=authenticated),
           aim=_AIM if webchat else st.none())
    def send(case: Any, aim: tuple[int, bool] | None) -> None:
        _cap_wait(case)
        aimed, with_token = _aim(case, sessions, aim)
        target = _webchat_user(case)
        known = aimed or (isinstance(target, str) and target in sessions.tokens)
        # the fuzzer says which session a request presents; a kept cookie must not add one
        http.cookies.clear()
        before = rows.counts()
        report.calls[name] += 1
        try:
            response = _call(case, http, base_url, headers)
        except requests.RequestException as exc:
            report.no_answer.append(Finding(name, None, _describe(case), type(exc).__name__))
            return
        status = response.status_code
        statuses[status] += 1
        finding = Finding(name, status, _describe(case), response.text[:_SHOWN])
        if status >= 500:
            report.server_errors.append(finding)
        if (not authenticated and operation.path.startswith(DESK) and operation.path != LOGIN
                and status not in UNAUTHENTICATED_DESK):
            report.desk_leaks.append(finding)
        if webchat:
            if aimed:
                shot = report.with_token if with_token else report.without_token
                shot.setdefault(name, Counter())[status] += 1
            updates = (case.method.upper(), operation.path) == WEBCHAT_UPDATES
            if status == 200 and not with_token and (known or updates):
                report.session_leaks.append(finding)
            sessions.remember(case, response)
        if not 200 <= status < 300:
            after = rows.counts()
            if after != before:
                report.stored_from_rejected.append(Finding(
                    name, status, _describe(case),
                    f"rows (inbound, conversations, identities, web chat sessions) "
                    f"{before} -> {after}",
                ))
        elif (case.method.upper(), operation.path) == WEBCHAT_POST and isinstance(case.body, dict):
            report.accepted[str(case.body.get("user_id"))] += 1

    hypothesis.seed(seed)(send)()


def _call(
    case: Any, http: requests.Session, base_url: str, headers: dict[str, str] | None
) -> requests.Response:
    try:
        return case.call(base_url=base_url, session=http, headers=headers, timeout=30)
    except requests.ConnectionError:
        # uvicorn closes a keep-alive connection after a 500; the pool may hand it out once
        # more. A second failure, on a fresh connection, is a real one.
        return case.call(base_url=base_url, session=http, headers=headers, timeout=30)


def _cap_wait(case: Any) -> None:
    query = case.query
    if isinstance(query, dict) and "wait" in query:
        wait = query["wait"]
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0 <= wait <= 60:
            query["wait"] = min(wait, MAX_WAIT)


def _describe(case: Any) -> str:
    parts = [f"{case.method.upper()} {case.formatted_path}"]
    if case.query:
        parts.append(f"query={case.query!r}")
    if case.headers:
        parts.append(f"headers={case.headers!r}")
    if case.body is not None and not isinstance(case.body, NotSet):
        try:
            parts.append(f"body={json.dumps(case.body, ensure_ascii=False)}")
        except (TypeError, ValueError):
            parts.append(f"body={case.body!r}")
    return " ".join(parts)[:_SHOWN]


def _check_storage(report: FuzzReport, rows: RowCounter, before: Counter[str]) -> None:
    for user, stored in rows.stored_users().items():
        accepted = report.accepted.get(user, 0) + before.get(user, 0)
        if not accepted:
            report.storage_problems.append(f"web chat user {user!r} stored, never accepted")
        elif stored > accepted:
            report.storage_problems.append(
                f"web chat user {user!r}: {stored} inbound rows stored, {accepted} accepted"
            )
