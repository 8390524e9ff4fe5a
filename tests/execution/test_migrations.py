"""Execution's data migrations: MetaApi credentials narrowed without the RPC application are marked
expiring, so the next refresh narrows them again; nothing else about them changes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.platforms.test_migrations import _latest, _migrate

BEFORE = [
    ("execution", "0004_engine_and_waiting_operations"),
    ("platforms", "0002_tables_renamed"),
    ("orgs", "0003_platforms_and_clients_moved_out"),
    ("accounts", "0001_initial"),
]


@pytest.mark.django_db(transaction=True)
def test_credentials_are_marked_expiring_to_be_narrowed_again():
    try:
        old = _migrate(BEFORE)
        organization = old.get_model("orgs", "Organization").objects.create(name="Desk", slug="desk-1")
        platform = old.get_model("platforms", "TradePlatform").objects.create(
            organization=organization, name="MetaApi", type="mt5", api="metaapi", servers=["Live01"]
        )
        account = old.get_model("execution", "TradingAccount").objects.create(
            organization=organization,
            platform=platform,
            name="Main",
            type="live",
            login="5001",
            server="Live01",
        )
        later = timezone.now() + timedelta(days=5)
        old.get_model("execution", "AccountCredential").objects.create(
            account=account, token="narrowed-token", expires_at=later
        )

        new = _migrate(_latest())

        credential = new.get_model("execution", "AccountCredential").objects.get()
        assert credential.expires_at <= timezone.now()
        assert credential.token == "narrowed-token"
    finally:
        _migrate(_latest())
