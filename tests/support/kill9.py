"""kill -9 under load: web chat subscribers write while the app is SIGKILLed and restarted.

One scenario, used by ``tests/bot/test_kill9.py`` (one iteration per database) and by
``scripts/stress.py`` (many). ``run_kill9`` starts the real app (``python -m bot.cli run``) on a
fresh database, lets ``subscribers`` clients send ``per_subscriber`` messages each with stable
``message_id``s, SIGKILLs the app's process group after a random number of answers (at least
one, never all), restarts it on the same port and database, and the clients retry every
message they have no answer for with the same id (each with its web chat session token,
opened before the load). Then it re-sends a sample of ids that were already answered, and
reads the database. The figures it returns:

- ``lost``: messages never answered, plus replies a client saw that the database does not hold;
- ``doubled``: inbound rows beyond one per message, plus stored replies no client was given;
- ``mismatched``: re-sent ids whose answer differed from the first one.

All three are 0 when delivery is exactly once. ``problems`` lists each deviation in words (no
message text: ids and counts only).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.engine.url import make_url

from bot.storage import Database, Message
from channels.web.api import TOKEN_HEADER
from tests.support.processes import AppProcess
from tests.support.servers import free_port
from tests.support.webchat import open_sessions

# What subscribers of a mobile operator write, in the three languages the bot speaks. Each
# subscriber sends 7 of them, starting at a different place, so turns interleave differently.
SCRIPT = (
    "какой у меня баланс",
    "как узнать свой номер телефона",
    "я в Польше и не работает мобильный интернет",
    "как позвонить в поддержку с городского",
    "спасибо",
    "how much money is left on my account",
    "what is my phone number",
    "роуминг в Турции",
    "support phone number",
    "thanks a lot",
    "які ў мяне грошы на рахунку",
    "дзякуй",
)

# Channels that could start from the developer's environment and reach the outside world.
_CHANNEL_PREFIXES = ("TELEGRAM_", "VK_", "EMAIL_")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a client got for one message: the reply ids and texts, in order."""

    conversation_id: str
    replies: tuple[tuple[str, str], ...]


@dataclass
class Kill9Result:
    backend: str
    messages: int
    answered: int = 0
    lost: int = 0
    doubled: int = 0
    mismatched: int = 0
    restarts: int = 0
    retried_requests: int = 0  # requests sent again after a failed attempt
    resent_answered: int = 0  # already-answered ids sent again on purpose
    stored_inbound: int = 0
    stored_replies: int = 0
    server_errors: int = 0  # 5xx answers seen by the clients
    killed_after: list[int] = field(default_factory=list)  # answers seen before each kill
    # inbound rows the kill left stored but unanswered: the crash-recovery path was exercised
    unanswered_at_kill: list[int] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def app_environment(database_url: str, rasa_url: str, rasa_token: str) -> dict[str, str]:
    """The child app's environment: our database and Rasa, no abuse limits, no other channels."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(_CHANNEL_PREFIXES) and k != "ABONENT_FAILPOINT"
    }
    env.update(
        DATABASE_URL=database_url,
        RASA_URL=rasa_url,
        RASA_TOKEN=rasa_token,
        OUTBOX_POLL="0.2",
        # 70 messages from one address in a few seconds is the load we want, not abuse
        WEBCHAT_RATE_PER_IP="0",
        WEBCHAT_RATE_PER_USER="0",
        ABONENT_LOG_LEVEL="WARNING",
    )
    return env




class _Run:
    """The shared state of one scenario: the app, the clients' answers, the kill trigger."""

    def __init__(self, result: Kill9Result, app: AppProcess) -> None:
        self.result = result
        self.app = app
        self.answers: dict[tuple[str, str], Answer] = {}
        self.answered = asyncio.Condition()
        self.tokens: dict[str, str] = {}  # each subscriber's web chat session token

    async def record(self, key: tuple[str, str], answer: Answer) -> None:
        async with self.answered:
            self.answers[key] = answer
            self.answered.notify_all()

    async def wake(self) -> None:
        """A client gave up or finished: the killer must re-check its condition."""
        async with self.answered:
            self.answered.notify_all()


