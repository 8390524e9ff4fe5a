"""No plaintext secret in any database column; encryption keys rotate without losing data."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from clients.services import client_create
from core.encryption import DecryptionFailed
from platforms.models import ManagerApiCredentials, ReportDbCredentials
from platforms.services import manager_api_set, platform_create, report_db_set
from tests.stored import every_stored_value

pytestmark = pytest.mark.django_db

MANAGER_LOGIN, MANAGER_PASSWORD = "manager-login-4471", "Manager-Pa55word-xyz"
REPORT_LOGIN, REPORT_PASSWORD = "report-login-9902", "Report-Pa55word-abc"


@pytest.fixture
def platform(admin_user, organization):
    platform = platform_create(
        organization=organization, name="MT5", type="mt5", api="metaapi", servers=["S"]
    )
    manager_api_set(
        actor=None,
        platform=platform,
        host="mgr.broker.example",
        port=443,
        login=MANAGER_LOGIN,
        password=MANAGER_PASSWORD,
    )
    report_db_set(
        actor=None,
        platform=platform,
        host="db.broker.example",
        port=3306,
        database="mt5",
        login=REPORT_LOGIN,
        password=REPORT_PASSWORD,
    )
    return platform


def test_no_plaintext_secret_anywhere_in_the_database(admin_user, organization, platform):
    _, client_secret = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["platforms:read"]
    )
    dump = every_stored_value()
    for secret in (MANAGER_LOGIN, MANAGER_PASSWORD, REPORT_LOGIN, REPORT_PASSWORD, client_secret):
        assert secret not in dump
    assert "mgr.broker.example" in dump  # the dump does see plain columns: the check above can fail


def test_rotating_the_encryption_key_keeps_every_credential_readable(settings, platform):
    old_key = settings.TTMT_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()

    settings.TTMT_ENCRYPTION_KEYS = [new_key, old_key]  # new key first: encrypts; old still decrypts
    assert ManagerApiCredentials.objects.get().password == MANAGER_PASSWORD
    call_command("rotate_encryption_keys", verbosity=0)

    settings.TTMT_ENCRYPTION_KEYS = [new_key]  # old key dropped
    assert ManagerApiCredentials.objects.get().password == MANAGER_PASSWORD
    report = ReportDbCredentials.objects.get()
    assert (report.login, report.password) == (REPORT_LOGIN, REPORT_PASSWORD)

    settings.TTMT_ENCRYPTION_KEYS = [old_key]  # the old key alone can no longer read them
    with pytest.raises(DecryptionFailed):
        ManagerApiCredentials.objects.get()


def test_a_wrong_key_raises_instead_of_returning_ciphertext(settings, platform):
    settings.TTMT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionFailed):
        ReportDbCredentials.objects.get()


def test_encrypted_columns_cannot_be_filtered_by_value(platform):
    with pytest.raises(TypeError, match="encrypted"):
        ManagerApiCredentials.objects.filter(password=MANAGER_PASSWORD).exists()
