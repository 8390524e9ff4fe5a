"""The live dashboard in headless Chromium against a live server (the embedded default: workers and
streaming in the server process). Nothing here reloads the page: a marker set on the window at the
start is still there at the end."""

import json
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from execution.accounts.services import risk_settings_set
from execution.broker.faults import simulated_faults_set
from tests.browser.conftest import off_the_loop, screenshot
from tests.factories import UserFactory, connected_simulated_account, organization_with_admin

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's

POST_JSON = """async ({url, body}) => {
  const token = (document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")) || "").split("=")[1];
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify(body),
  });
  return [response.status, await response.text()];
}"""


@pytest.fixture
def desk(transactional_db):
    """A trader's organization with one connected simulated account (BTCUSD trades around the clock),
    trading 0.02 lots."""

    def create():
        user = UserFactory()
        organization = organization_with_admin(user, name="Live Desk")
        account = connected_simulated_account(organization, name="Sim Demo", server="SimBroker-Demo")
        risk_settings_set(account=account, actor=None, mode="fixed", fixed_lots=Decimal("0.02"))
        return user, organization, account

    return off_the_loop(create)


def sign_in(page, server, user) -> None:
    page.goto(f"{server.url}/accounts/login/")
    page.fill('input[name="login"]', user.email)
    page.fill('input[name="password"]', PASSWORD)
    page.press('input[name="password"]', "Enter")
    page.wait_for_url(lambda url: "/accounts/login" not in url)


def open_dashboard(page, server, organization) -> None:
    page.goto(f"{server.url}/orgs/{organization.slug}/live/")
    page.evaluate("window.__sameDocument = 'not reloaded'")
    expect(page.get_by_test_id("live-connection")).to_have_text("Live")


def place_order(page, account) -> int:
    """A market BUY from the browser, through the API with the page's session (as a script would)."""
    url = f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/orders/"
    status, body = page.evaluate(POST_JSON, {"url": url, "body": {"symbol": "BTCUSD", "side": "buy"}})
    assert status == 202, body
    return json.loads(body)["id"]


def feed_entry(page, operation_id: int, event: str):
    return page.locator(f'#live-feed li[data-operation="{operation_id}"][data-event="{event}"]')


