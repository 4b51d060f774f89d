"""Debian's Chromium driven by Playwright (no browser downloads on these machines)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import Browser, async_playwright

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("ABONENT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise RuntimeError("Chromium is missing: `make browser` installs Debian's chromium")
    return path


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in on the desk's login page and land on the desk."""
    await page.goto(f"{base_url}/desk/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_url(f"{base_url}/desk")


async def new_page(browser: Browser, **options: Any) -> tuple[Any, Any]:
    """A fresh context (a desktop window, Russian locale unless ``options`` say otherwise) and
    its page: (context, page); close the context afterwards."""
    context = await browser.new_context(
        **{"viewport": {"width": 1440, "height": 900}, "locale": "ru-RU", **options}
    )
    return context, await context.new_page()
