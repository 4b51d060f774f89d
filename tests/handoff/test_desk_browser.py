"""The desk page in Debian's Chromium (Playwright): log in, watch a handoff arrive without
reloading, claim, reply, close; a subscriber's markup is shown as text and runs nothing; the
card shows the verified customer and their other channels, and opens an earlier conversation.

The app runs with the NLU down, so the first message of each subscriber goes to the queue.
A screenshot of the desk is saved to test-artifacts/desk.png (docs/desk.png, shown in the
README, is a copy of one such run; the test does not touch tracked files).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handoff.card import identity_alias
from tests.handoff.test_customer_card import READABLE, TELEGRAM_USER, escalate, linked_customer
from tests.support.app import new_user
from tests.support.browser import chromium, log_in
from tests.support.desk import ADMIN_PASSWORD, Desk
from tests.support.waiting import eventually

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def page(desk_sqlite: Desk) -> AsyncIterator[Any]:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1440, "height": 860},
                                            locale="ru-RU")
        try:
            yield await context.new_page()
        finally:
            await context.close()


async def test_an_agent_works_a_handoff_in_the_browser(desk_sqlite: Desk, page: Any) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        asyncio.ensure_future(dialog.dismiss())

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: errors.append(str(error)))

    # log in: /desk sends a stranger to the login page
    await page.goto(f"{desk.url}/desk")
    await expect(page).to_have_url(f"{desk.url}/desk/login")
    await page.fill("#username", "admin")
    await page.fill("#password", "wrong password")
    await page.click("#submit")
    await expect(page.locator("#error")).to_contain_text("Неверный")
    await page.fill("#password", ADMIN_PASSWORD)
    await page.click("#submit")
    await expect(page).to_have_url(f"{desk.url}/desk")
    await expect(page.locator("#live")).to_have_class("live on")
    await expect(page.locator("#waiting .item")).to_have_count(0)

    # subscribers write while the page is open: their handoffs appear without a reload
    # (the NLU is down in this app: keywords answer the first and the third, so they ask for a
    # person as well; the second escalates at once on its strong negativity)
    user = new_user()
    await desk.say(user, "Не работает мобильный интернет в Польше, помогите")
    answer = await desk.say(user, payload="/human_request")
    await desk.say(new_user(), "I hate you, worst service ever, this is a scam!!!", lang="en")
    third = new_user()
    await desk.say(third, "Як даведацца баланс?", lang="be")
    await desk.say(third, payload="/human_request", lang="be")
    await expect(page.locator("#waiting .item")).to_have_count(3)
    item = page.locator(f'#waiting .item[data-conversation="{answer["conversation_id"]}"]')
    await expect(item).to_contain_text("Не работает мобильный интернет")

    # claim it, then the subscriber sends markup: it is shown as text
    await item.click()
    await expect(page.locator("#claim")).to_be_enabled()
    await page.click("#claim")
    await expect(page.locator("#conv-status")).to_contain_text("admin")
    await desk.say(user, XSS)
    transcript = page.locator("#transcript")
    await expect(transcript).to_contain_text(XSS)
    assert await transcript.locator("img").count() == 0
    assert await page.locator("img").count() == 0

    # reply: it reaches the subscriber through the web chat
    await page.fill("#reply", "Здравствуйте! Перезагрузите телефон и включите роуминг данных.")
    await page.click("#send")
    await expect(transcript).to_contain_text("Перезагрузите телефон")

    async def agent_reply() -> dict[str, Any] | None:
        update = await desk.updates(user, answer["cursor"], wait=1)
        texts = [r["text"] for r in update["replies"] if r["sender"] == "agent"]
        return update if any("Перезагрузите" in t for t in texts) else None

    await eventually(agent_reply)
    await page.fill("#note", "Проверить настройки APN, если не поможет")
    await page.click("#note-form button")
    await expect(page.locator("#notes")).to_contain_text("APN")

    # the service-level bar follows the queue
    await expect(page.locator("#stats")).to_contain_text("обращений: 3")

    # the screenshot for the README, with the conversation open
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    await page.screenshot(path=str(artifacts / "desk.png"))

    # the English interface
    await page.click("#lang")
    await expect(page.locator(".brand")).to_contain_text("Agent desk")
    await expect(page.locator("#claim")).to_have_text("Claim")

    # close: the subscriber is asked for a rating
    await page.fill("#resolution", "roaming data was off")
    await page.click("#close")
    await expect(page.locator("#conv-status")).to_contain_text("closed")
    await expect(page.locator("#active .item")).to_have_count(0)

    async def rating_question() -> dict[str, Any] | None:
        update = await desk.updates(user, answer["cursor"], wait=1)
        return update if any("от 1" in r["text"] for r in update["replies"]) else None

    await eventually(rating_question)
    assert dialogs == [], "a subscriber's markup must never run"
    assert errors == [], errors


async def log_in_as_admin(page: Any, desk: Desk) -> None:
    await log_in(page, desk.url, "admin", ADMIN_PASSWORD)


async def test_the_card_shows_the_verified_customer_and_opens_their_earlier_conversation(
    desk_sqlite: Desk, page: Any
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    linked = await linked_customer(desk.services.db)
    await escalate(desk, linked.current)

    await log_in_as_admin(page, desk)
    await page.locator(f'#waiting .item[data-conversation="{linked.current}"]').click()
    card = page.locator("#card")
    await expect(card).to_contain_text(f"Посетитель веб-чата {identity_alias(linked.web)}")
    await expect(card).to_contain_text(READABLE)
    await expect(card).to_contain_text("SMS-код")
    others = page.locator("#other-identities")
    await expect(others).to_contain_text(f"Telegram {identity_alias(linked.telegram)} · Подтверждён")
    await expect(others).to_contain_text("контакт Telegram")
    recent = page.locator(f'#recent li[data-conversation="{linked.earlier}"]')
    await expect(recent).to_contain_text("Telegram")
    await expect(recent).to_contain_text("закрыт")
    await expect(recent).to_contain_text("был у сотрудника")
    body = await page.locator("body").inner_text()
    assert linked.web_user not in body and TELEGRAM_USER not in body

    await page.click("#lang")
    await expect(card).to_contain_text(f"Web visitor {identity_alias(linked.web)}")
    await expect(card).to_contain_text("SMS code")
    await expect(others).to_contain_text("Telegram contact")

    # a supervisor may open the earlier handoff: the card turns to the Telegram conversation
    await recent.get_by_role("button").click()
    await expect(page.locator("#conv-status")).to_contain_text("closed")
    await expect(card).to_contain_text(f"Telegram {identity_alias(linked.telegram)}")
    await expect(card).to_contain_text("Telegram contact")
    await expect(page.locator(f'#recent li[data-conversation="{linked.current}"]')).to_contain_text(
        "Web chat")
    assert errors == [], errors


async def test_an_agent_sees_a_supervisors_whisper_live(desk_sqlite: Desk, page: Any) -> None:
    from playwright.async_api import expect

    from tests.handoff.test_desk_api import escalated

    expect.set_options(timeout=10_000)
    desk = desk_sqlite
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    user, conversation, answer = await escalated(desk)
    anna = await desk.create_agent("anna")
    assert (await desk.post(anna, conversation, "claim")).status_code == 200

    await log_in(page, desk.url, "anna", "anna-password")
    await expect(page.locator("#monitor-link")).to_be_hidden()  # agents have no monitor
    await page.locator(f'#active .item[data-conversation="{conversation}"]').click()
    await expect(page.locator("#whisper")).to_be_hidden()

    admin = await desk.admin()
    whisper = f"Предложи пакет роуминга {XSS}"
    assert (await desk.post(admin, conversation, "whisper", {"text": whisper})).status_code == 201
    banner = page.locator("#whisper")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text(whisper)
    await expect(page.locator("#notes li.whisper")).to_contain_text("admin")
    assert await page.locator("img").count() == 0
    update = await desk.updates(user, answer["cursor"])
    assert not any("пакет роуминга" in r["text"] for r in update["replies"])
    assert errors == [], errors
