"""Trade platforms, their credentials and API clients moved from ``orgs`` to their own apps: every
row survives the migration, with its id, its encrypted secrets and what points at it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_THE_MOVE = [
    ("orgs", "0002_platforms_and_api_clients"),
    ("execution", "0002_operations_and_safety"),
    ("platforms", None),
    ("clients", None),
]


def _migrate(targets):
    """Migrate to ``targets``; the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    applied = [target for target in targets if target[1] is not None]
    return executor.loader.project_state([*applied, ("contenttypes", "0002_remove_content_type_name")]).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_moving_platforms_and_clients_out_of_orgs_keeps_every_row():
    try:
        old = _migrate(BEFORE_THE_MOVE)
        user = old.get_model("accounts", "User").objects.create(email="owner@example.com", password="x")
        organization = old.get_model("orgs", "Organization").objects.create(name="Desk", slug="desk-1")
        platform = old.get_model("orgs", "TradePlatform").objects.create(
            organization=organization, name="MT5 Live", type="mt5", api="simulated", servers=["Live01"]
        )
        old.get_model("orgs", "ManagerApiCredentials").objects.create(
            platform=platform, host="10.0.0.5", port=443, login="1001", password="manager-secret"
        )
        old.get_model("orgs", "ReportDbCredentials").objects.create(
            platform=platform, host="db", port=3306, database="mt5", login="reader", password="db-secret"
        )
        client = old.get_model("orgs", "ApiClient").objects.create(
            organization=organization,
            name="Bot",
            client_id="ttmt_0123456789abcdef0123",
            secret_hash="f" * 64,
            secret_hint="abcd…wxyz",
            scopes=["accounts:read"],
            created_by=user,
        )
        account = old.get_model("execution", "TradingAccount").objects.create(
            organization=organization,
            platform=platform,
            name="Main",
            type="demo",
            login="5001",
            server="Live01",
        )
        old.get_model("execution", "SafetyEvent").objects.create(
            organization=organization,
            platform=platform,
            monitor="health",
            from_state="healthy",
            to_state="paused",
            cause="3 failures",
            at="2026-12-01T10:00:00Z",
        )
        content_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
            app_label="orgs", model="tradeplatform"
        )[0]

        new = _migrate(_latest())

        moved = new.get_model("platforms", "TradePlatform").objects.get()
        assert (moved.pk, moved.name, moved.servers, moved.organization_id) == (
            platform.pk,
            "MT5 Live",
            ["Live01"],
            organization.pk,
        )
        manager = new.get_model("platforms", "ManagerApiCredentials").objects.get(platform=moved)
        assert (manager.login, manager.password) == ("1001", "manager-secret")  # still decrypts
        report_db = new.get_model("platforms", "ReportDbCredentials").objects.get(platform=moved)
        assert (report_db.login, report_db.password) == ("reader", "db-secret")
        moved_client = new.get_model("clients", "ApiClient").objects.get()
        assert (moved_client.pk, moved_client.client_id, moved_client.created_by_id) == (
            client.pk,
            client.client_id,
            user.pk,
        )
        assert new.get_model("execution", "TradingAccount").objects.get(pk=account.pk).platform_id == moved.pk
        assert new.get_model("execution", "SafetyEvent").objects.get().platform_id == moved.pk
        ContentType = new.get_model("contenttypes", "ContentType")
        assert ContentType.objects.get(pk=content_type.pk).app_label == "platforms"

        tables = set(connection.introspection.table_names())
        assert {"platforms_tradeplatform", "platforms_managerapicredentials", "clients_apiclient"} <= tables
        assert not {"orgs_tradeplatform", "orgs_apiclient"} & tables
    finally:
        _migrate(_latest())
