"""The server-rendered trading account pages: connect, follow, symbols and their mapping, faults."""

import re
from decimal import Decimal
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from execution.accounts import services
from execution.accounts.models import SymbolOverride, TradingAccount
from execution.accounts.setup import account_sync
from execution.broker import faults as fault_injection
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.registry import gateway_for
from orgs import permissions as perms
from platforms.services import platform_create
from tests.factories import UserFactory, add_member, connected_simulated_account, organization_with_admin

MT_PASSWORD = "Mt-pa55word-c0ffee42"


def _url(name, organization, *args) -> str:
    return reverse(f"execution:{name}", args=[organization.slug, *args])


def _html(response) -> str:
    """The page's text with entities decoded (so an escaped secret would still be found)."""
    return unescape(response.content.decode())


def _row(html: str, testid: str) -> str:
    """The markup of the table row with this data-testid."""
    match = re.search(rf'<tr data-testid="{re.escape(testid)}">(.*?)</tr>', html, re.S)
    assert match, f"no row {testid}"
    return match.group(1)


def _selected_option(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {field}"
    return re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(1))


def _options(html: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {field}"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def _sim_platform(organization, name="Sim", servers=("SimBroker-Demo", "SimMarkets-Live")):
    return platform_create(
        organization=organization, name=name, type="mt5", api="simulated", servers=list(servers)
    )


def _connect_form(platform, **overrides) -> dict:
    return {
        "name": "My demo",
        "type": "demo",
        "platform": str(platform.pk),
        "server": "SimBroker-Demo",
        "login": "5001",
        "password": MT_PASSWORD,
        **overrides,
    }


def _place(account, request: OrderRequest):
    async def go():
        gateway = gateway_for(account)
        await gateway.connect()
        try:
            return await gateway.place_order(request)
        finally:
            await gateway.disconnect()

    return async_to_sync(go)()


def _price(account, symbol):
    async def go():
        gateway = gateway_for(account)
        await gateway.connect()
        try:
            return await gateway.price(symbol)
        finally:
            await gateway.disconnect()

    return async_to_sync(go)()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, name="Demo one", server="SimBroker-Demo")


# --- connecting through the page ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_connect_a_demo_account_through_the_page(admin_client, organization, stub_broker, request):
    platform = _sim_platform(organization)
    list_url = _url("accounts", organization)

    page = _html(admin_client.get(list_url))
    assert "No trading accounts yet." in page
    assert "Start with a Demo account" in page
    assert _selected_option(page, "type") == ["demo"]
    assert 'type="password"' in page and "not kept" in page
    assert "SimBroker-Demo" in page and "SimMarkets-Live" in page  # the platform's servers as a hint

    response = admin_client.post(list_url, _connect_form(platform))
    account = TradingAccount.objects.get(organization=organization)
    assert response.status_code == 302
    assert response.url == _url("account", organization, account.pk)
    pages = [_html(response)]

    # The setup has not run yet (no worker): the account page says so.
    detail = _html(admin_client.get(response.url))
    pages.append(detail)
    assert "Connecting" in detail and "Connected" not in detail
    assert "Positions and orders are read from the broker once the account is connected." in detail

    request.getfixturevalue("run_queued")()  # starts the worker, runs the setup actor

    account.refresh_from_db()
    assert account.connection_state == "connected", account.connection_error
    assert account.setup_password is None
    detail = _html(admin_client.get(response.url))
    pages.append(detail)
    assert re.search(r'data-testid="account-state">Connected<', detail)
    assert "10000.00" in detail and "USD" in detail
    assert 'data-testid="symbol-XAUUSD"' in detail and 'data-testid="symbol-EURUSD"' in detail
    assert "No open positions." in detail  # read live from the broker
    listing = _html(admin_client.get(list_url))
    pages.append(listing)
    row = _row(listing, f"account-{account.pk}")
    assert "My demo" in row and "5001@SimBroker-Demo" in row and "10000.00" in row and "Connected" in row
    assert "Start with a Demo account" not in listing

    for html in pages:
        assert MT_PASSWORD not in html


