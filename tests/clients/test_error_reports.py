"""Django's error reports of the client views: a new secret shows in no frame below the view."""

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from clients import pages, services

pytestmark = pytest.mark.django_db


def test_a_failure_after_creating_a_client_does_not_report_its_secret(
    client, admin_user, organization, monkeypatch
):
    created, create = [], services.client_create

    def create_and_remember(**kwargs):
        result = create(**kwargs)
        created.append(result[1])
        return result

    def fail(*args, **kwargs):
        raise RuntimeError("the template went away")

    monkeypatch.setattr(services, "client_create", create_and_remember)
    monkeypatch.setattr(pages, "render", fail)
    client.force_login(admin_user)
    client.raise_request_exception = False

    response = client.post(
        reverse("clients:list", args=[organization.slug]), {"name": "Bot", "scopes": ["platforms:read"]}
    )

    assert response.status_code == 500 and created
    html = ExceptionReporter(response.wsgi_request, *response.exc_info).get_traceback_html()
    assert "the template went away" in html
    assert created[0] not in html
