import pytest
from django.contrib import admin
from django.urls import reverse

from orgs.services import invitation_create
from tests.factories import UserFactory, add_member, organization_with_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    organization = organization_with_admin(user)
    add_member(organization)
    invitation_create(organization=organization, invited_by=user, email="i@example.com", role="viewer")
    client.force_login(user)
    return client


def registered_models():
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_every_admin_changelist_and_change_page_loads(superuser_client, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert superuser_client.get(changelist).status_code == 200
    assert superuser_client.get(changelist, {"q": "example"}).status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert superuser_client.get(change).status_code == 200


def test_every_project_model_is_in_the_admin():
    from django.apps import apps

    ours = {m for app in ("accounts", "orgs", "execution") for m in apps.get_app_config(app).get_models()}
    assert ours <= set(admin.site._registry)


def test_invitation_admin_never_shows_the_token_hash(superuser_client):
    from orgs.models import Invitation

    invitation = Invitation.objects.get()
    page = superuser_client.get(reverse("admin:orgs_invitation_change", args=[invitation.pk]))
    assert invitation.token_hash not in page.content.decode()