async def run_kill9(
    *,
    database_url: str,
    rasa_url: str,
    rasa_token: str,
    workdir: Path,
    backend: str = "",
    subscribers: int = 10,
    per_subscriber: int = 7,
    kills: int = 1,
    resend_share: float = 0.3,
    deadline_seconds: float = 240.0,
    seed: int | None = None,
) -> Kill9Result:
    """Run the scenario once on ``database_url`` (a fresh, empty database)."""
    rng = random.Random(seed)
    total = subscribers * per_subscriber
    result = Kill9Result(backend=backend or make_url(database_url).get_backend_name(),
                         messages=total)
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    env = app_environment(database_url, rasa_url, rasa_token)
    port = free_port()
    tag = uuid.uuid4().hex[:6]
    plan = {
        (f"k9-{tag}-{s}", f"m{n}-{uuid.uuid4().hex[:8]}"): SCRIPT[(s + n) % len(SCRIPT)]
        for s in range(subscribers) for n in range(per_subscriber)
    }
    # kill after a random number of answers: at least one, at most 60 % (so many are in flight)
    triggers = sorted(rng.sample(range(1, max(2, total * 6 // 10)), kills))

    run = _Run(result, AppProcess(env, port, workdir / "app-0.log", cwd=workdir))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    try:
        await run.app.wait_healthy()
        # opened before the load: the kill must not take a first answer and with it a token
        run.tokens = await open_sessions(database_url, sorted({user for user, _ in plan}))
        limits = httpx.Limits(max_connections=subscribers * 2)
        async with httpx.AsyncClient(base_url=run.app.url, timeout=60, limits=limits) as http:
            clients = [
                asyncio.create_task(_subscriber(run, http, user, plan, deadline))
                for user in sorted({user for user, _ in plan})
            ]
            killer = asyncio.create_task(
                _killer(run, env, database_url, workdir, triggers, clients)
            )
            await asyncio.gather(*clients)
            await killer
            await _resend_sample(run, http, plan, rng, resend_share, deadline)
        await _check_database(run, database_url, plan)
    finally:
        run.app.stop()
        result.seconds = time.monotonic() - started
    return result


async def _subscriber(
    run: _Run, http: httpx.AsyncClient, user: str,
    plan: dict[tuple[str, str], str], deadline: float,
) -> None:
    """One subscriber: each message in turn, retried with the same id until it is answered."""
    try:
        for (owner, message_id), text_ in plan.items():
            if owner != user:
                continue
            answer = await _send_until_answered(run, http, user, message_id, text_, deadline)
            if answer is None:
                return  # the deadline passed; the check counts the rest as lost
            await run.record((user, message_id), answer)
    finally:
        await run.wake()


async def _send_until_answered(
    run: _Run, http: httpx.AsyncClient, user: str, message_id: str, text_: str, deadline: float,
) -> Answer | None:
    loop = asyncio.get_running_loop()
    body = {"user_id": user, "text": text_, "message_id": message_id}
    headers = {TOKEN_HEADER: run.tokens[user]}
    attempt = failures = 0
    while loop.time() < deadline and failures < 20:
        if attempt:
            run.result.retried_requests += 1
        attempt += 1
        try:
            response = await http.post("/api/webchat/messages", json=body, headers=headers)
        except httpx.HTTPError:  # killed mid-request, or not listening yet: retry the same id
            await asyncio.sleep(min(0.1 * attempt, 1.0))
            continue
        if response.status_code == 200:
            data = response.json()
            return Answer(
                data["conversation_id"],
                tuple((r["id"], r["text"]) for r in data["replies"]),
            )
        if response.status_code == 429:  # abuse limits should be off; honour them anyway
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code >= 500:  # counted and reported; retried like a lost request
            run.result.server_errors += 1
            failures += 1
            await asyncio.sleep(min(0.2 * attempt, 2.0))
            continue
        run.result.problems.append(f"{message_id}: unexpected HTTP {response.status_code}")
        return None
    return None


async def _killer(
    run: _Run, env: dict[str, str], database_url: str, workdir: Path, triggers: list[int],
    clients: list[asyncio.Task[None]],
) -> None:
    """SIGKILL the app when the answers reach each trigger, and start it again at once."""
    for trigger in triggers:
        async with run.answered:
            await run.answered.wait_for(
                lambda t=trigger: len(run.answers) >= t or all(c.done() for c in clients)
            )
        if all(c.done() for c in clients):
            run.result.problems.append("the clients finished before the kill")
            return
        run.result.killed_after.append(len(run.answers))
        run.app.kill()
        run.result.unanswered_at_kill.append(await _count_unanswered(database_url))
        run.result.restarts += 1
        run.app = AppProcess(
            env, run.app.port, workdir / f"app-{run.result.restarts}.log", cwd=workdir
        )
        await run.app.wait_healthy()


async def _count_unanswered(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.sessions() as session:
            return len((await session.scalars(
                select(Message.id).where(Message.direction == "in", Message.processed_at.is_(None))
            )).all())
    finally:
        await db.close()


async def _resend_sample(
    run: _Run, http: httpx.AsyncClient, plan: dict[tuple[str, str], str],
    rng: random.Random, share: float, deadline: float,
) -> None:
    """Re-send answered ids: each must get exactly its first answer again."""
    answered = sorted(run.answers)
    for key in rng.sample(answered, round(len(answered) * share)):
        user, message_id = key
        again = await _send_until_answered(run, http, user, message_id, plan[key], deadline)
        run.result.resent_answered += 1
        if again != run.answers[key]:
            run.result.mismatched += 1
            run.result.problems.append(f"{message_id}: a re-sent id got a different answer")


async def _check_database(run: _Run, database_url: str, plan: dict[tuple[str, str], str]) -> None:
    result = run.result
    if result.server_errors:
        result.problems.append(f"{result.server_errors} answers were HTTP 5xx")
    result.answered = sum(1 for a in run.answers.values() if a.replies)
    unanswered = len(plan) - result.answered
    if unanswered:
        result.problems.append(f"{unanswered} messages got no answer")
    seen = {reply_id for a in run.answers.values() for reply_id, _ in a.replies}
    seen_texts = {reply_id: t for a in run.answers.values() for reply_id, t in a.replies}

    db = Database(database_url)
    try:
        async with db.sessions() as session:
            inbound = (await session.scalars(
                select(Message).where(Message.direction == "in")
            )).all()
            outbound = (await session.scalars(
                select(Message).where(Message.direction == "out")
            )).all()
    finally:
        await db.close()
    result.stored_inbound = len(inbound)
    result.stored_replies = len(outbound)
    unprocessed = sum(1 for m in inbound if m.processed_at is None)
    if unprocessed:
        result.problems.append(f"{unprocessed} stored messages were never processed")
    extra_inbound = max(0, len(inbound) - len(plan))
    if len(inbound) != len(plan):
        result.problems.append(f"{len(inbound)} inbound rows stored for {len(plan)} messages")
    stored = {str(m.id): m for m in outbound}
    missing = seen - stored.keys()
    unseen = stored.keys() - seen
    if missing:
        result.problems.append(f"{len(missing)} replies a client saw are not stored")
    if unseen:
        senders = sorted({stored[i].sender for i in unseen})
        result.problems.append(f"{len(unseen)} stored replies no client was given ({senders})")
    changed = sum(1 for i in seen & stored.keys() if stored[i].text != seen_texts[i])
    if changed:
        result.problems.append(f"{changed} replies differ from what is stored")
    result.lost = unanswered + len(missing)
    result.doubled = extra_inbound + len(unseen)
