"""Fixtures for tests/orgs."""

from tests.orgs.report_db_fixtures import mt4_report_db  # noqa: F401 - real MT4 report database (session)
