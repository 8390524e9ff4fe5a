"""The signal tester page: the form, the reading it shows (and the alert a reply completes), access
as the other organization pages (404 outside, login first), and form errors on their field."""

import re
from html import unescape

import pytest
from django.urls import reverse

from tests.factories import UserFactory, add_member, organization_with_admin

pytestmark = pytest.mark.django_db


def page_url(organization) -> str:
    return reverse("signals:tester", args=[organization.slug])


def _html(response) -> str:
    return unescape(response.content.decode())


def _card(html: str, testid: str) -> str:
    match = re.search(
        rf'<div class="card" data-testid="{testid}">(.*?)</div>\s*(?:<div class="card"|</main>)', html, re.S
    )
    assert match, f"no card {testid}"
    return match.group(1)


def _cell(card: str, testid: str) -> str:
    """The text of the table cell with this data-testid, tags dropped, blanks collapsed."""
    match = re.search(rf'<td data-testid="{testid}">(.*?)</td>', card, re.S)
    assert match, f"no cell {testid}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def member_client(client, organization):
    client.force_login(add_member(organization, role="viewer").user)
    return client


def test_the_page_shows_the_form(member_client, organization):
    response = member_client.get(page_url(organization))

    assert response.status_code == 200
    html = _html(response)
    assert '<textarea name="text"' in html and '<textarea name="reply_to"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'data-testid="reading"' not in html


def test_a_signal_is_shown_as_read(member_client, organization):
    text = "gold buy limit 2275\nsl 2268\ntp 2285\ntp 2295\ntp open"
    response = member_client.post(page_url(organization), {"text": text})

    assert response.status_code == 200
    reading = _card(_html(response), "reading")
    assert _cell(reading, "kind") == "open"
    assert _cell(reading, "side") == "buy"
    assert _cell(reading, "order-type") == "limit"
    assert _cell(reading, "symbol") == "XAUUSD (written gold)"
    assert _cell(reading, "entry") == "2275"
    assert _cell(reading, "sl") == "2268"
    assert _cell(reading, "targets") == "TP1 2285 TP2 2295 TP3 open/runner"
    assert re.fullmatch(r"\d{1,3}% A route holds .*", _cell(reading, "confidence"))
    assert text in _html(response)  # the message stays in the form, to edit and read again


def test_problems_are_shown_with_their_code(member_client, organization):
    reading = _card(_html(member_client.post(page_url(organization), {"text": "XAUUSD BUY NOW"})), "reading")

    assert _cell(reading, "entry") == "at market"
    assert "alert_only" in _cell(reading, "problems")
    assert "no stop loss or target written yet" in _cell(reading, "problems")


def test_a_change_shows_its_actions(member_client, organization):
    response = member_client.post(
        page_url(organization), {"text": "TP1 hit, close half and move SL to entry"}
    )

    reading = _card(_html(response), "reading")
    assert _cell(reading, "kind") == "modify"
    assert _cell(reading, "actions") == "1. close_partial 50% 2. breakeven"


def test_a_reply_shows_the_alert_it_completes(member_client, organization):
    response = member_client.post(
        page_url(organization),
        {"text": "Entry 4438-4433\nSL 4428\nTP1 4443\nTP2 4448", "reply_to": "GOLD BUY NOW"},
    )

    html = _html(response)
    reading = _card(html, "reading")
    assert _cell(reading, "kind") == "details"
    assert _cell(reading, "entry") == "zone 4433–4438"
    assert _cell(reading, "targets") == "TP1 4443 TP2 4448"
    alert = _card(html, "alert")
    assert "The alert it completes" in alert
    assert _cell(alert, "kind") == "open"
    assert _cell(alert, "side") == "buy"
    assert _cell(alert, "symbol") == "XAUUSD (written GOLD)"


def test_without_a_reply_no_alert_is_shown(member_client, organization):
    response = member_client.post(page_url(organization), {"text": "Entry 4438-4433\nSL 4428\nTP 4443"})

    html = _html(response)
    assert 'data-testid="alert"' not in html
    assert "no_alert" in _cell(_card(html, "reading"), "problems")


def test_a_blank_message_is_a_field_error(member_client, organization):
    response = member_client.post(page_url(organization), {"text": "  ", "reply_to": "GOLD BUY NOW"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"text": ["This field is required."]}
    assert 'data-testid="reading"' not in _html(response)


def test_a_user_outside_the_organization_gets_404(client, organization):
    client.force_login(organization_with_admin(UserFactory(), "Elsewhere").memberships.get().user)

    assert client.get(page_url(organization)).status_code == 404
    assert client.post(page_url(organization), {"text": "XAUUSD BUY NOW"}).status_code == 404


def test_a_member_without_view_accounts_gets_403(client, organization):
    client.force_login(add_member(organization, permissions={"view_organization"}).user)

    assert client.get(page_url(organization)).status_code == 403
    assert client.post(page_url(organization), {"text": "XAUUSD BUY NOW"}).status_code == 403


def test_anonymous_is_sent_to_log_in(client, organization):
    response = client.get(page_url(organization))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_the_organization_page_and_the_first_account_hint_link_to_the_tester(
    client, admin_user, organization
):
    client.force_login(admin_user)
    link = f'href="{page_url(organization)}"'

    assert link in _html(client.get(reverse("orgs:detail", args=[organization.slug])))
    assert link in _html(client.get(reverse("execution:accounts", args=[organization.slug])))
