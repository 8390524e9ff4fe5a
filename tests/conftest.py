import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory, organization_with_admin


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Key stretching is the point in production and only slows tests down."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def admin_user(db):
    return UserFactory()


@pytest.fixture
def organization(admin_user):
    return organization_with_admin(admin_user)
