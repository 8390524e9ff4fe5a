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


# --- a route's dry run ---------------------------------------------------------------------------


@pytest.fixture
def route(organization):
    from tests.execution.signals import factories
    from tests.factories import connected_simulated_account

    source = factories.source(organization, name="Gold VIP")
    return factories.route(source, connected_simulated_account(organization), keywords={"kopen": "buy"})


def _options(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {field}"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_the_route_select_lists_the_organizations_routes_only(member_client, organization, route):
    from tests.execution.signals import factories
    from tests.factories import connected_simulated_account

    elsewhere = organization_with_admin(UserFactory(), "Elsewhere")
    factories.route(factories.source(elsewhere), connected_simulated_account(elsewhere, login="9001"))

    html = _html(member_client.get(page_url(organization)))

    assert _options(html, "route") == ["", str(route.pk)]
    assert "Gold VIP → Demo" in html


def test_a_chosen_route_shows_its_dry_run_besides_the_reading(
    member_client, organization, route, monkeypatch
):
    from execution.signals import intake

    calls = []

    def fake_dry_run(*, route, text, reply_to=None):
        calls.append((route.pk, text, reply_to))
        return intake.DryRun(
            reading={"kind": "open"},
            outcome="rejected",
            code="SL_TOO_FAR",
            reason="The SL is 900 pips from the entry.",
            steps=[
                {"stage": "parse", "result": "passed", "code": "", "message": "Read as open buy XAUUSD."},
                {"stage": "sl_distance", "result": "failed", "code": "SL_TOO_FAR", "message": "900 pips."},
            ],
            operations=[{"kind": "open_trade", "params": {"symbol": "XAUUSD", "tps": ["2285"]}}],
        )

    monkeypatch.setattr(intake, "dry_run", fake_dry_run)
    text = "GOLD kopen 2275\nSL 1375\nTP 2285"
    response = member_client.post(page_url(organization), {"text": text, "route": route.pk, "reply_to": ""})

    assert response.status_code == 200
    assert calls == [(route.pk, text, None)]
    html = _html(response)
    dry_run = _card(html, "dry-run")
    assert _cell(dry_run, "dry-run-outcome") == "Rejected by a check SL_TOO_FAR"
    assert _cell(dry_run, "dry-run-reason") == "The SL is 900 pips from the entry."
    assert _cell(dry_run, "dry-run-stopping") == "sl_distance: 900 pips."
    assert (
        "Read as open buy XAUUSD." in dry_run and "open_trade" in dry_run and '"symbol": "XAUUSD"' in dry_run
    )
    reading = _card(html, "reading")  # read with the route's own words: "kopen" is buy
    assert _cell(reading, "kind") == "open" and _cell(reading, "side") == "buy"


def test_the_dry_run_is_the_intakes(member_client, organization, route):
    response = member_client.post(
        page_url(organization), {"text": "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285", "route": route.pk}
    )

    assert response.status_code == 200
    dry_run = _card(_html(response), "dry-run")
    assert re.search(r'data-outcome="(opened|rejected|skipped|held|waiting|ignored|applied)"', dry_run)
    assert 'data-testid="trace"' in dry_run


def test_without_a_route_there_is_no_dry_run(member_client, organization, route):
    html = _html(member_client.post(page_url(organization), {"text": "XAUUSD BUY NOW"}))
    assert 'data-testid="dry-run"' not in html and 'data-testid="reading"' in html


def test_another_organizations_route_is_not_a_choice(member_client, organization):
    from tests.execution.signals import factories
    from tests.factories import connected_simulated_account

    elsewhere = organization_with_admin(UserFactory(), "Elsewhere")
    theirs = factories.route(
        factories.source(elsewhere), connected_simulated_account(elsewhere, login="9001")
    )

    response = member_client.post(page_url(organization), {"text": "XAUUSD BUY NOW", "route": theirs.pk})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["route"]
