"""Signal sources and routes as their owners change them: every refused value is a field error and
nothing is written; a webhook source's credentials are returned once and only their hash (and the
encrypted secret) is kept; a message posted into a manual source goes to the intake."""

import hashlib
import re
from decimal import Decimal

import pytest
from django.apps import apps

from core.errors import ServiceError
from execution.signals import intake, selectors, services
from execution.signals.models import Decision, Route, Signal, SignalSource
from execution.signals.sources.base import MessagePosted
from execution.signals.sources.webhook import WebhookRefused, authenticate
from tests.execution.signals import factories
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual(organization):
    return factories.source(organization)


def _rows() -> dict[str, list]:
    return {
        model._meta.label: list(model.objects.values())
        for model in apps.get_app_config("execution").get_models()
    }


def refused(call, field, match=None, *, code=None):
    before = _rows()
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.field == field, caught.value.message
    if match is not None:
        assert re.search(match, caught.value.message), caught.value.message
    if code is not None:
        assert caught.value.code == code
    assert _rows() == before
    return caught.value


# --- sources -------------------------------------------------------------------------------------


def test_a_manual_source_has_no_secrets(organization):
    source, secrets = services.source_create(organization=organization, name="  Pasted  ", kind="manual")

    assert secrets == {}
    assert (source.name, source.kind, source.state, source.max_age_seconds) == (
        "Pasted",
        "manual",
        "active",
        300,
    )
    assert source.signing_secret == "" and source.url_token_hash == "" and source.recording == ""


def test_a_webhook_source_returns_its_credentials_once(organization):
    source, secrets = services.source_create(
        organization=organization, name="Hook", kind="webhook", max_age_seconds=60
    )

    assert set(secrets) == {"signing_secret", "url_token", "url"}
    assert secrets["signing_secret"].startswith("whsec_")
    assert secrets["url"] == f"/hooks/signals/{source.public_id}/{secrets['url_token']}/"
    stored = SignalSource.objects.get(pk=source.pk)
    assert stored.signing_secret == secrets["signing_secret"]  # encrypted at rest, readable by the app
    assert stored.url_token_hash == hashlib.sha256(secrets["url_token"].encode()).hexdigest()
    assert secrets["url_token"] not in str(SignalSource.objects.filter(pk=source.pk).values_list())
    authenticate(source=stored, body=b"x", headers={}, url_token=secrets["url_token"])  # accepted
    assert stored.max_age_seconds == 60


def test_a_recorded_source_plays_the_demo_recording_by_default(organization):
    source, secrets = services.source_create(organization=organization, name="Replay", kind="recorded")
    assert (source.recording, secrets) == ("demo", {})


def test_a_recording_is_kept_for_recorded_sources_only(organization):
    source, _ = services.source_create(organization=organization, name="P", kind="manual", recording="demo")
    assert source.recording == ""


def test_an_unknown_recording_is_refused(organization):
    refused(
        lambda: services.source_create(
            organization=organization, name="R", kind="recorded", recording="nope"
        ),
        "recording",
        "demo",
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": "", "kind": "manual"}, "name"),
        ({"name": "   ", "kind": "manual"}, "name"),
        ({"name": "x" * 121, "kind": "manual"}, "name"),
        ({"name": "T", "kind": "telegram"}, "kind"),
        ({"name": "T", "kind": "manual", "max_age_seconds": 0}, "max_age_seconds"),
        ({"name": "T", "kind": "manual", "max_age_seconds": 86_401}, "max_age_seconds"),
        ({"name": "T", "kind": "manual", "max_age_seconds": "soon"}, "max_age_seconds"),
    ],
)
def test_bad_source_values_are_refused_on_their_field(organization, arguments, field):
    refused(lambda: services.source_create(organization=organization, **arguments), field)


def test_names_are_unique_per_organization(organization, other_org, manual):
    refused(
        lambda: services.source_create(organization=organization, name=manual.name, kind="webhook"), "name"
    )
    twin, _ = services.source_create(organization=other_org, name=manual.name, kind="manual")
    assert twin.name == manual.name


def test_a_source_is_renamed_paused_and_given_another_max_age(manual):
    services.source_update(source=manual, name="Renamed", state="paused", max_age_seconds=30)

    manual.refresh_from_db()
    assert (manual.name, manual.state, manual.max_age_seconds) == ("Renamed", "paused", 30)
    services.source_update(source=manual, name="Renamed")  # its own name is not a duplicate


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"state": "disconnected"}, "state"),
        ({"state": "on"}, "state"),
        ({"name": ""}, "name"),
        ({"max_age_seconds": -1}, "max_age_seconds"),
        ({"kind": "webhook"}, "kind"),
    ],
)
def test_bad_updates_are_refused(manual, fields, field):
    refused(lambda: services.source_update(source=manual, **fields), field)


