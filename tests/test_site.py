"""The site as a whole: configuration, the schema, the SQLite embedded default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, env_overrides, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "EMAIL_"))
    }
    env.update({"TTMT_VAR_DIR": str(tmp_path)}, **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        tmp_path=tmp_path,
        env_overrides={
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "a-production-secret-" + "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "ttmt.example.com",
            "DATABASE_URL": "postgres://ttmt@127.0.0.1:5432/ttmt",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "EMAIL_HOST": "smtp.example.com",
            "TTMT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "TTMT_METRICS_TOKEN": "a-metrics-token",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DJANGO_SECRET_KEY is required"),
        ({"DJANGO_SECRET_KEY": "k" * 50}, "TTMT_ENCRYPTION_KEYS is required"),
    ],
)
def test_production_refuses_to_start_without_its_keys(tmp_path, env, message):
    result = manage("check", tmp_path=tmp_path, env_overrides={"DJANGO_DEBUG": "0", **env})
    assert result.returncode != 0
    assert message in result.stderr


def test_embedded_default_runs_on_a_sqlite_file(tmp_path):
    """With no configuration at all: a SQLite file under the var dir (created if missing, as on a
    fresh clone), migrations apply."""
    var_dir = tmp_path / "var"
    result = manage("migrate", "--noinput", tmp_path=var_dir, env_overrides={})
    assert result.returncode == 0, result.stderr
    assert (var_dir / "ttmt.sqlite3").stat().st_size > 0
    result = manage("check", tmp_path=var_dir, env_overrides={})
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_embedded_mailbox_writes_each_email_to_a_file_and_logs_where(settings, tmp_path, caplog):
    from django.core.mail import send_mail

    settings.EMAIL_BACKEND = "accounts.mailbox.MailboxBackend"
    settings.MAILBOX_DIR = tmp_path
    send_mail("Hello", "the body", None, ["ada@example.com"])
    (path,) = tmp_path.glob("*.eml")
    assert "the body" in path.read_text()
    assert str(path) in caplog.text


@pytest.mark.django_db
def test_openapi_schema_and_docs(api, admin_user):
    api.force_authenticate(admin_user)
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/orgs/{slug}/invitations/{id}/resend/" in paths
    assert "/api/v1/orgs/{slug}/members/{id}/" in paths
    assert api.get("/api/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_unknown_api_path_and_bad_json_use_the_one_error_shape(api, admin_user):
    api.force_authenticate(admin_user)
    response = api.post("/api/v1/orgs/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"status", "code", "message", "fields"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/orgs/acme/accounts/not-a-number/", "/api/"])
def test_an_unknown_api_path_is_a_404_in_the_one_error_shape(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"status": 404, "code": "not_found", "message": "Not found.", "fields": {}}
    }


@pytest.mark.django_db
def test_an_unknown_page_stays_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_crash_under_the_api_is_a_500_in_the_one_error_shape(api, admin_user, monkeypatch):
    from orgs.api import views

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.OrganizationViewSet, "list", crash)
    api.force_authenticate(admin_user)
    api.raise_request_exception = False
    response = api.get("/api/v1/orgs/")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "status": 500,
        "code": "server_error",
        "message": "A server error occurred.",
        "fields": {},
    }


@pytest.mark.django_db
def test_a_refused_host_under_the_api_is_a_400_in_the_one_error_shape(client):
    response = client.get("/api/v1/orgs/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_a_body_past_the_upload_limit_is_a_413_in_the_one_error_shape(api, admin_user):
    api.force_authenticate(admin_user)
    body = '{"name": "' + "x" * 3_000_000 + '"}'  # DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MB
    response = api.post("/api/v1/orgs/", body, content_type="application/json")
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (413, "request_too_large")