def test_a_trade_a_pause_and_the_recovery_show_live(page, ttmt_server, desk):
    user, organization, account = desk
    indicator = page.locator("#trading-status")
    positions = page.locator("#live-positions-body tr")
    shot = lambda step: screenshot(page, "dashboard", step)  # noqa: E731

    sign_in(page, ttmt_server, user)
    open_dashboard(page, ttmt_server, organization)
    expect(indicator).to_have_attribute("data-level", "green")
    row = page.get_by_test_id(f"account-{account.pk}")
    expect(row.locator('[data-field="balance"]')).to_have_text("10000.00")
    expect(row.locator('[data-field="connection"]')).to_contain_text("connected (streaming)")
    expect(page.locator("#live-positions-empty")).to_be_visible()
    shot("1-green")

    # a trade: the operation's progress, then the position (with its live profit) appear
    first = place_order(page, account)
    expect(feed_entry(page, first, "queued")).to_have_count(1)
    expect(feed_entry(page, first, "done")).to_have_count(1)
    expect(positions).to_have_count(1)
    expect(positions.first.locator('[data-field="symbol"]')).to_have_text("BTCUSD")
    expect(positions.first.locator('[data-field="profit"]')).not_to_have_text("–")
    expect(row.locator('[data-field="margin"]')).not_to_have_text("0.00")
    shot("2-position")

    # failures until the account pauses: red, with the time to the next test
    simulated_faults_set(account=account, scripted_errors=[10019, 10019], applies_to="trading")
    failing = [place_order(page, account), place_order(page, account)]
    for operation_id in failing:
        expect(feed_entry(page, operation_id, "failed")).to_contain_text("not enough money")
    expect(indicator).to_have_attribute("data-level", "red")
    expect(page.locator('#live-feed li[data-kind="safety"][data-to="paused"]')).to_have_count(1)
    expect(page.get_by_test_id(f"status-account-{account.pk}")).to_contain_text("paused, next test in")
    indicator.hover()
    expect(page.get_by_test_id("trading-status-breakdown")).to_contain_text("Sim Demo: paused")
    shot("3-red")

    # the cooldown ends: testing (yellow)
    expect(indicator).to_have_attribute("data-level", "yellow", timeout=20_000)
    expect(page.get_by_test_id(f"status-account-{account.pk}")).to_contain_text("testing after a pause")
    shot("4-yellow")

    # two successful operations resume trading: close the position from the page, then trade again
    positions.first.get_by_test_id("close-position").click()
    expect(page.get_by_test_id("live-action-result")).to_contain_text("Accepted: operation")
    expect(positions).to_have_count(0)
    expect(page.locator('#live-feed li[data-event="done"]', has_text="close position")).to_have_count(1)
    again = place_order(page, account)
    expect(feed_entry(page, again, "done")).to_have_count(1)
    expect(indicator).to_have_attribute("data-level", "green")
    expect(page.locator('#live-feed li[data-kind="safety"][data-to="trading"]')).to_have_count(1)
    expect(positions).to_have_count(1)
    shot("5-green-again")

    # the new position (0.02 lots): break-even goes through the pipeline (done, or refused by the
    # broker when the price is below the entry), SL/TP set, half closed, then the rest
    position = positions.first
    position.get_by_test_id("breakeven").click()
    outcome = page.locator(
        "#live-feed li[data-event=done], #live-feed li[data-event=failed]", has_text="breakeven"
    )
    expect(outcome).to_have_count(1)
    entry = Decimal(position.locator('[data-field="open_price"]').inner_text())
    sl, tp = (
        (entry * Decimal("0.5")).quantize(Decimal("0.01")),
        (entry * Decimal("1.5")).quantize(Decimal("0.01")),
    )
    position.get_by_test_id("sl-input").fill(str(sl))
    position.get_by_test_id("tp-input").fill(str(tp))
    position.get_by_test_id("set-sltp").click()
    expect(position.locator('[data-field="sl"]')).to_have_text(str(sl))
    expect(position.locator('[data-field="tp"]')).to_have_text(str(tp))
    expect(position.locator('[data-field="volume"]')).to_have_text(re.compile(r"^0\.020*$"))
    position.get_by_test_id("close-volume").fill("0.01")
    position.get_by_test_id("close-part").click()
    expect(position.locator('[data-field="volume"]')).to_have_text(re.compile(r"^0\.010*$"))
    position.get_by_test_id("close-position").click()
    expect(positions).to_have_count(0)
    shot("6-closed")

    assert page.evaluate("window.__sameDocument") == "not reloaded"
    errors = [m for m in page.console_messages if m.startswith(("error", "pageerror")) and "404" not in m]
    assert not errors, page.console_messages  # (a 404: the browser's own /favicon.ico)

    # the header indicator on any other page (status only)
    page.goto(f"{ttmt_server.url}/orgs/{organization.slug}/accounts/")
    expect(indicator).to_have_attribute("data-level", "green")
    indicator.hover()
    expect(page.get_by_test_id("trading-status-breakdown")).to_contain_text("Sim Demo: trading")
    shot("7-header")


def _open_position_elsewhere(account) -> str:
    """A position opened at the broker while the page is away (another terminal, another process)."""
    from asgiref.sync import async_to_sync

    from execution.broker.gateways.base import OrderKind, OrderRequest, Side
    from execution.broker.registry import gateway_for

    async def place():
        gateway = gateway_for(account)
        await gateway.connect()
        request = OrderRequest("BTCUSD", Side.SELL, OrderKind.MARKET, Decimal("0.02"))
        return (await gateway.place_order(request)).position_id

    return async_to_sync(place)()


