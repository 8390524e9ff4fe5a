"""An Idempotency-Key longer than its column, or not printable ASCII, is refused before anything is
stored."""

import pytest

from core.idempotency import MAX_LENGTH
from execution.orders.models import IdempotencyKey, Operation
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db


def place(api, account, key):
    return api.post(
        f"/api/v1/orgs/{account.organization.slug}/accounts/{account.pk}/orders/",
        {"symbol": "BTCUSD", "side": "buy"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.mark.parametrize("key", ["k" * (MAX_LENGTH + 1), "k" * 5000, "null\x00byte", "tab\there", "clé"])
def test_a_bad_key_is_a_400_in_the_one_error_shape_and_stores_nothing(api, admin_user, organization, key):
    account = connected_simulated_account(organization)
    api.force_authenticate(admin_user)

    response = place(api, account, key)

    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("invalid", ["Idempotency-Key"])
    assert not IdempotencyKey.objects.exists()
    assert not Operation.objects.exists()


def test_a_key_of_the_longest_length_is_kept(api, admin_user, organization):
    account = connected_simulated_account(organization)
    api.force_authenticate(admin_user)
    key = "k" * MAX_LENGTH

    first, again = place(api, account, key), place(api, account, key)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert IdempotencyKey.objects.get().key == key
