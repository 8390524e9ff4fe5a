"""Trade platforms, their credentials and API clients now live in the ``platforms`` and ``clients``
apps: ``orgs`` lets go of them in the migration state (no table is touched), and their content
types move with them (admin history and model permissions keep pointing at the same rows)."""

from django.db import migrations

MOVED = {
    "tradeplatform": "platforms",
    "managerapicredentials": "platforms",
    "reportdbcredentials": "platforms",
    "apiclient": "clients",
}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label=app_label, model=model).exists():
            ContentType.objects.filter(app_label="orgs", model=model).update(app_label=app_label)


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label="orgs", model=model).exists():
            ContentType.objects.filter(app_label=app_label, model=model).update(app_label="orgs")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orgs", "0002_platforms_and_api_clients"),
        ("platforms", "0001_initial"),
        ("clients", "0001_initial"),
        ("execution", "0003_platforms_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ManagerApiCredentials"),
                migrations.DeleteModel(name="ReportDbCredentials"),
                migrations.DeleteModel(name="ApiClient"),
                migrations.DeleteModel(name="TradePlatform"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
