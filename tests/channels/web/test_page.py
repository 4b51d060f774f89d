"""The web chat page in a real browser (Debian's Chromium) against the real app and Rasa."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.app import RunningApp
from tests.support.browser import chromium

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