@pytest.mark.django_db
def test_refused_connection_shows_the_error_on_its_field_and_never_the_password(admin_client, organization):
    platform = _sim_platform(organization)
    other = organization_with_admin(UserFactory(), name="Other firm")
    foreign = _sim_platform(other, name="Foreign")
    list_url = _url("accounts", organization)

    page = _html(admin_client.get(list_url))
    assert _options(page, "platform") == [str(platform.pk)]  # this organization's platforms only

    response = admin_client.post(list_url, _connect_form(platform, server="Nowhere-Live"))
    assert response.status_code == 400
    page = _html(response)
    assert "The simulated broker has the servers" in page
    assert MT_PASSWORD not in page

    response = admin_client.post(list_url, _connect_form(foreign))
    assert response.status_code == 400
    assert MT_PASSWORD not in _html(response)
    assert not TradingAccount.objects.exists()


@pytest.mark.django_db
def test_the_demo_hint_goes_once_the_organization_has_an_account(admin_client, organization, account):
    page = _html(admin_client.get(_url("accounts", organization)))
    assert 'data-testid="demo-hint"' not in page
    assert services.suggested_account_type(organization) is None
    assert _selected_option(page, "type") == []  # no suggestion after the first account


@pytest.mark.django_db
def test_no_platform_yet_says_to_add_one(admin_client, organization):
    page = _html(admin_client.get(_url("accounts", organization)))
    assert "Add a trade platform first" in page
    assert 'name="password"' not in page


# --- LIVE badge -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_live_accounts_carry_a_live_badge_on_the_list_and_the_detail(admin_client, organization, account):
    live = connected_simulated_account(organization, name="Real money", login="7001", type="live")

    listing = _html(admin_client.get(_url("accounts", organization)))
    assert re.search(
        r'class="badge live" data-testid="live-badge"[^>]*>LIVE<', _row(listing, f"account-{live.pk}")
    )
    assert "live-badge" not in _row(listing, f"account-{account.pk}")
    assert "Demo" in _row(listing, f"account-{account.pk}")

    live_page = _html(admin_client.get(_url("account", organization, live.pk)))
    assert 'class="badge live" data-testid="live-badge"' in live_page
    assert "<title>LIVE · Real money" in live_page
    demo_page = _html(admin_client.get(_url("account", organization, account.pk)))
    assert "live-badge" not in demo_page and "LIVE" not in demo_page


@pytest.mark.django_db
def test_changing_the_type_to_live_shows_the_badge_and_remove_forgets_the_account(
    admin_client, organization, account
):
    detail_url = _url("account", organization, account.pk)
    response = admin_client.post(
        _url("account_edit", organization, account.pk), {"name": "  Renamed ", "type": "live"}
    )
    assert response.status_code == 302 and response.url == detail_url
    account.refresh_from_db()
    assert (account.name, account.type) == ("Renamed", "live")
    assert 'data-testid="live-badge"' in _html(admin_client.get(detail_url))

    bad = admin_client.post(_url("account_edit", organization, account.pk), {"name": "X", "type": "gold"})
    assert bad.status_code == 400
    account.refresh_from_db()
    assert account.type == "live"

    response = admin_client.post(_url("account_remove", organization, account.pk))
    assert response.status_code == 302 and response.url == _url("accounts", organization)
    assert not TradingAccount.objects.filter(pk=account.pk).exists()
    assert admin_client.get(detail_url).status_code == 404


# --- live reads from the broker -------------------------------------------------------------------


@pytest.mark.django_db
def test_positions_and_pending_orders_come_from_the_broker(admin_client, organization, account):
    market = _place(account, OrderRequest("BTCUSD", Side.BUY, OrderKind.MARKET, Decimal("0.01")))
    assert market.position_id, market
    price = _price(account, "BTCUSD")
    limit_price = (price.bid * Decimal("0.8")).quantize(Decimal("0.01"))
    pending = _place(
        account, OrderRequest("BTCUSD", Side.BUY, OrderKind.LIMIT, Decimal("0.01"), price=limit_price)
    )
    assert pending.order_id, pending

    page = _html(admin_client.get(_url("account", organization, account.pk)))
    position_row = _row(page, f"position-{market.position_id}")
    assert "BTCUSD" in position_row and "0.01" in position_row
    order_row = _row(page, f"order-{pending.order_id}")
    assert "BTCUSD" in order_row and str(limit_price) in order_row
    assert "No open positions." not in page and "No pending orders." not in page


