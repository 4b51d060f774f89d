"""Two app processes on one PostgreSQL database behind nginx, one real Rasa (issue #13, "a
two-replica run, tested"): the app is stateless over PostgreSQL, so whichever replica a request
lands on, every message is answered once and in order, an agent's reply reaches a long poll on
the other replica (and a new handoff the desk's event stream there), Telegram webhook deliveries
to both replicas are answered once, and exactly one replica polls Telegram, with a take-over
when it dies.

The replicas are real ``abonent run`` processes (tests/support/replicas.py), migrated once
beforehand with ``abonent db upgrade``; nginx is Debian's, run as an ordinary process
(tests/support/nginx.py). Needs PostgreSQL (TEST_DATABASE_URL): SQLite is one process only.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.telegram.inbound import TELEGRAM
from channels.telegram.options import WEBHOOK_PATH
from channels.telegram.webhook import SECRET_HEADER
from nlu.server import RasaServer
from tests.channels.telegram.updates import TelegramUser
from tests.support.app import ExternalRasa, new_user
from tests.support.kill9 import SCRIPT
from tests.support.replicas import (
    Cluster,
    ReplicaBotApi,
    all_delivered,
    create_agent,
    fresh_postgres,
    running_cluster,
    telegram_settings,
    transcripts,
)
from tests.support.sse import named_events
from tests.support.telegram import WEBHOOK_SECRET, new_telegram_user
from tests.support.waiting import eventually
from tests.support.webchat import WebChatClient, WebChatTokens, open_sessions

pytestmark = [pytest.mark.rasa, pytest.mark.postgres]

WEBCHAT = "webchat"
# The behaviour bounds: an agent's reply reaches a long poll on the other replica
# "within a second"; the polling leader's successor takes over "within seconds".
LIVE_UPDATE_BOUND = 1.0
TAKEOVER_BOUND = 15.0
# Waiting for replies: generous, a loaded 2-core box also runs Rasa. A message the killed
# leader stored but never answered waits for the survivor's recovery sweep (60 s).
DELIVERY_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def bot_api() -> Iterator[ReplicaBotApi]:
    with ReplicaBotApi() as api:
        yield api


@pytest.fixture(scope="module")
async def webhook_cluster(
    postgres_admin_url: str, rasa_server: RasaServer | ExternalRasa, bot_api: ReplicaBotApi,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Cluster]:
    """Replicas a and b in Telegram webhook mode (the web chat and the desk are always on)."""
    workdir = tmp_path_factory.mktemp("webhook-cluster")
    async with fresh_postgres(postgres_admin_url) as url, running_cluster(
        url, rasa_server, workdir,
        telegram={name: telegram_settings(bot_api, name, webhook=True) for name in "ab"},
    ) as cluster:
        yield cluster


def client(base_url: str, **extra: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=60,
                             limits=httpx.Limits(max_connections=64), **extra)


# -- the web chat ------------------------------------------------------------------------------

async def test_web_chat_over_both_replicas_answers_each_message_once_and_in_order(
    webhook_cluster: Cluster,
) -> None:
    cluster = webhook_cluster
    tokens = WebChatTokens()  # one browser per subscriber, whichever replica it reaches
    async with client(cluster.url) as via_nginx, client(cluster["a"].url) as to_a, \
            client(cluster["b"].url) as to_b:
        proxied = WebChatClient(via_nginx, tokens)
        direct = [WebChatClient(to_a, tokens), WebChatClient(to_b, tokens)]

        # 1. subscribers writing through nginx, each message after the previous answer
        one_by_one = [new_user() for _ in range(10)]

        async def converse(index: int, user: str) -> list[list[tuple[int, str]]]:
            answers = []
            for n in range(4):
                answer = await proxied.say(user, SCRIPT[(index + n) % len(SCRIPT)])
                answers.append([(int(r["id"]), r["sender"]) for r in answer["replies"]])
            return answers

        sequential = dict(zip(one_by_one, await asyncio.gather(
            *(converse(i, u) for i, u in enumerate(one_by_one))), strict=True))

        # 2. subscribers whose messages go out together, alternately to replica a and b
        at_once = [new_user() for _ in range(4)]
        for user, token in (await open_sessions(cluster.database_url, at_once)).items():
            tokens.set(user, token)

        async def burst(index: int, user: str) -> list[list[tuple[int, str]]]:
            answers = await asyncio.gather(*(
                direct[n % 2].say(user, SCRIPT[(index + n) % len(SCRIPT)],
                                  message_id=f"m{n}-{uuid.uuid4().hex[:6]}")
                for n in range(4)))
            return [[(int(r["id"]), r["sender"]) for r in a["replies"]] for a in answers]

        concurrent = dict(zip(at_once, await asyncio.gather(
            *(burst(i, u) for i, u in enumerate(at_once))), strict=True))

        # what each subscriber's page would show: every reply, read back from either replica
        shown = {}
        for n, user in enumerate(one_by_one + at_once):
            page = await direct[n % 2].updates(user, 0)
            shown[user] = [(int(r["id"]), r["sender"]) for r in page["replies"]]

    served = cluster.served_by("/api/webchat/messages")
    assert all(served.values()), f"nginx spread the messages over both replicas: {served}"

    problems = []
    for user, answers in (sequential | concurrent).items():
        if not all(answers):
            problems.append(f"{user}: {sum(1 for a in answers if not a)} message(s) unanswered")
        given = [reply for answer in answers for reply in answer]
        if len(set(given)) != len(given):
            problems.append(f"{user}: a reply was handed out twice")
        if user in sequential and shown[user] != given:
            problems.append(f"{user}: the page shows {_ids(shown[user])}, the answers were "
                            f"{_ids(given)} (in the order sent)")
        if user in concurrent and shown[user] != sorted(given):
            problems.append(f"{user}: the page shows {_ids(shown[user])}, the answers held "
                            f"{_ids(sorted(given))}")
    stored = await transcripts(cluster.database_url, WEBCHAT, sequential | concurrent)
    for user, transcript in stored.items():
        if len(transcript.inbound) != 4:
            problems.append(f"{user}: {len(transcript.inbound)} messages stored for 4 sent")
        if transcript.out_of_order():
            problems.append(f"{user}: replies out of order (reply, to message): "
                            f"{transcript.out_of_order()}")
        unseen = {m.id for m in transcript.outbound} - {i for i, _ in shown[user]}
        if unseen:
            problems.append(f"{user}: stored replies no answer carried: {sorted(unseen)}")
    assert not problems, "\n".join(problems) + "\n" + cluster.logs()


def _ids(replies: list[tuple[int, str]]) -> list[int]:
    return [reply_id for reply_id, _ in replies]


# -- the desk and live updates -----------------------------------------------------------------

async def test_agent_reply_through_one_replica_reaches_a_long_poll_on_the_other(
    webhook_cluster: Cluster,
) -> None:
    cluster = webhook_cluster
    username = f"olga{uuid.uuid4().hex[:6]}"
    password = await create_agent(cluster.database_url, username)
    async with client(cluster["a"].url) as to_a, client(cluster["b"].url) as to_b:
        subscriber = WebChatClient(to_a)  # the subscriber's page talks to replica a only
        user = new_user()
        answer = await subscriber.say(user, "позовите оператора")
        if answer["state"] != "waiting_agent":  # asked what it is about: insist
            answer = await subscriber.say(user, "позовите оператора, пожалуйста")
        assert answer["state"] == "waiting_agent", answer
        conversation, cursor = answer["conversation_id"], answer["cursor"]

        # the agent works on replica b
        login = await to_b.post("/api/desk/login",
                                json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        agent = {"Authorization": f"Bearer {login.json()['token']}"}
        claimed = await to_b.post(f"/api/desk/conversations/{conversation}/claim", headers=agent)
        assert claimed.status_code == 200, f"{claimed.text}\n{cluster['b'].log_tail()}"
        joined = await subscriber.updates(user, cursor, wait=5)
        assert joined["state"] == "with_agent", joined
        cursor = joined["cursor"]

        latencies = []
        for n in range(3):
            text = f"Здравствуйте! Проверяю, шаг {n + 1}."
            poll = asyncio.create_task(subscriber.updates(user, cursor, wait=20))
            try:
                await asyncio.sleep(0.3)  # the long poll is parked on replica a
                assert not poll.done(), "nothing new yet: the poll waits"
                sent_at = time.monotonic()
                sent = await to_b.post(f"/api/desk/conversations/{conversation}/messages",
                                       json={"text": text}, headers=agent)
                assert sent.status_code == 201, f"{sent.text}\n{cluster['b'].log_tail()}"
                update = await poll
                latencies.append(round(time.monotonic() - sent_at, 3))
            finally:
                poll.cancel()
            assert [(r["text"], r["sender"]) for r in update["replies"]] == [(text, "agent")]
            cursor = update["cursor"]
    assert max(latencies) < LIVE_UPDATE_BOUND, (
        f"the agent's replies reached the long poll on the other replica after {latencies} s")


async def test_a_handoff_made_on_one_replica_reaches_the_desk_event_stream_on_the_other(
    webhook_cluster: Cluster,
) -> None:
    cluster = webhook_cluster
    username = f"pavel{uuid.uuid4().hex[:6]}"
    password = await create_agent(cluster.database_url, username)
    async with client(cluster["a"].url) as to_a, client(cluster["b"].url) as to_b:
        login = await to_b.post("/api/desk/login",
                                json={"username": username, "password": password})
        assert login.status_code == 200, login.text
        agent = {"Authorization": f"Bearer {login.json()['token']}"}
        async with to_b.stream("GET", "/api/desk/events", headers=agent) as stream:
            events = named_events(stream.aiter_lines(), "queue")
            await asyncio.wait_for(anext(events), 10)  # the snapshot the stream starts with
            subscriber = WebChatClient(to_a)
            user = new_user()
            answer = await subscriber.say(user, "позовите оператора")
            if answer["state"] != "waiting_agent":
                answer = await subscriber.say(user, "позовите оператора, пожалуйста")
            assert answer["state"] == "waiting_agent", answer

            async def until_it_shows() -> None:
                async for queue in events:
                    if any(i["conversation_id"] == answer["conversation_id"]
                           for i in queue["waiting"]):
                        return
                raise AssertionError("the stream ended")

            try:
                # long before the stream's own 15 s refresh, as on one replica
                await asyncio.wait_for(until_it_shows(), 5)
            except TimeoutError:
                raise AssertionError("the handoff made on replica a did not reach the desk's "
                                     "event stream on replica b within 5 s") from None


async def test_telegram_webhook_updates_delivered_to_both_replicas_are_answered_once(
    webhook_cluster: Cluster, bot_api: ReplicaBotApi,
) -> None:
    cluster = webhook_cluster
    users = [new_telegram_user() for _ in range(6)]
    per_user = 2
    headers = {SECRET_HEADER: WEBHOOK_SECRET}
    update_ids = itertools.count(int(time.time()) * 10)

    async with client(cluster["a"].url) as to_a, client(cluster["b"].url) as to_b:
        async def deliver(update: dict[str, Any]) -> list[int]:
            """Telegram retrying a delivery: the same update to both replicas at once."""
            update = {"update_id": next(update_ids), **update}
            answers = await asyncio.gather(*(http.post(WEBHOOK_PATH, json=update, headers=headers)
                                             for http in (to_a, to_b)))
            return [a.status_code for a in answers]

        async def chat(index: int, user: TelegramUser) -> list[list[int]]:
            return [await deliver(user.text(SCRIPT[(index + n) % len(SCRIPT)]))
                    for n in range(per_user)]

        statuses = await asyncio.gather(*(chat(i, u) for i, u in enumerate(users)))
    problems = []
    refused = [s for user in statuses for pair in user for s in pair if s != 200]
    if refused:  # Telegram would deliver those again later; still, nothing should refuse
        problems.append(f"{len(refused)} of {2 * per_user * len(users)} deliveries answered "
                        f"{sorted(set(refused))}, not 200: {statuses}")

    ids = [str(u.id) for u in users]
    try:
        await delivered(cluster.database_url, ids, per_user, "every update answered and sent")
    except AssertionError as exc:
        problems.append(str(exc))
    await asyncio.sleep(1.0)  # a second send of a reply would show up by now
    problems += _telegram_problems(bot_api, users, await transcripts(
        cluster.database_url, TELEGRAM, ids), per_user)
    assert not problems, "\n".join(problems) + "\n" + cluster.logs()


async def delivered(database_url: str, ids: list[str], per_user: int, what: str) -> None:
    """Wait until each Telegram user has ``per_user`` updates stored, answered and sent."""
    try:
        await eventually(lambda: all_delivered(database_url, TELEGRAM, ids, per_user),
                         timeout=DELIVERY_TIMEOUT, every=0.5)
    except AssertionError:
        raise AssertionError(f"not within {DELIVERY_TIMEOUT:.0f} s: {what}") from None


def _telegram_problems(api: ReplicaBotApi, users: list[TelegramUser], stored: dict[str, Any],
                       per_user: int) -> list[str]:
    """Each update stored once and answered once: what the fake saw sent is what is stored."""
    problems = []
    for user in users:
        transcript = stored[str(user.id)]
        if len(transcript.inbound) != per_user:
            problems.append(f"{user.id}: {len(transcript.inbound)} updates stored for {per_user}")
        unanswered = [m.id for m in transcript.inbound if m.processed_at is None]
        if unanswered:
            problems.append(f"{user.id}: messages never answered: {unanswered}")
        sent = [m.text for m in api.sent(user.id)]
        replies = [m.text for m in transcript.outbound]
        if not replies:
            problems.append(f"{user.id}: no reply stored")
        if len(sent) != len(replies) or sorted(sent) != sorted(replies):
            problems.append(f"{user.id}: {len(sent)} messages sent for {len(replies)} stored "
                            "replies")
        if transcript.out_of_order():
            problems.append(f"{user.id}: replies out of order: {transcript.out_of_order()}")
    return problems


# -- Telegram long polling: one leader, and a take-over --------------------------------------

async def test_one_replica_polls_telegram_and_the_other_takes_over_when_it_is_killed(
    postgres_admin_url: str, rasa_server: RasaServer | ExternalRasa, bot_api: ReplicaBotApi,
    tmp_path: Path,
) -> None:
    api = bot_api
    api.reset()
    users = [new_telegram_user() for _ in range(5)]
    ids = [str(u.id) for u in users]
    rounds = iter(range(len(SCRIPT)))
    problems: list[str] = []

    def send_round() -> None:
        n = next(rounds)
        for i, user in enumerate(users):
            api.enqueue(user.text(SCRIPT[(i + n) % len(SCRIPT)]))

    async with fresh_postgres(postgres_admin_url) as url, running_cluster(
        url, rasa_server, tmp_path,
        telegram={name: telegram_settings(api, name, webhook=False) for name in "ab"},
    ) as cluster:
        # before: both replicas up, updates flow
        send_round()
        await delivered(url, ids, 1, "the first round answered")
        await asyncio.sleep(2.0)  # both replicas have had time to start polling, if they would
        pollers = api.pollers()
        if len(pollers) != 1:
            problems.append(f"before the kill, replicas {sorted(pollers)} polled Telegram; "
                            "exactly one should")
        leader = max(api.replica_calls("getUpdates"), key=lambda c: c.started).replica
        survivor = "b" if leader == "a" else "a"

        # during: updates waiting, the leader dies mid-poll, more arrive during the take-over
        send_round()
        cluster[leader].kill()
        killed_at = time.monotonic()
        send_round()
        try:
            await api.wait_for(lambda: survivor in api.pollers(since=killed_at),
                               timeout=TAKEOVER_BOUND, what=f"replica {survivor} to poll")
            took_over = time.monotonic() - killed_at
        except AssertionError:
            took_over = None
            problems.append(f"replica {survivor} did not poll within {TAKEOVER_BOUND} s of "
                            f"replica {leader}'s death")

        # after: the survivor answers what was stored, in flight and new; none lost
        send_round()
        try:
            await delivered(url, ids, 4, "every update sent before, during and after the kill answered")
        except AssertionError as exc:
            problems.append(str(exc))

        # the killed replica comes back: it must not poll beside the new leader
        await cluster[leader].serve()
        back_at = time.monotonic()
        send_round()
        try:
            await delivered(url, ids, 5, "the round after the restart answered")
        except AssertionError as exc:
            problems.append(str(exc))
        await asyncio.sleep(2.0)
        if leader in api.pollers(since=back_at):
            problems.append(f"replica {leader} polled again beside replica {survivor} after "
                            "its restart")
        await asyncio.sleep(1.0)  # a second send of a reply would show up by now
        problems += _telegram_problems(api, users, await transcripts(url, TELEGRAM, ids), 5)
        logs = cluster.logs()
    assert not problems, (f"take-over after {took_over} s; "
                          + "\n".join(problems) + "\n" + logs)
