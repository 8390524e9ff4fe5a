"""The signal pages: sources (a webhook source's credentials shown once, right after its creation or
rotation), routes, posting into a manual source, the feed, a decision's trace; the same permissions
as the API, and another organization's objects are 404 with nothing changed."""

import re
from html import unescape

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from execution.orders.accept import order_place
from execution.signals.models import Route, Signal, SignalSource
from tests.execution.signals import factories
from tests.factories import add_member, connected_simulated_account

pytestmark = pytest.mark.django_db

OPEN = "GOLD BUY LIMIT 2275\nSL 2268\nTP 2285"


def page(name, organization, *args) -> str:
    return reverse(f"signals:{name}", args=[organization.slug, *args])


def _html(response) -> str:
    return unescape(response.content.decode())


def _row(html: str, testid: str) -> str:
    match = re.search(rf'<tr data-testid="{re.escape(testid)}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row {testid}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def manual(organization):
    return factories.source(organization)


def _login(client, organization, **membership):
    """``client`` logged in as a new member (a client of its own when ``client`` is already used)."""
    if "_auth_user_id" in client.session:
        client = Client()
    client.force_login(add_member(organization, **membership).user)
    return client


# --- sources -------------------------------------------------------------------------------------


def test_the_sources_page_lists_sources_and_offers_the_form_to_managers(
    admin_client, client, organization, manual
):
    html = _html(admin_client.get(page("sources", organization)))
    assert manual.name in _row(html, f"source-{manual.pk}")
    assert 'data-testid="source-form"' in html

    viewer = _login(client, organization, role="viewer")
    html = _html(viewer.get(page("sources", organization)))
    assert manual.name in html and 'data-testid="source-form"' not in html
    assert viewer.post(page("sources", organization), {"name": "X", "kind": "manual"}).status_code == 403


def test_a_manual_source_is_created_and_opened(admin_client, organization):
    response = admin_client.post(
        page("sources", organization),
        {"name": "Pasted", "kind": "manual", "recording": "demo", "max_age_seconds": 300},
    )

    source = SignalSource.objects.get()
    assert response.status_code == 302 and response.url == page("source", organization, source.pk)
    assert (source.kind, source.recording) == ("manual", "")


def test_a_webhook_sources_credentials_are_shown_once(admin_client, organization):
    response = admin_client.post(
        page("sources", organization), {"name": "Hook", "kind": "webhook", "max_age_seconds": 300}
    )

    assert response.status_code == 200
    source = SignalSource.objects.get()
    html = _html(response)
    secret = source.signing_secret
    token = re.search(rf"/hooks/signals/{source.public_id}/([^/<\s]+)/", html).group(1)
    assert secret in html and 'data-testid="secrets"' in html
    assert "no-store" in response["Cache-Control"]

    for later in (
        page("source", organization, source.pk),
        page("sources", organization),
        page("feed", organization),
        page("tester", organization),
    ):
        again = _html(admin_client.get(later))
        assert secret not in again and token not in again, later
    detail = _html(admin_client.get(page("source", organization, source.pk)))
    assert f"/hooks/signals/{source.public_id}/" in detail and "webhook-signature" in detail


def test_rotating_shows_new_credentials_once(admin_client, organization):
    source, first = factories.webhook_source(organization)

    html = _html(admin_client.post(page("source_rotate", organization, source.pk)))

    source.refresh_from_db()
    assert source.signing_secret in html and first["signing_secret"] not in html
    assert source.signing_secret not in _html(admin_client.get(page("source", organization, source.pk)))


def test_rotating_a_manual_source_says_why_not(admin_client, organization, manual):
    response = admin_client.post(page("source_rotate", organization, manual.pk), follow=True)
    assert "Only a webhook source" in _html(response)


def test_a_duplicate_name_is_an_error_on_its_field(admin_client, organization, manual):
    response = admin_client.post(
        page("sources", organization), {"name": manual.name, "kind": "manual", "max_age_seconds": 300}
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"name": ["A source with this name already exists."]}


def test_a_source_is_edited_and_removed(admin_client, organization, manual):
    response = admin_client.post(
        page("source_edit", organization, manual.pk),
        {"name": "Renamed", "state": "paused", "max_age_seconds": 60},
    )
    assert response.status_code == 302
    manual.refresh_from_db()
    assert (manual.name, manual.state, manual.max_age_seconds) == ("Renamed", "paused", 60)

    assert admin_client.post(page("source_delete", organization, manual.pk)).status_code == 302
    assert not SignalSource.objects.exists()


# --- posting into a manual source ----------------------------------------------------------------


def test_a_trader_posts_a_message_into_a_manual_source(client, organization, manual, account):
    route = factories.route(manual, account)
    trader = _login(client, organization, role="trader")
    assert 'data-testid="post-form"' in _html(trader.get(page("source", organization, manual.pk)))

    response = trader.post(page("message_post", organization, manual.pk), {"text": OPEN, "reply_to_id": ""})

    assert response.status_code == 302
    signal = Signal.objects.get()
    assert signal.text == OPEN and list(signal.decisions.values_list("route", flat=True)) == [route.pk]


def test_a_viewer_cannot_post(client, organization, manual):
    viewer = _login(client, organization, role="viewer")
    assert 'data-testid="post-form"' not in _html(viewer.get(page("source", organization, manual.pk)))
    assert viewer.post(page("message_post", organization, manual.pk), {"text": OPEN}).status_code == 403
    assert not Signal.objects.exists()


def test_posting_into_a_webhook_source_is_refused(admin_client, organization):
    source, _ = factories.webhook_source(organization)
    response = admin_client.post(page("message_post", organization, source.pk), {"text": OPEN})
    assert response.status_code == 400
    assert "manual source only" in _html(response)
    assert not Signal.objects.exists()


# --- routes --------------------------------------------------------------------------------------


def _route_form(account, **overrides) -> dict:
    form = {
        "account": account.pk,
        "active": "on",
        "symbol_filter": "all",
        "symbols": "",
        "mode": "complete_only",
        "alert_wait_seconds": 300,
        "confidence_threshold": "0.70",
        "risk_mode": "",
        "lot_multiplier": "1",
        "default_sl_pips": "0",
        "default_tp_pips": "0",
        "sl_policy": "default_sl",
        "duplicate_window_seconds": 600,
        "market_closed": "skip",
        "keywords": "",
        "aliases": "",
    }
    return {**form, **overrides}


def test_a_route_is_added_from_the_source_page(admin_client, organization, manual, account):
    html = _html(admin_client.get(page("source", organization, manual.pk)))
    assert f'<option value="{account.pk}"' in html

    response = admin_client.post(
        page("route_add", organization, manual.pk),
        _route_form(
            account,
            symbol_filter="include",
            symbols="gold, EURUSD",
            keywords="kopen = buy\ndoel: tp",
            aliases="G = XAUUSD",
            hours_start="22:00",
            hours_end="06:30",
        ),
    )

    assert response.status_code == 302, response.context["route_form"].errors
    route = Route.objects.get()
    assert (route.source, route.account) == (manual, account)
    assert route.symbols == ["XAUUSD", "EURUSD"] and route.keywords == {"kopen": "buy", "doel": "tp"}
    assert (route.hours_start, route.hours_end) == (1320, 390)
    assert account.name in _row(
        _html(admin_client.get(page("source", organization, manual.pk))), f"route-{route.pk}"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol_filter": "include"}, "symbols"),
        ({"symbols": "NOTATHING"}, "symbols"),
        ({"confidence_threshold": "2"}, "confidence_threshold"),
        ({"keywords": "kopen"}, "keywords"),
        ({"keywords": "kopen = purchase"}, "keywords"),
        ({"hours_start": "10:00"}, "hours_end"),
        ({"lot_multiplier": "20"}, "lot_multiplier"),
    ],
)
def test_bad_route_values_are_errors_on_their_field(
    admin_client, organization, manual, account, overrides, field
):
    response = admin_client.post(
        page("route_add", organization, manual.pk), _route_form(account, **overrides)
    )

    assert response.status_code == 400
    assert field in response.context["route_form"].errors
    assert not Route.objects.exists()


