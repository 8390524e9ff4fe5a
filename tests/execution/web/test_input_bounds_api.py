"""Numbers that would crash a worker are refused where they come in (issue 20, findings 5 and 6):
risk settings (the API and the admin's form alike), simulated faults and scripted market paths.
Each is a 400 on its field in the one error shape; nothing is saved."""

import time

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from execution.accounts.models import MAX_LOTS, MAX_RISK_PERCENT, RiskSettings
from execution.broker.faults import MAX_FAULT_CODE, MAX_RETRY_AFTER_SECONDS, simulated_faults
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization)


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


def url(account, path):
    return f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/{path}/"


def refused_on(response, field):
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"asset_caps": ["metals", "0.5"]}, "asset_caps"),  # a list: was a 500
        ({"asset_caps": "0.5"}, "asset_caps"),
        ({"asset_caps": {"metals": "NaN"}}, "asset_caps"),  # was saved, then crashed every worker
        ({"asset_caps": {"metals": "Infinity"}}, "asset_caps"),
        ({"asset_caps": {"forex": -1}}, "asset_caps"),
        ({"asset_caps": {"forex": 0}}, "asset_caps"),
        ({"asset_caps": {"forex": True}}, "asset_caps"),
        ({"asset_caps": {"forex": "1e9"}}, "asset_caps"),
        ({"asset_caps": {"bonds": "1"}}, "asset_caps"),
        ({"fixed_lots": "0"}, "fixed_lots"),
        ({"fixed_lots": "-1"}, "fixed_lots"),
        ({"fixed_lots": str(MAX_LOTS + 1)}, "fixed_lots"),
        ({"fixed_lots": "NaN"}, "fixed_lots"),
        ({"risk_percent": "0"}, "risk_percent"),
        ({"risk_percent": "-2"}, "risk_percent"),
        ({"risk_percent": str(MAX_RISK_PERCENT + 1)}, "risk_percent"),
    ],
)
def test_risk_settings_that_cannot_size_an_order_are_refused(admin_api, account, body, field):
    response = admin_api.put(url(account, "risk-settings"), {"mode": "fixed", **body}, format="json")
    refused_on(response, field)
    assert not RiskSettings.objects.exists()


def test_sane_risk_settings_are_saved(admin_api, account):
    body = {"mode": "risk_percent", "risk_percent": "2", "fixed_lots": "0.5", "asset_caps": {"metals": 0.5}}
    response = admin_api.put(url(account, "risk-settings"), body, format="json")
    assert response.status_code == 200, response.json()
    assert RiskSettings.objects.get().asset_caps == {"metals": "0.5"}


def test_the_admin_s_form_refuses_them_too(account, admin_user):
    model_admin = admin.site._registry[RiskSettings]
    request = RequestFactory().get("/")
    request.user = admin_user
    form_class = model_admin.get_form(request)
    data = {"account": account.pk, "mode": "fixed", "risk_level": "normal", "fixed_lots": "0.1"}
    bad = form_class(data={**data, "risk_percent": "-1", "asset_caps": '{"metals": "NaN"}'})
    assert not bad.is_valid()
    assert {"risk_percent", "asset_caps"} <= set(bad.errors)
    assert form_class(data={**data, "risk_percent": "1", "asset_caps": '{"metals": "0.5"}'}).is_valid()
    with pytest.raises(ValidationError) as failure:
        RiskSettings(account=account, asset_caps=["metals"]).full_clean()
    assert "asset_caps" in failure.value.message_dict


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retry_after_seconds": 1e300}, "retry_after_seconds"),  # overflowed in the worker
        ({"retry_after_seconds": MAX_RETRY_AFTER_SECONDS + 1}, "retry_after_seconds"),
        ({"error_rate_code": 10**30}, "error_rate_code"),
        ({"error_rate_code": -(MAX_FAULT_CODE + 1)}, "error_rate_code"),
        ({"scripted_errors": [10004, 10**20]}, "scripted_errors"),
        ({"scripted_errors": [True]}, "scripted_errors"),
        ({"latency_seconds": 1e300}, "latency_seconds"),
    ],
)
def test_fault_settings_are_bounded(admin_api, account, body, field):
    refused_on(admin_api.put(url(account, "faults"), body, format="json"), field)
    assert simulated_faults(account=account).retry_after_seconds == 1.0  # nothing saved


def test_bounded_fault_settings_are_saved(admin_api, account):
    body = {
        "retry_after_seconds": MAX_RETRY_AFTER_SECONDS,
        "scripted_errors": [-2, 10016],
        "error_rate_code": 130,
    }
    response = admin_api.put(url(account, "faults"), body, format="json")
    assert response.status_code == 200, response.json()
    assert simulated_faults(account=account).scripted_errors == [-2, 10016]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": [{"at": "START", "price": "-1"}]}, "points"),
        ({"points": [{"at": "START", "price": "0"}]}, "points"),
        ({"points": [{"at": 10**12, "price": "65000"}]}, "points"),  # the year 33658
        ({"points": [{"at": "9999-01-01T00:00:00Z", "price": "65000"}]}, "points"),
        ({"move_to": "0", "over_seconds": 10}, "move_to"),
        ({"move_to": "-65000", "over_seconds": 10}, "move_to"),
    ],
)
def test_market_paths_are_bounded(admin_api, account, body, field):
    points = [
        {**point, "at": int(time.time()) if point["at"] == "START" else point["at"]}
        for point in body.get("points", [])
    ]
    body = {"instrument": "BTCUSD", **body, **({"points": points} if points else {})}
    path = f"/api/v1/orgs/{account.organization.slug}/platform-market/{account.platform_id}/"
    refused_on(admin_api.put(path, body, format="json"), field)
    assert admin_api.get(path).json() == {"paths": []}