@pytest.mark.django_db
def test_a_broker_failure_is_shown_on_the_page_not_raised(admin_client, organization, account):
    fault_injection.simulated_faults_set(account=account, disconnected=True)
    response = admin_client.get(_url("account", organization, account.pk))
    assert response.status_code == 200
    page = _html(response)
    assert 'data-testid="broker-error"' in page
    assert 'data-testid="positions"' not in page
    # the stored figures and symbols still show
    assert "10000.00" in page and 'data-testid="symbol-XAUUSD"' in page


@pytest.mark.django_db
def test_reconnect_form_after_a_failure_starts_the_setup_again_without_showing_the_password(
    admin_client, organization, account
):
    detail_url = _url("account", organization, account.pk)
    assert 'data-testid="reconnect-form"' not in _html(admin_client.get(detail_url))

    fault_injection.simulated_faults_set(account=account, disconnected=True)
    account_sync(account=account)
    account.refresh_from_db()
    assert account.connection_state == "disconnected"
    page = _html(admin_client.get(detail_url))
    assert 'data-testid="reconnect-form"' in page
    assert account.connection_error and account.connection_error in page

    empty = admin_client.post(_url("account_reconnect", organization, account.pk), {"password": ""})
    assert empty.status_code == 400
    response = admin_client.post(
        _url("account_reconnect", organization, account.pk), {"password": MT_PASSWORD}
    )
    assert response.status_code == 302 and response.url == detail_url
    account.refresh_from_db()
    assert account.connection_state == "connecting"
    page = _html(admin_client.get(detail_url))
    assert "Connecting" in page and MT_PASSWORD not in page


# --- symbols and their mapping --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("server", "broker_symbol"), [("SimBroker-Demo", "XAUUSD"), ("SimMarkets-Live", "GOLD")]
)
def test_resolve_gold_to_the_servers_symbol(admin_client, organization, server, broker_symbol):
    account = connected_simulated_account(organization, server=server)
    page = _html(admin_client.get(_url("account", organization, account.pk), {"symbol": "GOLD"}))
    resolution = re.search(r'<p data-testid="resolution">(.*?)</p>', page, re.S).group(1)
    assert f"<strong>{broker_symbol}</strong>" in resolution
    assert "metals" in resolution
    assert 'data-testid="resolve-error"' not in page


@pytest.mark.django_db
def test_an_unknown_symbol_shows_the_candidates(admin_client, organization, account):
    page = _html(admin_client.get(_url("account", organization, account.pk), {"symbol": "EUR"}))
    error = re.search(r'<p class="error" data-testid="resolve-error">(.*?)</p>', page, re.S).group(1)
    assert "'EUR'" in error and "'EURUSD'" in error and "'EURGBP'" in error
    assert 'data-testid="resolution"' not in page


@pytest.mark.django_db
def test_add_and_delete_a_symbol_override(admin_client, organization, account):
    detail_url = _url("account", organization, account.pk)
    page = _html(admin_client.get(detail_url))
    assert "EURUSD" in _options(page, "broker_symbol") and "XAUUSD" in _options(page, "broker_symbol")

    response = admin_client.post(
        _url("override_add", organization, account.pk), {"alias": "eur", "broker_symbol": "EURUSD"}
    )
    assert response.status_code == 302 and response.url == detail_url
    override = SymbolOverride.objects.get(account=account)
    assert (override.alias, override.broker_symbol) == ("EUR", "EURUSD")

    page = _html(admin_client.get(detail_url, {"symbol": "EUR"}))
    assert "EUR" in _row(page, f"override-{override.pk}")
    resolution = re.search(r'<p data-testid="resolution">(.*?)</p>', page, re.S).group(1)
    assert "<strong>EURUSD</strong>" in resolution and "override" in resolution

    refused = admin_client.post(
        _url("override_add", organization, account.pk), {"alias": "EUR", "broker_symbol": "GOLD"}
    )
    assert refused.status_code == 400
    assert SymbolOverride.objects.get(account=account).broker_symbol == "EURUSD"

    response = admin_client.post(_url("override_delete", organization, account.pk, override.pk))
    assert response.status_code == 302
    assert not SymbolOverride.objects.filter(account=account).exists()
    page = _html(admin_client.get(detail_url, {"symbol": "EUR"}))
    assert 'data-testid="resolve-error"' in page