def test_another_organizations_account_cannot_be_routed_to(admin_client, organization, manual, other_org):
    theirs = connected_simulated_account(other_org, login="9001")
    response = admin_client.post(page("route_add", organization, manual.pk), _route_form(theirs))
    assert response.status_code == 400 and "account" in response.context["route_form"].errors
    assert not Route.objects.exists()


def test_a_route_is_edited_and_deleted(admin_client, client, organization, manual, account):
    route = factories.route(manual, account, hours_start=60, hours_end=120, keywords={"kopen": "buy"})
    html = _html(admin_client.get(page("route", organization, route.pk)))
    assert 'value="01:00"' in html and "kopen = buy" in html

    response = admin_client.post(
        page("route", organization, route.pk), _route_form(account, reverse="on", lot_multiplier="2")
    )

    assert response.status_code == 302
    route.refresh_from_db()
    assert route.reverse and str(route.lot_multiplier) == "2.00" and route.hours_start is None

    viewer = _login(client, organization, role="viewer")
    assert viewer.get(page("route", organization, route.pk)).status_code == 200
    assert viewer.post(page("route", organization, route.pk), _route_form(account)).status_code == 403
    assert viewer.post(page("route_delete", organization, route.pk)).status_code == 403

    assert admin_client.post(page("route_delete", organization, route.pk)).status_code == 302
    assert not Route.objects.exists()


# --- the feed and a decision's trace -------------------------------------------------------------


def test_the_feed_shows_each_signal_with_each_routes_outcome(admin_client, organization, manual, account):
    route = factories.route(manual, account)
    older = factories.signal_row(manual, "Good morning traders!")
    newer = factories.signal_row(manual, "gold buy limit 2275\nsl 2268\ntp 2285")
    decision = factories.decision_row(newer, route)

    response = admin_client.get(page("feed", organization))

    html = _html(response)
    assert html.index(f'data-testid="signal-{newer.pk}"') < html.index(f'data-testid="signal-{older.pk}"')
    row = _row(html, f"signal-{newer.pk}")
    assert "BUY LIMIT XAUUSD 2275 · SL 2268 · TP 2285" in row
    assert f"{account.name}: Rejected by a check SL_TOO_FAR The SL is 900 pips away." in row
    assert page("decision", organization, decision.pk) in html
    assert f'data-ws-path="/ws/orgs/{organization.slug}/live/"' in html and "signal_feed.js" in html
    assert "no-store" in response["Cache-Control"]


