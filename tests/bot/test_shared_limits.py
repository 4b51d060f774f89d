"""Rate limits shared by replicas (#13): two independent store instances -- two engines or two
Redis clients, as two app processes have -- on one PostgreSQL or one Redis share one budget;
the web chat and the desk login over two app instances on one PostgreSQL enforce one limit;
a store that is down keeps the web chat answering (per-process limits, a warning that names
the problem) and refuses logins (503) rather than lifting their limit."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from bot.ratelimit import (
    Bucket,
    DatabaseStore,
    LimitStore,
    MemoryStore,
    RedisStore,
    build_limit_store,
)
from bot.ratelimit.database import PRUNE_EVERY_SECONDS
from bot.send_rate import SendRateLimiter
from bot.storage import Database
from bot.storage.tables import RateLimitBucket
from handoff.errors import Busy, RateLimited
from handoff.login_throttle import LoginThrottle
from tests.channels.web.test_limits import assert_limited, chat_app, send
from tests.support.app import base_settings
from tests.support.desk import ADMIN_PASSWORD, client_from, running_desk
from tests.support.postgres import postgres_database
from tests.support.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SLOW = 1 / 3600  # a refill so slow that no token comes back during a test

StoreFactory = Callable[[], Awaitable[LimitStore]]


async def require_redis() -> None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    finally:
        await client.aclose()


@pytest.fixture
async def redis_available() -> None:
    await require_redis()


@asynccontextmanager
async def migrated_postgres(admin_url: str) -> AsyncIterator[str]:
    async with postgres_database(admin_url) as url:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.close()
        yield url


@pytest.fixture(params=["postgres", "redis"])
async def new_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """Makes independent stores on one shared backend, as separate processes would have."""
    async with AsyncExitStack() as stack:
        if request.param == "postgres":
            admin_url = request.getfixturevalue("postgres_admin_url")
            url = await stack.enter_async_context(migrated_postgres(admin_url))

            async def make() -> LimitStore:
                db = Database(url)
                stack.push_async_callback(db.close)
                return DatabaseStore(db)
        else:
            await require_redis()

            async def make() -> LimitStore:
                store = RedisStore.from_url(REDIS_URL)
                stack.push_async_callback(store.close)
                return store
        yield make


@pytest.fixture
async def database_url_postgres(postgres_admin_url: str) -> AsyncIterator[str]:
    async with migrated_postgres(postgres_admin_url) as url:
        yield url


def key() -> str:
    return f"test:{uuid.uuid4().hex}"


# -- the stores ------------------------------------------------------------------------------

async def test_two_instances_share_one_budget(new_store: StoreFactory) -> None:
    first, second = await new_store(), await new_store()
    bucket = Bucket(key(), capacity=5, per_second=SLOW)
    passed = 0
    for turn in range(10):
        store = (first, second)[turn % 2]
        if await store.take([bucket]) == 0:
            passed += 1
    assert passed == 5, "five in total, not five for each instance"
    assert await first.take([bucket]) == pytest.approx(3600, rel=0.01)


async def test_concurrent_takes_across_instances_never_exceed_the_budget(
    new_store: StoreFactory,
) -> None:
    first, second = await new_store(), await new_store()
    bucket = Bucket(key(), capacity=10, per_second=SLOW)
    waits = await asyncio.gather(*[
        (first, second)[i % 2].take([bucket]) for i in range(50)
    ])
    assert sum(1 for w in waits if w == 0) == 10
    assert all(w > 0 for w in waits if w != 0)


async def test_nothing_is_taken_unless_every_bucket_allows(new_store: StoreFactory) -> None:
    first, second = await new_store(), await new_store()
    roomy, tight = Bucket(key(), 5, SLOW), Bucket(key(), 1, SLOW)
    assert await first.take([roomy, tight]) == 0
    assert await second.take([roomy, tight]) > 0  # tight is empty: roomy keeps its 4
    for _ in range(4):
        assert await second.take([roomy]) == 0
    assert await first.take([roomy]) > 0


async def test_tokens_given_back_and_forgotten_buckets(new_store: StoreFactory) -> None:
    first, second = await new_store(), await new_store()
    bucket = Bucket(key(), 2, SLOW)
    assert await first.take([bucket], cost=2) == 0
    assert await second.take([bucket]) > 0
    await second.take([bucket], cost=-5, debt=True)  # given back, but never above capacity
    assert await first.take([bucket], cost=2) == 0
    assert await first.take([bucket]) > 0
    await second.forget([bucket.key])
    assert await first.take([bucket], cost=2) == 0


async def test_reservations_queue_up_across_instances(new_store: StoreFactory) -> None:
    """``debt``: every take gets its own later slot, as the send rate needs."""
    first, second = await new_store(), await new_store()
    bucket = Bucket(key(), 1, per_second=2.0)  # one slot every 0.5 s
    waits = [await (first, second)[i % 2].take([bucket], debt=True) for i in range(4)]
    assert waits[0] == 0
    assert waits == sorted(waits) and waits[3] > 1.0, waits  # ~0, 0.5, 1.0, 1.5


async def test_long_keys_are_stored_as_their_hash(new_store: StoreFactory) -> None:
    first, second = await new_store(), await new_store()
    bucket = Bucket(key() + "x" * 500, 1, SLOW)
    assert await first.take([bucket]) == 0
    assert await second.take([bucket]) > 0


async def test_idle_rows_are_pruned(database_url_postgres: str) -> None:
    now = [0.0]
    db = Database(database_url_postgres)
    try:
        store = DatabaseStore(db, clock=lambda: now[0])
        fast = Bucket(key(), 1, per_second=1000.0)  # full again within a millisecond
        kept = Bucket(key(), 1, SLOW)
        await store.take([fast])
        await store.take([kept])
        async with db.engine.begin() as conn:  # as if the fast one had been idle for minutes
            await conn.execute(RateLimitBucket.__table__.update()
                               .where(RateLimitBucket.key == fast.key)
                               .values(full_at=RateLimitBucket.full_at - 3600))
        now[0] += PRUNE_EVERY_SECONDS + 1
        await store.take([Bucket(key(), 1, SLOW)])  # any take prunes, once a minute
        async with db.sessions() as session:
            keys = set(await session.scalars(select(RateLimitBucket.key)))
        assert fast.key not in keys and kept.key in keys
    finally:
        await db.close()


async def test_redis_buckets_expire_once_full_again(redis_available: None) -> None:
    store = RedisStore.from_url(REDIS_URL)
    client = Redis.from_url(REDIS_URL)
    try:
        bucket = Bucket(key(), 2, per_second=0.1)
        await store.take([bucket])  # one token short: full again in 10 s
        ttl = await client.pttl("abonent:ratelimit:" + bucket.key)
        assert 10_000 <= ttl <= 11_000
    finally:
        await store.close()
        await client.aclose()


async def test_the_store_is_chosen_by_redis_url_and_database() -> None:
    sqlite = Database("sqlite+aiosqlite:///:memory:")
    postgres = Database("postgresql://nobody@127.0.0.1:1/none")  # never connected
    try:
        assert isinstance(build_limit_store(base_settings(), sqlite), MemoryStore)
        assert isinstance(build_limit_store(base_settings(), postgres), DatabaseStore)
        with_redis = build_limit_store(base_settings(redis_url=REDIS_URL), sqlite)
        assert isinstance(with_redis, RedisStore)
        await with_redis.close()
    finally:
        await sqlite.close()
        await postgres.close()


# -- the limits built on them ----------------------------------------------------------------

async def test_the_global_send_rate_is_shared(new_store: StoreFactory) -> None:
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    channel = f"test-{uuid.uuid4().hex[:8]}"  # one channel, sent from two replicas
    replicas = [SendRateLimiter(global_rate=2.0, store=await new_store(), name=channel,
                                sleep=sleep) for _ in range(2)]
    for i in range(4):
        await replicas[i % 2].acquire(f"chat-{i}")
    # one slot every 0.5 s for both together: the last send waits ~1.5 s, not ~0.5 s
    assert max(waited) > 1.0, waited


async def test_login_failures_count_across_instances(new_store: StoreFactory) -> None:
    replicas = [LoginThrottle(store=await new_store(), max_failures=3, window_seconds=60)
                for _ in range(2)]
    user = f"admin-{uuid.uuid4().hex[:6]}"
    for i in range(3):
        await (await replicas[i % 2].reserve(user, "10.0.0.1")).failed()
    for replica in replicas:
        with pytest.raises(RateLimited):
            await replica.reserve(user, "10.0.0.1")


async def test_logins_fail_closed_while_the_store_is_down() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    try:
        throttle = LoginThrottle(store=store, max_failures=3, window_seconds=60)
        with pytest.raises(Busy) as refused:
            await throttle.reserve("admin", "10.0.0.1")
        assert refused.value.retry_after > 0
    finally:
        await store.close()


# -- the apps --------------------------------------------------------------------------------

@POSTGRES
async def test_two_web_chat_replicas_enforce_one_limit(database_url: str) -> None:
    limits = {"webchat_rate_per_ip": 3, "webchat_rate_per_user": 0}
    async with chat_app(database_url, **limits) as one, chat_app(database_url, **limits) as two, \
            one.client("127.0.0.2") as via_one, two.client("127.0.0.2") as via_two:
        assert (await send(via_one, "anna")).status_code == 200
        assert (await send(via_two, "boris")).status_code == 200
        assert (await send(via_one, "vera")).status_code == 200
        before = await one.stored()
        assert_limited(await send(via_two, "gleb"))  # the 4th from this address, on either
        assert_limited(await send(via_one, "dasha"))
        assert await one.stored() == before, "a refused message is not stored"


@POSTGRES
async def test_two_desk_replicas_count_login_failures_together(database_url: str) -> None:
    async with running_desk(database_url, desk_login_max_failures=3) as one, \
            running_desk(database_url, desk_login_max_failures=3) as two, \
            client_from(one, "127.0.0.2") as via_one, client_from(two, "127.0.0.2") as via_two:
        wrong = {"username": "admin", "password": "guess"}
        for http in (via_one, via_two, via_one):
            assert (await http.post("/api/desk/login", json=wrong)).status_code == 401
        for http in (via_two, via_one):
            blocked = await http.post("/api/desk/login",
                                      json={"username": "admin", "password": ADMIN_PASSWORD})
            assert blocked.status_code == 429, blocked.text
            assert int(blocked.headers["Retry-After"]) > 0


@SQLITE
async def test_the_web_chat_answers_while_the_store_is_down(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING, logger="bot.ratelimit")
    async with chat_app(database_url, redis_url=dead_redis, webchat_rate_per_user=2,
                        webchat_rate_per_ip=0) as app, app.client("127.0.0.2") as http:
        assert (await send(http, "anna")).status_code == 200
        assert (await send(http, "anna")).status_code == 200
        # meanwhile this process still enforces its own share: not a free-for-all
        assert_limited(await send(http, "anna"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("web chat limits" in w and "Redis" in w and "Connect" in w for w in warnings), \
        warnings


@SQLITE
async def test_the_desk_login_answers_503_while_the_store_is_down(database_url: str) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with running_desk(database_url, redis_url=dead_redis) as desk:
        refused = await desk.http.post("/api/desk/login",
                                       json={"username": "admin", "password": ADMIN_PASSWORD})
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0


async def test_memory_store_is_per_process() -> None:
    """The SQLite store: two instances are two processes, each with its own budget (what the
    shared stores above must not be)."""
    first, second = MemoryStore(), MemoryStore()
    bucket = Bucket(key(), 1, SLOW)
    assert await first.take([bucket]) == 0
    assert await second.take([bucket]) == 0


async def _count_rows(db: Database) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(RateLimitBucket)) or 0)


@SQLITE
async def test_the_table_exists_on_sqlite_unused(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.upgrade()
        assert await _count_rows(db) == 0
    finally:
        await db.close()

