"""The signal feed in headless Chromium against a live server: a message posted into a manual
source appears at the top of the feed, with its route's outcome, without a reload."""

import re

from playwright.sync_api import expect

from execution.signals import services
from tests.browser.conftest import off_the_loop, screenshot
from tests.browser.test_live_dashboard import POST_JSON, desk, sign_in  # noqa: F401 (desk: a fixture)


def test_a_posted_message_appears_in_the_feed_without_a_reload(page, ttmt_server, desk):  # noqa: F811
    user, organization, account = desk

    def create():
        source, _ = services.source_create(organization=organization, name="Pasted", kind="manual")
        services.route_create(organization=organization, source=source, account=account)
        return source

    source = off_the_loop(create)
    sign_in(page, ttmt_server, user)
    page.goto(f"{ttmt_server.url}/orgs/{organization.slug}/signals/")
    page.evaluate("window.__sameDocument = 'not reloaded'")
    expect(page.get_by_test_id("signal-live")).to_have_text("Live.")

    url = f"/api/v1/orgs/{organization.slug}/signal-sources/{source.pk}/messages/"
    status, body = page.evaluate(
        POST_JSON, {"url": url, "body": {"text": "BTCUSD BUY NOW\nSL 1000\nTP 999999"}}
    )
    assert status == 201, body

    row = page.locator("#signal-feed tr[data-signal]").first
    expect(row).to_contain_text("BTCUSD BUY NOW")
    expect(row.get_by_test_id("outcomes")).to_contain_text(account.name)
    trace = re.compile(rf"^/orgs/{organization.slug}/signals/decisions/\d+/$")
    expect(row.locator("a", has_text="trace")).to_have_attribute("href", trace)
    assert page.evaluate("window.__sameDocument") == "not reloaded"
    screenshot(page, "signal_feed", "posted")
