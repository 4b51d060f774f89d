"""Agent assist in the desk page (Debian's Chromium, Playwright): an agent opens a roaming-trouble
handoff of a verified subscriber, sees the roaming-trouble article among the suggestions and the
subscriber's live figures (the demo billing) on the card, inserts the article into the reply box,
edits and sends it; the subscriber receives it on the web chat, and the desk stored that the
suggestion was inserted and sent. No console errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from handoff.tables import AssistEvent
from tests.handoff.test_assist import DEMO_MSISDN, article_text, roaming_trouble_handoff, verify
from tests.support.browser import chromium, log_in
from tests.support.desk import Desk
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

ARTICLE = "roaming_trouble_general"


async def used(desk: Desk) -> list[tuple[str, str]]:
    async with desk.services.db.sessions() as session:
        rows = await session.scalars(
            select(AssistEvent).where(AssistEvent.action != "suggested").order_by(AssistEvent.id)
        )
        return [(r.article, r.action) for r in rows]


async def test_an_agent_inserts_a_suggestion_edits_and_sends_it(desk_sqlite: Desk) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    user, conversation = await roaming_trouble_handoff(desk)
    await verify(desk, user, "+" + DEMO_MSISDN)
    await desk.create_agent("anna")
    text = article_text(ARTICLE, "ru")
    errors: list[str] = []
    dialogs: list[str] = []

    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1440, "height": 860},
                                            locale="ru-RU")
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}")
                if m.type == "error" else None)

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            asyncio.ensure_future(dialog.dismiss())

        page.on("dialog", on_dialog)
        await log_in(page, desk.url, "anna", "anna-password")
        await page.locator(f'#waiting .item[data-conversation="{conversation}"]').click()

        suggestion = page.locator(f'#suggestions li[data-article="{ARTICLE}"]')
        await expect(page.locator("#suggestions li").first).to_have_attribute("data-article",
                                                                             ARTICLE)
        await expect(suggestion).to_contain_text("Не работает связь в роуминге")
        await expect(suggestion).to_contain_text(text[:60])
        # the verified subscriber's figures from the demo billing, on the card
        await expect(page.locator('#card dd[data-figure="balance"]')).to_have_text("12.34 BYN")
        await expect(page.locator('#card dd[data-figure="tariff"]')).to_have_text("Демо Смарт")
        await expect(page.locator('#card dd[data-figure="roaming"]')).to_have_text("выключен")
        # not the agent's yet: nothing to insert into
        await expect(suggestion.locator("button.insert")).to_be_disabled()

        await page.click("#claim")
        await expect(page.locator("#conv-status")).to_contain_text("anna")
        await page.fill("#reply", "Здравствуйте!")
        await suggestion.locator("button.insert").click()
        await expect(page.locator("#reply")).to_have_value(f"Здравствуйте!\n\n{text}")
        assert await eventually(lambda: used(desk)) == [(ARTICLE, "inserted")]

        # the agent edits it before sending
        await page.locator("#reply").press("End")
        await page.locator("#reply").press_sequentially(" Я на связи.")
        sent = f"Здравствуйте!\n\n{text} Я на связи."
        await expect(page.locator("#reply")).to_have_value(sent)
        await page.click("#send")
        await expect(page.locator("#transcript")).to_contain_text("Я на связи.")
        await expect(page.locator("#reply")).to_have_value("")

        async def delivered() -> list[str] | None:
            update = await desk.updates(user, 0, wait=1)
            texts = [r["text"] for r in update["replies"] if r["sender"] == "agent"]
            return texts if sent in texts else None

        await eventually(delivered)

        async def sent_too() -> list[tuple[str, str]] | None:
            rows = await used(desk)
            return rows if len(rows) == 2 else None

        assert await eventually(sent_too) == [(ARTICLE, "inserted"), (ARTICLE, "sent")]
        await context.close()
    assert dialogs == []
    assert errors == [], errors
