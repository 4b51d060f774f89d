"""The web chat page in a real browser (Debian's Chromium) against the real app and Rasa: it
chats, receives an agent's answer by polling (the session cookie says whose updates they are:
no user_id in any URL), and starts a fresh conversation when its session cookie is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage import Conversation, Identity
from channels.web.api import COOKIE_NAME
from tests.support.app import RunningApp
from tests.support.browser import chromium
from tests.support.desk import Desk

pytestmark = [pytest.mark.rasa, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_subscriber_chats_on_the_page(running_app: RunningApp) -> None:
    dialogs: list[str] = []
    async with chromium() as browser:
        page = await browser.new_page()
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(running_app.url + "/")
        await page.fill("#text", "какой у меня баланс")
        await page.press("#text", "Enter")
        bot_reply = page.locator(".msg.bot").nth(1)
        await bot_reply.wait_for(timeout=20_000)
        assert "баланс" in (await bot_reply.inner_text()).lower()

        # a button press sends its payload and gets its own answer
        await page.locator(".buttons button").first.wait_for(timeout=20_000)
        before = await page.locator(".msg.bot").count()
        await page.locator(".buttons button").first.click()
        await page.locator(".msg.bot").nth(before).wait_for(timeout=20_000)

        # markup a subscriber types is shown as text and never runs
        attack = "<img src=x onerror=alert(1)>"
        await page.fill("#text", attack)
        await page.press("#text", "Enter")
        mine = page.locator(".msg.me").last
        await mine.wait_for()
        assert await mine.inner_text() == attack
        assert await page.locator(".msg img").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "webchat.png"), full_page=True)
    assert dialogs == []


async def conversation_of(app: RunningApp, user_id: str) -> str:
    async with app.services.db.sessions() as session:
        found = await session.scalar(
            select(Conversation.id).join(Identity, Identity.id == Conversation.identity_id)
            .where(Identity.channel == "webchat", Identity.channel_user_id == user_id)
            .order_by(Conversation.created_at.desc())
        )
    assert found is not None
    return str(found)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_page_polls_by_its_cookie_and_starts_afresh_without_it(
    running_app: RunningApp,
) -> None:
    urls: list[str] = []
    errors: list[str] = []
    async with chromium() as browser:
        context = await browser.new_context()
        page = await context.new_page()
        page.on("request", lambda request: urls.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(running_app.url + "/")
        await page.fill("#text", "позовите оператора")
        await page.press("#text", "Enter")
        await page.locator(".msg.bot").nth(1).wait_for(timeout=20_000)

        # the session lives in an HttpOnly cookie the page's script cannot read
        [cookie] = [c for c in await context.cookies() if c["name"] == COOKIE_NAME]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/api/webchat" and cookie["expires"] == -1  # a session cookie
        assert await page.evaluate("document.cookie") == ""
        user_id = await page.evaluate("sessionStorage.getItem('abonent_user_id')")
        assert user_id and await page.evaluate("localStorage.length") == 0

        # an agent answers: the page's long poll brings it
        desk = Desk(running_app.url, running_app.http, running_app.services)
        agent = await desk.create_agent("anna")
        conversation = await conversation_of(running_app, user_id)
        assert (await desk.post(agent, conversation, "claim")).status_code == 200
        sent = await desk.post(agent, conversation, "messages", {"text": "Здравствуйте, это Анна."})
        assert sent.status_code == 201, sent.text
        agent_line = page.locator(".msg.agent", has_text="это Анна")
        await agent_line.wait_for(timeout=20_000)

        polls = [u for u in urls if "/api/webchat/updates" in u]
        assert polls, "the page polls for updates"
        assert not [u for u in urls if "user_id" in u or user_id in u], "no user_id in a URL"

        # the cookie is gone (cleared, or the browser restarted): the next message starts a
        # new conversation, says so in one line, and is answered
        await context.clear_cookies()
        before = await page.locator(".msg.bot").count()
        await page.fill("#text", "какой у меня баланс")
        await page.press("#text", "Enter")
        notice = page.locator(".msg.system")
        await notice.wait_for(timeout=20_000)
        assert "новый" in (await notice.inner_text()) and "new" in (await notice.inner_text())
        answer = page.locator(".msg.bot").nth(before)
        await answer.wait_for(timeout=20_000)
        assert "баланс" in (await answer.inner_text()).lower()
        assert await page.locator("#error").inner_text() == ""
        fresh = await page.evaluate("sessionStorage.getItem('abonent_user_id')")
        assert fresh and fresh != user_id
        assert await conversation_of(running_app, fresh) != conversation
        assert [c["name"] for c in await context.cookies()] == [COOKIE_NAME]
        await context.close()
    assert errors == [], errors


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_two_tabs_share_the_browsers_session(running_app: RunningApp) -> None:
    """One cookie serves every tab: a second tab's new session is adopted by the first, so
    the tabs do not keep taking the conversation from each other."""
    async with chromium() as browser:
        context = await browser.new_context()
        first, second = await context.new_page(), await context.new_page()
        for page in (first, second):
            await page.goto(running_app.url + "/")
        for page in (first, second, first):
            before = await page.locator(".msg.bot").count()
            await page.fill("#text", "привет")
            await page.press("#text", "Enter")
            await page.locator(".msg.bot").nth(before).wait_for(timeout=20_000)
        assert await first.locator(".msg.system").count() == 0, "no fresh start was needed"
        ids = [await p.evaluate("sessionStorage.getItem('abonent_user_id')")
               for p in (first, second)]
        assert ids[0] == ids[1]
        await context.close()
