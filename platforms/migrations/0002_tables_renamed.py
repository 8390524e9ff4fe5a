"""The tables taken over from ``orgs`` get this app's names (a rename: every row stays)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("platforms", "0001_initial"),
        ("orgs", "0003_platforms_and_clients_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="tradeplatform", table=None),
        migrations.AlterModelTable(name="managerapicredentials", table=None),
        migrations.AlterModelTable(name="reportdbcredentials", table=None),
    ]
