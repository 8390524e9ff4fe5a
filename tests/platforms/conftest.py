"""Fixtures for tests/platforms."""

from tests.platforms.report_db_fixtures import mt4_report_db  # noqa: F401 - real MT4 report database (session)
