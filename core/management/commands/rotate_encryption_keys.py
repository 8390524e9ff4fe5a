"""Re-encrypt every encrypted column under the first key of TTMT_ENCRYPTION_KEYS.

Reading decrypts with whichever configured key works; saving encrypts with the first one.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from core.encryption import encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt every stored credential under the first key of TTMT_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic():
            for model, field in encrypted_fields():
                rows = list(model._default_manager.filter(**{f"{field}__isnull": False}).only(field))
                model._default_manager.bulk_update(rows, [field], batch_size=500)
                total += len(rows)
        self.stdout.write(f"Re-encrypted {total} values.")