def test_renaming_onto_another_source_is_refused(organization, manual):
    other = factories.source(organization, name="Other")
    refused(lambda: services.source_update(source=other, name=manual.name), "name")


def test_rotating_replaces_both_credentials(organization):
    source, first = factories.webhook_source(organization)

    second = services.source_rotate_secret(source=source)

    source.refresh_from_db()
    assert second["signing_secret"] != first["signing_secret"] and second["url_token"] != first["url_token"]
    assert source.signing_secret == second["signing_secret"]
    authenticate(source=source, body=b"x", headers={}, url_token=second["url_token"])
    with pytest.raises(WebhookRefused):
        authenticate(source=source, body=b"x", headers={}, url_token=first["url_token"])


def test_only_a_webhook_source_has_a_secret_to_rotate(manual):
    refused(lambda: services.source_rotate_secret(source=manual), None, code=services.WRONG_KIND)


def test_deleting_a_source_removes_its_routes_and_signals(manual, account):
    route = factories.route(manual, account)
    factories.decision_row(factories.signal_row(manual), route)

    services.source_delete(source=manual)

    assert not SignalSource.objects.exists() and not Route.objects.exists()
    assert not Signal.objects.exists() and not Decision.objects.exists()


# --- routes --------------------------------------------------------------------------------------


def test_a_route_takes_the_defaults(manual, account):
    route = services.route_create(organization=manual.organization, source=manual, account=account)

    assert (route.organization_id, route.source_id, route.account_id) == (
        manual.organization_id,
        manual.pk,
        account.pk,
    )
    assert route.active and route.symbol_filter == "all" and route.mode == "complete_only"
    assert route.confidence_threshold == Decimal("0.70") and route.lot_multiplier == Decimal("1")


def test_a_route_with_every_setting(manual, account):
    route = factories.route(
        manual,
        account,
        active=False,
        symbol_filter="include",
        symbols=["gold", "EUR/USD", "XAUUSD"],
        risk_mode="risk_percent",
        risk_percent="1.5",
        lot_multiplier="2.5",
        reverse=True,
        pending_expiry_minutes=60,
        keywords={"kopen": "buy", "doel": "tp"},
        aliases={"G": "gold"},
        mode="execute_on_alert",
        alert_wait_seconds=120,
        confidence_threshold="0.9",
        default_sl_pips="25",
        default_tp_pips="50.5",
        sl_policy="reject",
        duplicate_window_seconds=0,
        max_entry_distance_pips="30",
        max_spread_pips="3",
        market_closed="wait",
        hours_start=22 * 60,
        hours_end=6 * 60,
    )

    route.refresh_from_db()
    assert route.symbols == ["XAUUSD", "EURUSD"]  # canonical, once each
    assert route.aliases == {"G": "XAUUSD"}
    assert route.keywords == {"kopen": "buy", "doel": "tp"}
    assert (route.risk_mode, route.risk_percent, route.lot_multiplier) == (
        "risk_percent",
        Decimal("1.50"),
        Decimal("2.50"),
    )
    assert (route.hours_start, route.hours_end) == (1320, 360)  # across midnight
    assert route.confidence_threshold == Decimal("0.90") and route.default_tp_pips == Decimal("50.5")


def test_the_source_and_the_account_must_be_the_organizations(manual, account, other_org):
    theirs = factories.source(other_org, name="Theirs")
    their_account = connected_simulated_account(other_org, login="9001")
    org = manual.organization

    refused(
        lambda: services.route_create(organization=org, source=manual, account=their_account),
        "account",
        "^Unknown account.$",
    )
    refused(
        lambda: services.route_create(organization=org, source=theirs, account=account),
        "source",
        "Unknown source",
    )


