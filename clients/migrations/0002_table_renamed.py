"""The table taken over from ``orgs`` gets this app's name (a rename: every row stays)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("orgs", "0003_platforms_and_clients_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="apiclient", table=None),
    ]