def test_the_feed_is_filtered_by_source_in_bounded_queries(
    admin_client, organization, manual, account, django_assert_max_num_queries
):
    other = factories.source(organization, name="Other")
    route = factories.route(manual, account)
    theirs = factories.signal_row(other)

    def add_signal():
        operation = order_place(account=account, symbol="EURUSD", side="buy", type="market")
        factories.decision_row(factories.signal_row(manual), route, operations=[operation.pk])

    def feed_queries() -> tuple[int, str]:
        with django_assert_max_num_queries(14) as queries:
            response = admin_client.get(page("feed", organization), {"source": manual.pk})
        return len(queries), _html(response)

    add_signal()
    few, _ = feed_queries()
    for _ in range(5):
        add_signal()
    many, html = feed_queries()

    assert few == many
    assert f'data-testid="signal-{theirs.pk}"' not in html
    assert len(re.findall(r'data-testid="signal-\d+"', html)) == 6


def test_the_decision_page_shows_the_reading_the_checks_and_the_operations(
    admin_client, organization, manual, account
):
    operation = order_place(account=account, symbol="EURUSD", side="buy", type="market")
    signal = factories.signal_row(manual, OPEN)
    decision = factories.decision_row(signal, factories.route(manual, account), operations=[operation.pk])

    html = _html(admin_client.get(page("decision", organization, decision.pk)))

    assert "Rejected by a check" in html and "SL_TOO_FAR" in html and "The SL is 900 pips away." in html
    assert OPEN in html
    assert re.search(r'<td data-testid="symbol">\s*XAUUSD', html)
    assert "failed" in _row(html, "step-2") and "SL_TOO_FAR" in _row(html, "step-2")
    assert f"{operation.pk} " in _row(html, f"operation-{operation.pk}") and "accepted" in _row(
        html, f"operation-{operation.pk}"
    )


def test_the_organization_page_links_to_the_signals_and_the_account_hint_to_the_sources(
    admin_client, organization
):
    assert f'href="{page("feed", organization)}"' in _html(
        admin_client.get(reverse("orgs:detail", args=[organization.slug]))
    )
    hint = _html(admin_client.get(reverse("execution:accounts", args=[organization.slug])))
    assert (
        f'href="{page("sources", organization)}"' in hint and f'href="{page("tester", organization)}"' in hint
    )


# --- access --------------------------------------------------------------------------------------


def _everything() -> list:
    return [
        list(model.objects.order_by("pk").values()) for model in apps.get_app_config("execution").get_models()
    ]


def _pages(organization, source, route, decision):
    return [
        ("get", page("feed", organization)),
        ("get", page("sources", organization)),
        ("post", page("sources", organization)),
        ("get", page("source", organization, source.pk)),
        ("post", page("source_edit", organization, source.pk)),
        ("post", page("source_rotate", organization, source.pk)),
        ("post", page("source_delete", organization, source.pk)),
        ("post", page("message_post", organization, source.pk)),
        ("post", page("route_add", organization, source.pk)),
        ("get", page("route", organization, route.pk)),
        ("post", page("route", organization, route.pk)),
        ("post", page("route_delete", organization, route.pk)),
        ("get", page("decision", organization, decision.pk)),
        ("get", page("tester", organization)),
    ]


def _world(organization, login="5001"):
    source, _ = factories.webhook_source(organization)
    route = factories.route(source, connected_simulated_account(organization, login=login))
    decision = factories.decision_row(factories.signal_row(source), route)
    return source, route, decision


def test_another_organizations_user_gets_404_everywhere_and_changes_nothing(client, organization, other_org):
    source, route, decision = _world(organization)
    client.force_login(other_org.memberships.get().user)
    before = _everything()

    for method, path in _pages(organization, source, route, decision):
        assert getattr(client, method)(path, {"name": "x", "text": OPEN}).status_code == 404, path
    assert _everything() == before


def test_another_organizations_objects_are_404_under_ones_own_slug(admin_client, organization, other_org):
    source, route, decision = _world(other_org, login="9001")
    before = _everything()

    for method, path in _pages(organization, source, route, decision)[3:-1]:
        assert getattr(admin_client, method)(path, {"name": "x", "text": OPEN}).status_code == 404, path
    assert _everything() == before


def test_a_member_without_view_accounts_gets_403(client, organization):
    source, route, decision = _world(organization)
    member = _login(client, organization, permissions={"view_organization", "manage_accounts", "trade"})
    for path in (
        page("feed", organization),
        page("source", organization, source.pk),
        page("decision", organization, decision.pk),
    ):
        assert member.get(path).status_code == 403


def test_anonymous_is_sent_to_log_in(client, organization):
    response = client.get(page("feed", organization))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