def test_one_route_per_source_and_account(manual, account):
    factories.route(manual, account)
    refused(lambda: factories.route(manual, account), "account", "already")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"symbols": ["NOTATHING"]}, "symbols"),
        ({"symbols": "XAUUSD"}, "symbols"),
        ({"symbol_filter": "include"}, "symbols"),
        ({"symbol_filter": "exclude", "symbols": []}, "symbols"),
        ({"symbol_filter": "some"}, "symbol_filter"),
        ({"keywords": {"kopen": "purchase"}}, "keywords"),
        ({"keywords": {"s-l": "sl"}}, "keywords"),
        ({"keywords": {"x" * 33: "buy"}}, "keywords"),
        ({"keywords": ["buy"]}, "keywords"),
        ({"aliases": {"G": "NOTATHING"}}, "aliases"),
        ({"aliases": {"G": 5}}, "aliases"),
        ({"aliases": {f"S{i}": "XAUUSD" for i in range(201)}}, "aliases"),
        ({"confidence_threshold": "1.01"}, "confidence_threshold"),
        ({"confidence_threshold": -0.1}, "confidence_threshold"),
        ({"confidence_threshold": "high"}, "confidence_threshold"),
        ({"hours_start": 1440, "hours_end": 0}, "hours_start"),
        ({"hours_start": -1, "hours_end": 0}, "hours_start"),
        ({"hours_start": 60}, "hours_end"),
        ({"hours_end": 60}, "hours_start"),
        ({"hours_start": 60, "hours_end": 60}, "hours_end"),
        ({"lot_multiplier": 0}, "lot_multiplier"),
        ({"lot_multiplier": "10.01"}, "lot_multiplier"),
        ({"lot_multiplier": None}, "lot_multiplier"),
        ({"risk_mode": "fixed"}, "fixed_lots"),
        ({"risk_mode": "fixed", "fixed_lots": 0}, "fixed_lots"),
        ({"risk_mode": "risk_percent"}, "risk_percent"),
        ({"risk_mode": "risk_percent", "risk_percent": "101"}, "risk_percent"),
        ({"risk_mode": "martingale"}, "risk_mode"),
        ({"default_sl_pips": -1}, "default_sl_pips"),
        ({"default_tp_pips": "NaN"}, "default_tp_pips"),
        ({"max_spread_pips": "-0.5"}, "max_spread_pips"),
        ({"max_entry_distance_pips": "99999999"}, "max_entry_distance_pips"),
        ({"mode": "yolo"}, "mode"),
        ({"sl_policy": "ignore"}, "sl_policy"),
        ({"market_closed": "queue"}, "market_closed"),
        ({"pending_expiry_minutes": 0}, "pending_expiry_minutes"),
        ({"alert_wait_seconds": -5}, "alert_wait_seconds"),
        ({"duplicate_window_seconds": True}, "duplicate_window_seconds"),
        ({"active": "yes"}, "active"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_route_settings_are_refused_on_their_field(manual, account, values, field):
    refused(lambda: factories.route(manual, account, **values), field)


def test_the_bounds_themselves_are_accepted(manual, account):
    route = factories.route(
        manual,
        account,
        lot_multiplier=10,
        confidence_threshold=1,
        hours_start=0,
        hours_end=1439,
        default_sl_pips=0,
        risk_mode="fixed",
        fixed_lots="0.01",
    )
    assert (route.lot_multiplier, route.confidence_threshold) == (Decimal("10.00"), Decimal("1.00"))


def test_an_update_changes_only_what_it_names(manual, account):
    route = factories.route(manual, account, symbols=["XAUUSD"], symbol_filter="include")

    services.route_update(route=route, confidence_threshold="0.5", symbols=["gold", "BTC"])

    route.refresh_from_db()
    assert route.confidence_threshold == Decimal("0.50")
    assert route.symbols == ["XAUUSD", "BTCUSD"] and route.symbol_filter == "include"


def test_an_update_is_checked_with_the_routes_other_settings(manual, account):
    route = factories.route(manual, account, hours_start=60, hours_end=120)

    refused(lambda: services.route_update(route=route, hours_start=None), "hours_start")
    refused(lambda: services.route_update(route=route, symbol_filter="include"), "symbols")
    route.refresh_from_db()
    assert (route.hours_start, route.symbol_filter) == (60, "all")


def test_a_refused_update_leaves_the_object_as_it_was(manual, account):
    route = factories.route(manual, account)
    with pytest.raises(ServiceError):
        services.route_update(route=route, confidence_threshold="0.5", lot_multiplier=11)
    assert route.confidence_threshold == Decimal("0.70")


def test_deleting_a_route_keeps_the_source_and_its_signals(manual, account):
    route = factories.route(manual, account)
    factories.decision_row(factories.signal_row(manual), route)

    services.route_delete(route=route)

    assert SignalSource.objects.filter(pk=manual.pk).exists() and Signal.objects.count() == 1
    assert not Decision.objects.exists()


# --- the shared vocabulary checks ----------------------------------------------------------------


def test_the_vocabulary_checks_return_what_they_accept():
    assert services.validate_keywords({"kopen": "buy", "stop verlies": "sl"}) == {
        "kopen": "buy",
        "stop verlies": "sl",
    }
    assert services.validate_aliases({"G": "XAUUSD"}) == {"G": "XAUUSD"}
    with pytest.raises(ServiceError, match="letters and digits"):
        services.validate_keywords({"s-l": "sl"})


# --- messages posted into a manual source --------------------------------------------------------


def test_a_posted_message_goes_to_the_intake(monkeypatch, manual):
    received = []
    monkeypatch.setattr(intake, "receive", lambda *, source, event: received.append((source, event)))
    earlier = factories.signal_row(manual, message_id="m-1")

    services.message_post(source=manual, text="GOLD BUY NOW", reply_to_id="m-1")

    ((source, event),) = received
    assert source == manual and isinstance(event, MessagePosted)
    assert (event.text, event.reply_to, event.version) == ("GOLD BUY NOW", earlier.message_id, 1)
    assert re.fullmatch(r"[0-9a-f-]{36}", event.message_id)


def test_a_posted_message_is_received_and_routed(manual, account):
    route = factories.route(manual, account)

    signal = services.message_post(source=manual, text="GOLD BUY LIMIT 2275\nSL 2268\nTP 2285")

    assert signal is not None and signal.source == manual and signal.kind == "open"
    assert list(signal.decisions.values_list("route", flat=True)) == [route.pk]


def test_messages_are_posted_into_manual_sources_only(organization):
    hook, _ = factories.webhook_source(organization)
    refused(lambda: services.message_post(source=hook, text="GOLD BUY"), None, code=services.WRONG_KIND)


def test_a_paused_source_takes_no_message(manual):
    services.source_update(source=manual, state="paused")
    refused(lambda: services.message_post(source=manual, text="GOLD BUY"), None, code=services.SOURCE_PAUSED)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"text": "  "}, "text"),
        ({"text": "x" * 4097}, "text"),
        ({"text": "GOLD BUY", "reply_to_id": "nope"}, "reply_to_id"),
    ],
)
def test_a_bad_message_is_refused(manual, arguments, field):
    refused(lambda: services.message_post(source=manual, **arguments), field)


