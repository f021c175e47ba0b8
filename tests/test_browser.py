"""The demo page in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright through its executable path) against the local server, backed by the fake model
and fake Mojang servers. Screenshots go to test-artifacts/ (and to docs/demo.png when
UPDATE_SCREENSHOT=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local.server import LocalServer, running
from tests.conftest import ROOT, TEMPLATE, TUTORIAL, TUTORIAL_STATUSES
from tests.fakes import model_server as fake_model
from tests.fakes.mojang_server import MERRYDITH_UUID, Fault

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ARTIFACTS = ROOT / "test-artifacts"
# The flags this machine's documentation gives for Chromium in a sandbox with a closed
# network: without the background-networking ones, Chromium keeps dialling Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ANSWER_TIMEOUT_MS = 30_000


def chromium_executable() -> str:
    """Debian's chromium: installed here if missing and allowed (root, apt-get), else skip."""
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-qq"], check=True, env=env, timeout=600)  # noqa: S603
        subprocess.run(  # noqa: S603 - fixed arguments
            [apt, "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=900
        )
        found = shutil.which("chromium")
    if not found:
        pytest.skip("no chromium: install Debian's chromium package (make browser does)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_executable()
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(app_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    # No retries inside the model adapter: a scripted 503 reaches the page at once.
    monkeypatch.setenv("MODEL_MAX_RETRIES", "0")
    with running(TEMPLATE) as local:
        yield local


class Page:
    """A browser tab on the demo page, recording console errors."""

    def __init__(self, browser: Any, url: str, width: int = 1000, height: int = 860) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.input = self.page.get_by_label("Your question")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def ask(self, question: str) -> None:
        self.input.fill(question)
        self.input.press("Enter")

    def wait_for_answer(self, containing: str, index: int = 0) -> str:
        answer = self.page.locator(".mcw-bot").nth(index)
        answer.filter(has_text=containing).wait_for(timeout=ANSWER_TIMEOUT_MS)
        return str(answer.inner_text())

    def trail(self, index: int = -1) -> list[str]:
        trails = self.page.locator(".mcw-trail")
        turn = trails.nth(index if index >= 0 else trails.count() + index)
        statuses: list[str] = turn.locator("li").evaluate_all(
            "items => items.map(item => item.dataset.status)"
        )
        return statuses

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    pages: list[Page] = []

    def open_(url: str, **size: int) -> Page:
        page = Page(browser, url, **size)
        pages.append(page)
        return page

    yield open_
    for page in pages:
        page.close()


def test_tutorial_question_in_chat_mode(server: LocalServer, open_page: Any) -> None:
    # Given the demo page, asking through POST /chat
    page = open_page(f"{server.url}/?mode=chat")
    # When the tutorial question is typed and Enter pressed
    page.ask(TUTORIAL)
    # Then the answer names merrydith's UUID, after the whole status trail
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.trail() == TUTORIAL_STATUSES
    trail_text = page.page.locator(".mcw-trail").inner_text()
    assert "calling the Mojang API: get_uuid_from_username(merrydith)" in trail_text
    # And the tool call opens to show what the Mojang API answered
    details = page.page.locator(".mcw-tools")
    assert details.locator("summary").inner_text() == "1 Mojang API call"
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    assert '"found":true' in details.inner_text().replace(" ", "")
    # And a follow-up question sends the history along
    page.ask("and what is the uuid of jeb_?")
    page.wait_for_answer("853c80ef", index=1)
    assert page.errors == []
    shot = page.screenshot("demo.png")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, ROOT / "docs" / "demo.png")


def test_runs_mode_falls_back_to_chat_without_a_runs_api(
    server: LocalServer, open_page: Any
) -> None:
    page = open_page(f"{server.url}/?mode=runs")
    # Given an API that has no runs routes
    page.page.route(
        "**/v1/threads/runs",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"message":"Not Found"}'
        ),
    )
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.trail() == TUTORIAL_STATUSES