# --- fault injection ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_fault_settings_form_saves_and_shows_the_settings(admin_client, organization, account):
    detail_url = _url("account", organization, account.pk)
    page = _html(admin_client.get(detail_url))
    assert 'data-testid="fault-form"' in page

    response = admin_client.post(
        _url("account_faults", organization, account.pk),
        {
            "latency_seconds": "0.5",
            "scripted_errors": "10004, timeout,10024",
            "error_rate": "0.25",
            "error_rate_code": "10006",
            "disconnected": "",
            "applies_to": "trading",
            "retry_after_seconds": "3",
        },
    )
    assert response.status_code == 302 and response.url == detail_url
    faults = fault_injection.simulated_faults(account=account)
    assert faults.latency_seconds == 0.5
    assert faults.scripted_errors == [10004, "timeout", 10024]
    assert (faults.error_rate, faults.error_rate_code) == (0.25, 10006)
    assert faults.disconnected is False
    assert faults.applies_to == "trading"
    assert faults.retry_after_seconds == 3

    page = _html(admin_client.get(detail_url))  # queries are not affected: applies to trading only
    scripted = re.search(r'data-testid="fault-scripted">(.*?)</td>', page, re.S).group(1)
    assert re.findall(r'<span class="badge">(.*?)</span>', scripted) == ["10004", "timeout", "10024"]
    assert 'value="10004, timeout, 10024"' in page

    refused = admin_client.post(
        _url("account_faults", organization, account.pk),
        {
            "latency_seconds": "0",
            "scripted_errors": "explode",
            "error_rate": "0",
            "error_rate_code": "1",
            "applies_to": "all",
        },
    )
    assert refused.status_code == 400
    assert "scripted transport fault must be one of" in _html(refused)
    assert fault_injection.simulated_faults(account=account).scripted_errors == [10004, "timeout", 10024]


@pytest.mark.django_db
def test_fault_card_only_for_simulated_platforms_and_read_only_for_viewers(client, organization, account):
    viewer = UserFactory()
    add_member(organization, viewer, role=perms.VIEWER)
    client.force_login(viewer)
    page = _html(client.get(_url("account", organization, account.pk)))
    assert 'data-testid="faults"' in page and 'data-testid="fault-form"' not in page

    metaapi = platform_create(
        organization=organization, name="Real", type="mt5", api="metaapi", servers=["Broker-Live01"]
    )
    real = services.account_connect(
        organization=organization,
        platform=metaapi,
        name="Broker account",
        type="demo",
        login="42",
        server="Broker-Live01",
        password=MT_PASSWORD,
    )
    page = _html(client.get(_url("account", organization, real.pk)))
    assert 'data-testid="faults"' not in page
    assert "Connecting" in page and MT_PASSWORD not in page


# --- permissions ----------------------------------------------------------------------------------


def _post_urls(organization, account, override) -> list[tuple[str, dict]]:
    connect = {"name": "X", "type": "demo", "login": "1", "server": "SimBroker-Demo"}
    faults = {"latency_seconds": "9", "error_rate": "0", "error_rate_code": "1", "applies_to": "all"}
    return [
        (_url("accounts", organization), connect),
        (_url("account_edit", organization, account.pk), {"name": "Hacked", "type": "live"}),
        (_url("account_reconnect", organization, account.pk), {"password": "x"}),
        (_url("override_add", organization, account.pk), {"alias": "GOLD", "broker_symbol": "XAUUSD"}),
        (_url("override_delete", organization, account.pk, override.pk), {}),
        (_url("account_faults", organization, account.pk), faults),
        (_url("account_remove", organization, account.pk), {}),
    ]


@pytest.mark.django_db
def test_a_viewer_reads_every_page_and_gets_403_on_every_post(client, organization, account):
    override = services.symbol_override_set(account=account, alias="EUR", broker_symbol="EURUSD")
    viewer = UserFactory()
    add_member(organization, viewer, role=perms.VIEWER)
    client.force_login(viewer)

    listing = client.get(_url("accounts", organization))
    assert listing.status_code == 200
    assert "Demo one" in _html(listing) and "Connect an account" not in _html(listing)
    detail = client.get(_url("account", organization, account.pk), {"symbol": "GOLD"})
    assert detail.status_code == 200
    page = _html(detail)
    assert 'data-testid="resolution"' in page  # resolving is a read
    assert 'data-testid="edit-form"' not in page and 'data-testid="override-form"' not in page

    for url, data in _post_urls(organization, account, override):
        assert client.post(url, data).status_code == 403, url
    account.refresh_from_db()
    assert (account.name, account.type) == ("Demo one", "demo")
    assert SymbolOverride.objects.filter(pk=override.pk).exists()
    assert fault_injection.simulated_faults(account=account).latency_seconds == 0
    assert TradingAccount.objects.filter(organization=organization).count() == 1


