"""Django's error reports (500 page, error emails) of the views that receive a password: the posted
password is filtered, and no frame below the view shows it."""

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from platforms import services as platforms

pytestmark = pytest.mark.django_db

PASSWORD = "Posted-pa55word-3c1d"
STARS = SafeExceptionReporterFilter.cleansed_substitute


@pytest.fixture
def failing_save(monkeypatch):
    """Saving credentials fails unexpectedly, with the password in the failing frame's variables."""

    def fail(model, *, platform, password, **fields):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(platforms, "_set_credentials", fail)


@pytest.fixture
def platform(organization):
    return platforms.platform_create(
        organization=organization, name="MT4 Live", type="mt4", api="simulated", servers=["Live01"]
    )


def _report(response) -> tuple[dict, str]:
    assert response.status_code == 500
    reporter = ExceptionReporter(response.wsgi_request, *response.exc_info)
    return dict(reporter.get_traceback_data()["filtered_POST_items"]), reporter.get_traceback_html()


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("platforms:manager_api", {"host": "mgr.broker.example", "port": "443", "login": "1"}),
        (
            "platforms:report_db",
            {"host": "db.broker.example", "port": "3306", "database": "mt4", "login": "r"},
        ),
    ],
)
def test_a_page_posting_a_password_hides_it_from_error_reports(
    client, admin_user, organization, platform, failing_save, name, form
):
    client.force_login(admin_user)
    client.raise_request_exception = False

    response = client.post(
        reverse(name, args=[organization.slug, platform.pk]), {**form, "password": PASSWORD}
    )

    posted, html = _report(response)
    assert posted["password"] == STARS
    assert posted["login"] == form["login"]  # only the password is hidden
    assert PASSWORD not in html


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("manager-api", {"host": "mgr.broker.example", "port": 443, "login": "1"}),
        ("report-db", {"host": "db.broker.example", "port": 3306, "database": "mt4", "login": "r"}),
    ],
)
def test_the_api_hides_a_posted_password_from_error_reports(
    api, admin_user, organization, platform, failing_save, kind, body
):
    api.force_authenticate(admin_user)
    api.raise_request_exception = False
    url = f"/api/v1/orgs/{organization.slug}/platforms/{platform.pk}/{kind}/"

    response = api.put(url, {**body, "password": PASSWORD}, format="multipart")

    posted, html = _report(response)
    assert posted["password"] == STARS
    assert PASSWORD not in html