# --- reads ---------------------------------------------------------------------------------------


def test_signals_are_read_newest_first_with_their_decisions_in_bounded_queries(
    manual, account, django_assert_max_num_queries
):
    route = factories.route(manual, account)
    for _ in range(5):
        factories.decision_row(factories.signal_row(manual), route)

    with django_assert_max_num_queries(2):
        signals = list(selectors.signals_of(manual.organization))
        assert [d.account.name for s in signals for d in s.decisions.all()] == [account.name] * 5
        assert [s.source.name for s in signals] == [manual.name] * 5
    assert [s.pk for s in signals] == sorted((s.pk for s in signals), reverse=True)


def test_a_decisions_operations_are_read_in_one_query_and_only_the_organizations(
    manual, account, other_org, django_assert_num_queries
):
    from execution.orders.accept import order_place

    ours = order_place(account=account, symbol="EURUSD", side="buy", type="market")
    theirs = order_place(
        account=connected_simulated_account(other_org, login="9002"),
        symbol="EURUSD",
        side="buy",
        type="market",
    )
    decision = factories.decision_row(
        factories.signal_row(manual),
        factories.route(manual, account),
        operations=[theirs.pk, ours.pk],  # another organization's id is never read
    )

    with django_assert_num_queries(1):
        assert [operation.pk for operation in selectors.operations_of(decision)] == [ours.pk]


def test_the_reading_summary():
    from execution.signals.parsing import parse

    assert selectors.reading_summary(
        parse("gold buy limit 2275\nsl 2268\ntp 2285\ntp 2295\ntp open").to_contract()
    ) == ("BUY LIMIT XAUUSD 2275 · SL 2268 · TP 2285, 2295 +runner")
    assert selectors.reading_summary(
        parse("TP1 hit, close half and move SL to entry").to_contract()
    ).startswith("Change: close partial 50%, breakeven")
    assert selectors.reading_summary(parse("Good morning traders!").to_contract()).startswith(
        "Nothing to trade"
    )
    assert selectors.reading_summary(None) == ""


def test_a_recorded_channel_routes_to_demo_accounts_only(organization, account):
    source, _ = services.source_create(organization=organization, name="Replay", kind="recorded")
    live = connected_simulated_account(organization, name="Live", login="7001", type="live")
    prop = connected_simulated_account(organization, name="Prop", login="7002", type="prop")

    for real_money in (live, prop):
        with pytest.raises(ServiceError, match="Demo accounts only") as refused:
            services.route_create(organization=organization, source=source, account=real_money)
        assert refused.value.field == "account"
    assert Route.objects.count() == 0
    assert services.route_create(organization=organization, source=source, account=account).pk
