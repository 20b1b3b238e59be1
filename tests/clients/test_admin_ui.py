"""The admin UI in a real browser: Debian's Chromium, headless, driven by Playwright.

One walk through the UI per database (SQLite, and PostgreSQL when
``SWITCHYARD_TEST_DATABASE_URL`` names one): log in by keyboard, create a key with a budget by
keyboard, call a model with that key, see the call's spend in the spend log, block the key from
the keys page and see the next call refused (401, as the admin API documents a blocked key),
visit every page; a screenshot of each page is saved under ``target/ui-screenshots/``. Also
checked in the browser: Chromium keeps the ``Secure`` session cookie on http://127.0.0.1 (a
secure context), scripts cannot read it (``HttpOnly``), and nothing is kept in web storage.

Playwright's own browser download is never used: ``scripts/services.sh`` installs Debian's
``chromium``, launched here by path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import uuid
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import MASTER_KEY, Gateway

CHROMIUM = os.environ.get("SWITCHYARD_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "target" / "ui-screenshots"
MODEL = "ui-echo"
# How long the UI may take to show what the gateway has written (the spend writer batches).
SHOWN_WITHIN_MS = 15_000


def ui_config() -> str:
    return (
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params: {model: mock/echo, input_cost_per_token: 0.000001, "
        "output_cost_per_token: 0.000002}\n"
        "    model_info: {id: ui-echo-mock}\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
    )


DATABASES = ["sqlite"] + (["postgres"] if os.environ.get("SWITCHYARD_TEST_DATABASE_URL") else [])


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdin=subprocess.DEVNULL, timeout=30)


@pytest.fixture(params=DATABASES)
def ui_gateway(request: pytest.FixtureRequest, launch_gateway: Callable[..., Gateway]) -> Iterator[Gateway]:
    env = {}
    schema = None
    if request.param == "postgres":
        # A schema of this test's own, so that what other runs left in the database is not seen.
        server = os.environ["SWITCHYARD_TEST_DATABASE_URL"]
        schema = f"switchyard_ui_{uuid.uuid4().hex[:12]}"
        psql(server, f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in server else "?"
        env["DATABASE_URL"] = f"{server}{separator}options=-c%20search_path%3D{schema}"
    gateway = launch_gateway(ui_config(), env=env)
    gateway.database = request.param  # type: ignore[attr-defined]
    try:
        yield gateway
    finally:
        if schema:
            gateway.stop()
            psql(os.environ["SWITCHYARD_TEST_DATABASE_URL"], f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def page() -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/services.sh installs Debian's chromium")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        # Everything the page loads must come from the gateway itself.
        page.requests_seen = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requests_seen.append(r.url))  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()
            browser.close()


def chat(gateway: Gateway, key: str) -> tuple[int, dict, dict]:
    """A chat call with ``key``: status, headers and JSON body."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hello from the UI test"}]})
    request = urllib.request.Request(
        f"{gateway.base_url}/v1/chat/completions",
        data=body.encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.load(err)


def screenshot(page: Page, gateway: Gateway, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{gateway.database}-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def focused_id(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_admin_ui_walkthrough(ui_gateway: Gateway, page: Page) -> None:
    gateway = ui_gateway
    page.goto(f"{gateway.base_url}/ui")
    expect(page.get_by_label("Master key")).to_be_visible()
    screenshot(page, gateway, "login")

    # Every input, select and the config view has a label.
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input, select')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                 .map(e => e.id)"""
    )
    assert unlabeled == []

    # Log in by keyboard: the key field has the focus, Tab reaches the login button.
    assert focused_id(page) == "master-key"
    page.keyboard.type("sk-wrong-key")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Wrong master key.")
    page.get_by_label("Master key").focus()
    page.keyboard.type(MASTER_KEY)
    page.keyboard.press("Tab")
    assert focused_id(page) == "login-button"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # The session cookie: kept by Chromium on http://127.0.0.1 although Secure, unreadable by
    # scripts, strict; nothing in web storage, no key in the URL.
    cookies = [c for c in page.context.cookies() if c["name"] == "switchyard_ui_session"]
    assert len(cookies) == 1
    assert cookies[0]["secure"] and cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert cookies[0]["path"] == "/ui"
    assert MASTER_KEY not in cookies[0]["value"]
    assert "switchyard_ui_session" not in page.evaluate("document.cookie")
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert MASTER_KEY not in page.url

    # Create a key with a budget, by keyboard only.
    page.get_by_role("link", name="Keys").click()
    expect(page.get_by_role("heading", name="Virtual keys")).to_be_visible()
    page.get_by_label("Alias").focus()
    page.keyboard.type("ui-test")
    page.keyboard.press("Tab")
    assert focused_id(page) == "key-budget"
    page.keyboard.type("5")
    page.keyboard.press("Tab")
    page.keyboard.type("100")  # rpm
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # tpm left empty
    assert focused_id(page) == "key-models"
    page.keyboard.type(MODEL)
    page.keyboard.press("Tab")
    assert focused_id(page) == "key-create"
    page.keyboard.press("Enter")
    secret_box = page.locator("#key-secret-value")
    expect(secret_box).to_have_text(lambda_text_starting("sk-"))
    secret = secret_box.inner_text()
    row = page.locator("#keys-table tbody tr", has_text="ui-test")
    expect(row).to_have_count(1)
    key_id = row.get_attribute("data-key")
    assert key_id and key_id.startswith("key-")
    expect(row).to_contain_text(MODEL)
    expect(row).to_contain_text("5.000000")  # the budget
    expect(row).to_contain_text("active")
    assert secret not in row.inner_text()  # the secret is shown once, above, never in the list
    screenshot(page, gateway, "keys")

    # A call with the key; its spend appears in the spend log.
    status, headers, body = chat(gateway, secret)
    assert status == 200, body
    call_id = body["id"]
    page.get_by_role("link", name="Spend log").click()
    page.get_by_label("Key id").fill(key_id)
    spend_row = page.locator("#spend-table tbody tr", has_text=call_id)
    # The spend writer batches: filter again until the call's record is there (bounded).
    expect_eventually(page, lambda: page.get_by_role("button", name="Filter").click(), spend_row)
    cells = spend_row.locator("td")
    assert float(cells.nth(6).inner_text()) > 0  # the spend
    expect(cells.nth(3)).to_have_text(MODEL)
    screenshot(page, gateway, "spend")

    # Block the key on the keys page; the next call is refused as the admin API documents a
    # blocked key (401).
    page.get_by_role("link", name="Keys").click()
    row = page.locator(f"#keys-table tbody tr[data-key='{key_id}']")
    row.get_by_role("button", name="Block").click()
    expect(row).to_contain_text("blocked")
    status, _, body = chat(gateway, secret)
    assert status == 401, body
    assert "blocked" in body["error"]["message"]

    # The other pages.
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#overview-totals")).to_contain_text("Requests")
    expect(page.locator("#overview-charts figure")).to_have_count(6)
    expect(page.locator("#overview-charts polyline").first).to_be_attached()
    screenshot(page, gateway, "overview")
    page.get_by_role("link", name="Users & teams").click()
    expect(page.get_by_role("table", name="Users")).to_be_visible()
    screenshot(page, gateway, "accounts")
    page.get_by_role("link", name="Deployments").click()
    expect(page.get_by_role("heading", name="Live deployments")).to_be_focused()
    deployment = page.locator("#deployments-table tbody tr", has_text="ui-echo-mock")
    expect(deployment).to_have_count(1)
    expect(deployment).to_contain_text("ui-echo")
    # It refreshes on its own: the time of the last update changes without any action.
    updated = page.locator("#deployments-updated")
    expect(updated).to_have_text(re.compile("^Updated "))
    first_update = updated.inner_text()
    expect(updated).not_to_have_text(first_update, timeout=12_000)
    screenshot(page, gateway, "deployments")
    page.get_by_role("link", name="Config").click()
    expect(page.locator("#config-text")).to_contain_text('"master_key": "[redacted]"')
    assert MASTER_KEY not in page.locator("#config-text").inner_text()
    screenshot(page, gateway, "config")

    # Nothing came from anywhere but the gateway.
    assert all(url.startswith(gateway.base_url) for url in page.requests_seen), page.requests_seen  # type: ignore[attr-defined]

    # Log out: the session ends, a reload shows the login form.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Master key")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Master key")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()


def lambda_text_starting(prefix: str):
    return re.compile("^" + re.escape(prefix) + r"\S+$")


def expect_eventually(page: Page, act: Callable[[], None], locator, attempts: int = 30) -> None:
    """Runs ``act`` until ``locator`` shows up, each time waiting (on the page, not a sleep) up
    to half a second for it; fails after ``attempts``."""
    for _ in range(attempts):
        act()
        try:
            locator.wait_for(state="visible", timeout=500)
            return
        except Exception:  # noqa: BLE001 - Playwright's timeout: try again
            continue
    raise AssertionError(f"{locator} did not appear after {attempts} attempts")
