from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.hubfixtures import Credentials, RunningHub, push, seed_batch

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, hub: RunningHub) -> Iterator[Page]:
    context = browser.new_context(base_url=hub.url)
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_log_in_see_the_site_and_acknowledge(
    page: Page, hub: RunningHub, http: httpx.Client, creds: Credentials
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    assert push(http, creds.agent, seed_batch()).status_code == 200

    page.goto("/")
    expect(page).to_have_url(f"{hub.url}/login")
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password").fill(creds.password)
    page.get_by_role("button", name="Log in").click()

    alarm = page.locator('tr[data-alarm="a1"]')
    expect(alarm.locator(".state")).to_have_text("unacknowledged")
    reading = page.locator('tr[data-device="freezer-1"]')
    expect(reading.locator(".value")).to_have_text("-12.25 °C")
    hostile = page.locator('tr[data-device="probe-x"] td[data-label="Device"]')
    expect(hostile).to_have_text("<script>alert('x')</script>")

    alarm.get_by_role("button", name="Acknowledge").click()
    expect(alarm.locator(".state")).to_have_text("acknowledged by ann")
    expect(alarm.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert dialogs == []
