"""Fixtures of the signal tests: an account and a (manual) source of the organization, an admin's
API client, and another organization."""

import pytest

from tests.execution.signals import factories
from tests.factories import UserFactory, connected_simulated_account, organization_with_admin


@pytest.fixture
def admin_api(api, admin_user):
    api.force_authenticate(admin_user)
    return api


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization)


@pytest.fixture
def source(organization):
    return factories.source(organization)


@pytest.fixture
def other_org(db):
    return organization_with_admin(UserFactory(), "Elsewhere")
