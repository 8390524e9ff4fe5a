"""Protection over the API, the dashboard and the decision page: the settings (defaults, limits as
field errors, permissions), a trade's plan and steps, the breakeven button (once while on its way),
and every boundary between organizations (404)."""

from decimal import Decimal

import pytest

from core.errors import ServiceError
from execution.live.audience import allowed
from execution.live.snapshot import snapshot
from execution.orders.models import Operation
from execution.protection import services
from execution.protection.models import ProtectionSettings
from execution.signals.models import Decision
from execution.web.consumers import submit_action
from orgs import permissions as perms
from tests.factories import UserFactory, add_member, connected_simulated_account, organization_with_admin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


@pytest.fixture
def viewer_api(api, organization):
    viewer = UserFactory()
    add_member(organization, viewer, role=perms.VIEWER)
    api.force_authenticate(viewer)
    return api


@pytest.fixture
def other_org(db):
    return organization_with_admin(UserFactory(), "Elsewhere")


def settings_url(organization, account_id):
    return f"/api/v1/orgs/{organization.slug}/protection-settings/{account_id}/"


def trade_url(organization, trade_id, action=""):
    return f"/api/v1/orgs/{organization.slug}/trade-protection/{trade_id}/{action}"


def test_the_settings_are_the_defaults_until_saved_then_what_was_saved(admin_api, organization, account):
    shown = admin_api.get(settings_url(organization, account.pk)).json()
    assert shown == {
        "breakeven_at": 1,
        "breakeven_buffer_pips": "2.0",
        "trailing": False,
        "trailing_activation_pips": "20.0",
        "trailing_distance_pips": "15.0",
        "trailing_step_pips": "5.0",
    }

    changed = {**shown, "breakeven_at": 2, "breakeven_buffer_pips": "5", "trailing": True}
    response = admin_api.put(settings_url(organization, account.pk), changed, format="json")

    assert response.status_code == 200, response.json()
    saved = ProtectionSettings.objects.get(account=account)
    assert (saved.breakeven_at, saved.breakeven_buffer_pips, saved.trailing) == (2, Decimal(5), True)


@pytest.mark.parametrize(
    "field, value",
    [
        ("breakeven_at", 7),
        ("breakeven_buffer_pips", "50.5"),
        ("breakeven_buffer_pips", "-1"),
        ("trailing_distance_pips", "0"),
    ],
)
def test_settings_out_of_their_limits_are_field_errors_and_nothing_is_saved(
    admin_api, organization, account, field, value
):
    shown = admin_api.get(settings_url(organization, account.pk)).json()

    response = admin_api.put(settings_url(organization, account.pk), {**shown, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ProtectionSettings.objects.exists()


def test_a_viewer_reads_the_settings_and_cannot_change_them(viewer_api, organization, account):
    assert viewer_api.get(settings_url(organization, account.pk)).status_code == 200
    response = viewer_api.put(settings_url(organization, account.pk), {"breakeven_at": 0}, format="json")
    assert response.status_code == 403
    assert not ProtectionSettings.objects.exists()


def test_a_trade_s_plan_says_what_protection_does_next_and_lists_its_steps(admin_api, organization, trade):
    services.level_reached(trade_id=trade.pk, level=1, cause="a test")

    plan = admin_api.get(trade_url(organization, trade.pk)).json()

    assert plan["tps"] == ["65400", "65800", "66200"]
    assert (plan["sl"], plan["legs"], plan["reached"]) == ("63500", 3, 1)
    assert plan["next"].startswith("breakeven on its way (operation #")
    assert [step["kind"] for step in plan["steps"]] == ["tp_reached", "breakeven"]
    assert plan["last_step"].startswith("Breakeven (entry ± 2) requested")


def test_the_breakeven_button_asks_once_while_one_is_on_its_way(admin_api, organization, trade):
    first = admin_api.post(trade_url(organization, trade.pk, "breakeven/"))
    again = admin_api.post(trade_url(organization, trade.pk, "breakeven/"))

    assert first.status_code == 202, first.json()
    assert again.status_code == 409
    operation = Operation.objects.get(pk=first.json()["id"])
    assert operation.kind == "manage_trade"
    assert operation.params["actions"] == [{"action": "breakeven", "buffer": "2"}]
    assert operation.after_id == trade.open_operation_id


def test_the_breakeven_button_needs_the_trade_permission(viewer_api, organization, trade):
    assert viewer_api.post(trade_url(organization, trade.pk, "breakeven/")).status_code == 403
    assert not Operation.objects.filter(kind="manage_trade").exists()


def test_another_organization_s_accounts_and_trades_are_not_found(
    api, other_org, organization, account, trade
):
    api.force_authenticate(other_org.memberships.get().user)

    assert api.get(settings_url(other_org, account.pk)).status_code == 404
    assert api.put(settings_url(other_org, account.pk), {"breakeven_at": 0}, format="json").status_code == 404
    assert api.get(trade_url(other_org, trade.pk)).status_code == 404
    assert api.post(trade_url(other_org, trade.pk, "breakeven/")).status_code == 404
    assert not ProtectionSettings.objects.exists()
    assert not Operation.objects.filter(kind="manage_trade").exists()


def test_the_dashboard_button_moves_only_a_trade_of_the_account_it_names(
    admin_user, organization, account, trade
):
    second = connected_simulated_account(organization, name="Second", login="5002")
    with pytest.raises(ServiceError) as refused:
        submit_action(
            organization=organization,
            user=admin_user,
            action="breakeven_trade",
            account_id=second.pk,
            trade_id=trade.pk,
        )
    assert refused.value.code == "not_found"

    queued = submit_action(
        organization=organization,
        user=admin_user,
        action="breakeven_trade",
        account_id=account.pk,
        trade_id=trade.pk,
    )
    assert (queued["kind"], queued["event"]) == ("manage_trade", "queued")


def test_the_dashboard_snapshot_holds_each_open_trade_s_plan_and_members_who_see_accounts_get_its_steps(
    organization, trade, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30):
        shown = snapshot(organization, frozenset({"view_accounts"}))

    (plan,) = shown["trades"]
    assert (plan["id"], plan["reached"], plan["tps"]) == (trade.pk, 0, ["65400", "65800", "66200"])
    assert plan["next"] == "breakeven to entry + 2 pips at TP1 (a pip is 1)."
    assert allowed("protection", frozenset({"view_accounts"}))
    assert not allowed("protection", frozenset({"view_operations"}))


def test_the_decision_page_shows_the_trade_s_protection_steps(client, admin_user, organization, trade):
    services.level_reached(trade_id=trade.pk, level=1, cause="the price went through TP1")
    decision = Decision.objects.get(trade=trade)
    client.force_login(admin_user)

    page = client.get(f"/orgs/{organization.slug}/signals/decisions/{decision.pk}/").content.decode()

    assert "TP1 reached: the price went through TP1." in page
    assert "Breakeven (entry ± 2) requested: TP1 reached." in page
