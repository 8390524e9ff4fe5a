"""Encryption at rest for credentials: a model field on ``cryptography``'s MultiFernet.

Keys come from ``settings.TTMT_ENCRYPTION_KEYS`` (first one encrypts, all decrypt), so a key is
rotated by putting the new key first, running ``manage.py rotate_encryption_keys``, then dropping
the old key. A value that no configured key can decrypt raises ``DecryptionFailed``: it is never
returned as ciphertext.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionFailed(Exception):
    pass


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("TTMT_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(f"TTMT_ENCRYPTION_KEYS holds an invalid key: {error}") from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.TTMT_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed(
            "A stored credential cannot be decrypted with the configured TTMT_ENCRYPTION_KEYS"
        ) from None


def reencrypt(token: str) -> str:
    """The same plaintext, encrypted under the first (primary) key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed("A stored credential cannot be decrypted for rotation") from None


class EncryptedTextField(models.TextField):
    """Stores ciphertext, gives plaintext. Not filterable (every encryption differs)."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise TypeError(f"An encrypted field cannot be filtered with {lookup_name!r}")
        return super().get_lookup(lookup_name)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    from django.apps import apps

    return [
        (model, field.attname)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