def test_tutorial_question_in_runs_mode(
    server: LocalServer, open_page: Any, mojang_server: Any
) -> None:
    # Given a Mojang API slow enough that every status outlasts a poll (polling sees only
    # the statuses that last until the next poll)
    mojang_server.inject(Fault.hanging(1.5))
    page = open_page(f"{server.url}/?mode=runs")
    page.ask(TUTORIAL)
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    trail = page.trail()
    assert trail[0] == "queued"
    assert "requires_action" in trail
    assert trail[-1] == "completed"
    assert set(trail) <= set(TUTORIAL_STATUSES)
    trail_text = page.page.locator(".mcw-trail").inner_text()
    assert "calling the Mojang API: get_uuid_from_username(merrydith)" in trail_text
    assert page.page.locator(".mcw-tools summary").inner_text() == "1 Mojang API call"
    assert page.errors == []
    page.screenshot("demo-runs.png")


def test_errors_are_readable_and_retry_resends(
    server: LocalServer, open_page: Any, model_server: Any
) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    # Given a model server that is overloaded once
    model_server.script(fake_model.overloaded())
    page.ask(TUTORIAL)
    alert = page.page.locator(".mcw-error")
    alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert "The server could not answer (503): the model server is overloaded" in (
        alert.inner_text()
    )
    # When Retry is pressed, the same question goes again and is answered
    alert.get_by_role("button", name="Retry").click()
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    assert page.page.locator(".mcw-error").count() == 0
    assert page.page.locator(".mcw-user").all_inner_texts() == [TUTORIAL]

    # Given API Gateway throttling the next request
    page.page.route(
        "**/chat",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "7", "Access-Control-Expose-Headers": "Retry-After"},
            content_type="application/json",
            body='{"message":"Too Many Requests"}',
        ),
        times=1,
    )
    page.ask("who is jeb_?")
    page.page.locator(".mcw-error").wait_for()
    assert "Too many requests. Try again in 7 s." in page.page.locator(".mcw-error").inner_text()
    # And the network down for the one after
    page.page.locator(".mcw-error button").click()
    page.wait_for_answer("853c80ef", index=1)
    page.page.route("**/chat", lambda route: route.abort("internetdisconnected"), times=1)
    page.ask("who is Notch?")
    page.page.locator(".mcw-error").wait_for()
    assert "Cannot reach the chat server" in page.page.locator(".mcw-error").inner_text()
    page.screenshot("demo-errors.png")


def test_phone_width_has_no_horizontal_scroll(server: LocalServer, open_page: Any) -> None:
    page = open_page(f"{server.url}/?mode=chat", width=360, height=740)
    page.ask(TUTORIAL)
    page.wait_for_answer(MERRYDITH_UUID)
    page.page.locator(".mcw-tools summary").click()
    widths = page.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] == 360
    page.screenshot("demo-phone.png")


def test_keyboard_only(server: LocalServer, open_page: Any) -> None:
    page = open_page(f"{server.url}/?mode=chat")
    # Tab through the page until the question field has the focus
    for _ in range(10):
        page.page.keyboard.press("Tab")
        if page.page.evaluate("() => document.activeElement.id").startswith("mcw-input"):
            break
    else:
        pytest.fail("Tab never reached the question field")
    page.page.keyboard.type(TUTORIAL)
    page.page.keyboard.press("Enter")
    assert MERRYDITH_UUID in page.wait_for_answer(MERRYDITH_UUID)
    # The answer is announced to screen readers through the live status region
    live = page.page.locator(".mcw-sr[aria-live=polite]")
    assert MERRYDITH_UUID in live.inner_text()
    assert page.errors == []


def test_without_a_model_the_page_says_what_to_set(open_page: Any) -> None:
    # Given the local server with no model configured at all
    with running(TEMPLATE) as local:
        page = open_page(f"{local.url}/")
        # Then the banner says what to set
        banner = page.page.locator(".banner")
        assert "OPENAI_API_KEY" in banner.inner_text()
        # And asking anyway answers with the same advice, not a stack trace
        page.ask(TUTORIAL)
        alert = page.page.locator(".mcw-error")
        alert.wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert "OPENAI_API_KEY" in alert.inner_text()
        assert "Traceback" not in alert.inner_text()
        page.screenshot("demo-no-model.png")