@pytest.mark.django_db
def test_a_member_without_view_accounts_gets_403_and_no_link(client, organization, account):
    member = UserFactory()
    add_member(organization, member, permissions=frozenset({"view_organization"}))
    client.force_login(member)
    assert client.get(_url("accounts", organization)).status_code == 403
    assert client.get(_url("account", organization, account.pk)).status_code == 403
    org_page = _html(client.get(reverse("orgs:detail", args=[organization.slug])))
    assert _url("accounts", organization) not in org_page


@pytest.mark.django_db
def test_the_organization_page_links_to_accounts(admin_client, organization):
    page = _html(admin_client.get(reverse("orgs:detail", args=[organization.slug])))
    assert f'<a href="{_url("accounts", organization)}">Accounts</a>' in page


@pytest.mark.django_db
def test_another_organizations_member_gets_404_everywhere(client, organization, account):
    override = services.symbol_override_set(account=account, alias="EUR", broker_symbol="EURUSD")
    outsider = UserFactory()
    other = organization_with_admin(outsider, name="Other firm")
    client.force_login(outsider)

    # Under the account's own organization: not a member.
    assert client.get(_url("accounts", organization)).status_code == 404
    assert client.get(_url("account", organization, account.pk)).status_code == 404
    for url, data in _post_urls(organization, account, override):
        assert client.post(url, data).status_code == 404, url

    # Under the outsider's own organization, with this account's ids.
    assert client.get(_url("accounts", other)).status_code == 200
    assert client.get(_url("account", other, account.pk)).status_code == 404
    for url, data in _post_urls(other, account, override)[1:]:
        assert client.post(url, data).status_code == 404, url

    account.refresh_from_db()
    assert account.name == "Demo one"
    assert SymbolOverride.objects.filter(pk=override.pk).exists()
    assert fault_injection.simulated_faults(account=account).latency_seconds == 0


def test_a_waiting_operation_is_cancelled_from_the_account_page(client, admin_user, organization, account):
    from execution.orders.accept import order_place
    from execution.orders.models import Operation

    waiting = order_place(account=account, symbol="BTCUSD", side="buy", type="market")  # no worker: it waits
    done = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    Operation.objects.filter(pk=done.pk).update(state=Operation.DONE)
    client.force_login(admin_user)
    page = _html(client.get(_url("account", organization, account.pk)))
    assert f'data-testid="cancel-operation-{waiting.pk}"' in page
    assert f'data-testid="cancel-operation-{done.pk}"' not in page  # ended: nothing to cancel

    viewer = add_member(organization, role=perms.VIEWER).user
    client.force_login(viewer)
    url = _url("operation_cancel", organization, account.pk, waiting.pk)
    assert client.post(url).status_code == 403  # cancelling is trading
    stranger = UserFactory()
    other = organization_with_admin(stranger, name="Elsewhere")
    client.force_login(stranger)
    assert client.post(_url("operation_cancel", other, account.pk, waiting.pk)).status_code == 404
    waiting.refresh_from_db()
    assert waiting.state == "accepted"

    client.force_login(admin_user)
    response = client.post(url, follow=True)

    waiting.refresh_from_db()
    assert waiting.state == "cancelled" and waiting.finished_at is not None
    assert "will not be sent" in _html(response)
    refused = client.post(_url("operation_cancel", organization, account.pk, done.pk), follow=True)
    assert "only an operation that waits can be cancelled" in _html(refused)


@pytest.mark.parametrize(
    "field, value",
    [
        ("latency_seconds", "1e300"),
        ("retry_after_seconds", "1e300"),
        ("error_rate_code", "1000000"),
        ("scripted_errors", "10004, 1000000"),
    ],
)
def test_the_fault_form_refuses_values_beyond_the_bounds(admin_client, organization, account, field, value):
    body = {"latency_seconds": "0", "scripted_errors": "", "error_rate": "0", "error_rate_code": "10024"}
    body |= {"applies_to": "all", field: value}
    refused = admin_client.post(_url("account_faults", organization, account.pk), body)
    assert refused.status_code == 400
    assert fault_injection.simulated_faults(account=account).scripted_errors == []
