"""Shared fixtures: the real Rasa server (trained once, cached by data hash), databases
(SQLite always; PostgreSQL when TEST_DATABASE_URL is set) and the running app
(tests/support/app.py)."""

from __future__ import annotations

import fcntl
import os
import secrets
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bot.app import create_app
from bot.config import PROJECT_ROOT
from bot.runtime import train_model
from bot.storage import Database
from nlu.server import RasaServer
from tests.support.app import ExternalRasa, RunningApp, app_settings, base_settings
from tests.support.postgres import database_for_test, postgres_database
from tests.support.servers import LiveServer

# Messaging channels' end-to-end tests (Telegram, VK, e-mail) run each on one database, SQLite or
# PostgreSQL in turn, when both are there: the storage layer is tested on both in tests/bot/,
# and this keeps `make test` within its time budget. Crash tests always run on both.
# ABONENT_TEST_BOTH_DATABASES=1 runs every one of them on both.
BOTH_DATABASES = os.environ.get("ABONENT_TEST_BOTH_DATABASES") == "1"
_CHANNEL_E2E = ("tests/channels/telegram/", "tests/channels/vk/", "tests/channels/email/")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (and renames the tests)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _group_by_shared_fixtures(items)
    if BOTH_DATABASES or not os.environ.get("TEST_DATABASE_URL"):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (kept, dropped)[_other_database(item)].append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _group_by_shared_fixtures(items: list[pytest.Item]) -> None:
    """For pytest-xdist's ``--dist loadgroup`` (`make test`): the tests of a module that use a
    module-scoped fixture (one app, server or database for the module) run on one worker, so it
    starts once and never twice at the same time; every other test goes to whichever worker is
    free, which keeps both busy to the end (grouping every module leaves one worker alone with
    the last slow ones)."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        info = getattr(item, "_fixtureinfo", None)
        shares = info is not None and any(
            defs and defs[-1].scope in ("module", "class")
            for defs in info.name2fixturedefs.values())
        if shares or module in _ONE_WORKER_MODULES:
            item.add_marker(pytest.mark.xdist_group(module))


# Modules whose tests must not run at the same time as each other on two workers.
_ONE_WORKER_MODULES = {
    # each test starts `abonent run` without RASA_URL, which rebuilds build/nlu-data in place
    # (nlu/training.py) to find its model: two at once can remove each other's files
    "tests/bot/test_run_signals.py",
}


def _other_database(item: pytest.Item) -> bool:
    """True for the variant of a channel end-to-end test that runs on the other database."""
    path = item.nodeid.split("::", 1)[0]
    callspec = getattr(item, "callspec", None)
    if (not path.startswith(_CHANNEL_E2E) or not path.endswith("_e2e.py")
            or path.endswith("test_crash_e2e.py") or callspec is None
            or "database_url" not in callspec.params):
        return False
    name = item.nodeid.replace(f"[{callspec.id}]", "")
    others = [str(v) for k, v in sorted(callspec.params.items()) if k != "database_url"]
    chosen = "postgres" if zlib.crc32(f"{name}:{others}".encode()) % 2 else "sqlite"
    return bool(callspec.params["database_url"] != chosen)


# -- Rasa ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
async def rasa_server() -> AsyncIterator[RasaServer | ExternalRasa]:
    external = os.environ.get("ABONENT_TEST_RASA_URL")
    if external:
        yield ExternalRasa(external.rstrip("/"), os.environ.get("ABONENT_TEST_RASA_TOKEN", ""))
        return
    settings = base_settings()
    with _training_lock():
        model = train_model(settings)
    # a token that starts with "-" proves it reaches `rasa run` intact (argparse would take it
    # for an option if it were passed as a separate argument)
    token = "-" + secrets.token_hex(16)
    async with RasaServer(model, venv=settings.rasa_venv, token=token) as server:
        yield server


@contextmanager
def _training_lock() -> Iterator[None]:
    """Held while the model is looked up or trained: training rebuilds build/nlu-data in place,
    so two pytest-xdist workers (or two pytest runs in one checkout) doing it at once could hash
    half-written data and train a model under a wrong name."""
    lock_file = PROJECT_ROOT / "build" / "train.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- databases -------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL part: set TEST_DATABASE_URL (CI does) to run it")
    return url


@pytest.fixture
async def postgres_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database of its own (dropped afterwards), for tests that exist only
    on PostgreSQL (LISTEN/NOTIFY, advisory locks, several app processes)."""
    async with postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_for_test(request, tmp_path) as url:
        yield url


# -- the app ---------------------------------------------------------------------------------

@pytest.fixture
async def running_app(database_url: str, rasa_server: RasaServer) -> AsyncIterator[RunningApp]:
    settings = app_settings(database_url, rasa_server)
    app = create_app(settings)
    async with LiveServer(app) as server, httpx.AsyncClient(
        base_url=server.url, timeout=30
    ) as http:
        yield RunningApp(server.url, app.state.services, http, settings)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The migrated database, opened for the test and closed after it."""
    database = Database(database_url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.close()