def test_after_a_dropped_connection_the_page_reconnects_and_resyncs(page, ttmt_server, desk):
    user, organization, account = desk
    sign_in(page, ttmt_server, user)
    open_dashboard(page, ttmt_server, organization)
    expect(page.locator("#live-positions-empty")).to_be_visible()

    ttmt_server.stop()
    connection = page.get_by_test_id("live-connection")
    expect(connection).to_have_attribute("data-state", "reconnecting")
    expect(connection).to_contain_text("reconnecting")
    screenshot(page, "reconnect", "1-reconnecting")

    position_id = off_the_loop(_open_position_elsewhere, account)

    ttmt_server.start()
    expect(connection).to_have_text("Live", timeout=30_000)
    expect(page.get_by_test_id(f"position-{position_id}")).to_be_visible()
    expect(page.get_by_test_id(f"position-{position_id}").locator('[data-field="side"]')).to_have_text("sell")
    screenshot(page, "reconnect", "2-resynced")
    assert page.evaluate("window.__sameDocument") == "not reloaded"


def test_a_viewer_sees_the_dashboard_without_trading_controls(page, ttmt_server, desk):
    from orgs import permissions as perms
    from tests.factories import add_member

    _, organization, account = desk
    viewer = add_member(organization, role=perms.VIEWER).user
    sign_in(page, ttmt_server, viewer)
    open_dashboard(page, ttmt_server, organization)
    expect(page.get_by_test_id(f"account-{account.pk}")).to_be_visible()
    expect(page.locator("#trading-status")).to_have_attribute("data-level", "green")
    expect(page.get_by_test_id("close-position")).to_have_count(0)
    expect(page.locator("#live-positions-empty")).to_be_visible()


def test_a_routed_signal_s_trade_reaches_tp1_and_moves_to_breakeven_live(page, ttmt_server, desk):
    """The issue's "done when": a routed 3-TP signal on the simulated market, the market scripted
    through TP1, the other two positions at breakeven on the page, the steps in the feed."""
    from execution.broker.market import simulated_market_set
    from tests.execution.signals import factories as signal_factories

    user, organization, account = desk

    def prepare():
        risk_settings_set(account=account, actor=None, mode="fixed", fixed_lots=Decimal("0.03"))
        simulated_market_set(platform=account.platform, instrument="BTCUSD", move_to=65000, over_seconds=0)
        source = signal_factories.source(organization, name="VIP")
        signal_factories.route(source, account)
        return source

    source = off_the_loop(prepare)
    positions = page.locator("#live-positions-body tr")
    sign_in(page, ttmt_server, user)
    open_dashboard(page, ttmt_server, organization)

    url = f"/api/v1/orgs/{organization.slug}/signal-sources/{source.pk}/messages/"
    message = {"text": "BUY BTCUSD now\nSL 63500\nTP1 65400\nTP2 65800\nTP3 66200"}
    status, body = page.evaluate(POST_JSON, {"url": url, "body": message})
    assert status == 201, body
    expect(positions).to_have_count(3)
    trade = page.locator("#live-trades-body tr")
    expect(trade).to_have_count(1)
    expect(trade.locator('[data-field="next"]')).to_contain_text("breakeven to entry + 2 pips at TP1")
    screenshot(page, "protection", "1-trade")

    off_the_loop(
        simulated_market_set, platform=account.platform, instrument="BTCUSD", move_to=65450, over_seconds=1
    )
    expect(positions).to_have_count(2)  # TP1 closed its position
    for index in range(2):  # entry + 2 pips (a BTCUSD pip is 1.0)
        row = positions.nth(index)
        entry = Decimal(row.locator('[data-field="open_price"]').inner_text())
        expect(row.locator('[data-field="sl"]')).to_have_text(str(entry + 2))
    expect(trade.locator('[data-field="reached"]')).to_have_text("TP1")
    expect(trade.locator('[data-field="next"]')).to_contain_text(
        "stop loss at breakeven (entry + 2 pips), confirmed"
    )
    steps = page.locator('#live-feed li[data-kind="protection"]')
    expect(steps.filter(has_text="TP1 reached: ")).to_have_count(1)
    expect(steps.filter(has_text="Breakeven (entry ± 2) requested")).to_have_count(1)
    expect(page.locator('#live-feed li[data-event="done"]', has_text="manage trade")).to_have_count(1)
    screenshot(page, "protection", "2-breakeven")
    assert page.evaluate("window.__sameDocument") == "not reloaded"
