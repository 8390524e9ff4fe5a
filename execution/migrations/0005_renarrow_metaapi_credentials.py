"""MetaApi credentials narrowed before the 'metaapi-rpc-api' application was asked for cannot trade
through RPC: mark them expiring, so the hourly refresh (``refresh_expiring_credentials``) narrows
them again with the applications trading needs. The tokens themselves are not read here."""

from django.db import migrations
from django.utils import timezone


def expire_credentials(apps, schema_editor):
    apps.get_model("execution", "AccountCredential").objects.update(expires_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("execution", "0004_engine_and_waiting_operations")]

    operations = [migrations.RunPython(expire_credentials, migrations.RunPython.noop)]
