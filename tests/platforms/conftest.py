"""Fixtures for tests/platforms."""

import pytest

from tests.platforms.report_db_fixtures import mt4_report_db  # noqa: F401 - real MT4 report database (session)


@pytest.fixture
def private_addresses_allowed(settings):
    """The operator setting a test needs to reach a server on this machine (core.egress)."""
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True
