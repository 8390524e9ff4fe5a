"""The audit log itself: append-only in the ORM and (on PostgreSQL) in the database, secrets
refused, actors named for good, and the listing's filters."""

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import kinds, selectors
from audit.models import AuditEvent, AuditLogIsAppendOnly
from audit.services import field_changes, record_audit_event, secret_changed
from clients.services import client_create
from tests.factories import UserFactory, add_member, organization_with_admin

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def event(organization, admin_user):
    return record_audit_event(
        organization=organization,
        actor=admin_user,
        kind=kinds.MEMBER_REMOVED,
        target=organization,
        changes={"role": {"before": "viewer", "after": None}},
    )


def test_an_event_is_never_updated_through_the_orm(event):
    event.kind = kinds.MEMBER_JOINED
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(kind=kinds.MEMBER_JOINED)
    with pytest.raises(AuditLogIsAppendOnly), transaction.atomic():  # bulk_update breaks its transaction
        AuditEvent.objects.bulk_update([event], ["kind"])
    assert AuditEvent.objects.get(pk=event.pk).kind == kinds.MEMBER_REMOVED


def test_an_event_is_never_deleted_through_the_orm(event):
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_an_organization_with_an_audit_trail_is_not_deleted(event, organization):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        organization.delete()


@on_postgresql
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET kind = 'member.joined' WHERE id = %s",
        "UPDATE audit_auditevent SET changes = '{}' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).changes == event.changes


@on_postgresql
def test_the_database_refuses_to_point_an_event_at_another_actor(event):
    other = UserFactory()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET actor_user_id = %s WHERE id = %s", [other.pk, event.pk])


def test_a_deleted_actor_is_still_named(organization):
    member = add_member(organization).user
    email = member.email
    recorded = record_audit_event(
        organization=organization, actor=member, kind=kinds.MEMBER_JOINED, target=organization
    )

    member.delete()  # the database nulls the link (allowed by the trigger), nothing else

    recorded = AuditEvent.objects.get(pk=recorded.pk)
    assert recorded.actor_user is None
    assert recorded.actor_label == email


def test_an_api_client_and_the_system_are_named_as_actors(organization, admin_user):
    client, _ = client_create(
        organization=organization, created_by=admin_user, name="bot", scopes=["accounts:read"]
    )
    by_client = record_audit_event(
        organization=organization, actor=client, kind=kinds.ACCOUNT_RISK_SETTINGS_CHANGED, target=organization
    )
    by_system = record_audit_event(
        organization=organization, actor=None, kind=kinds.KILL_SWITCH_ENGAGED, target=organization
    )
    assert (by_client.actor_client, by_client.actor_user) == (client, None)
    assert by_client.actor_label == f"API client bot ({client.client_id})"
    assert (by_system.actor_label, by_system.actor_user, by_system.actor_client) == ("system", None, None)


def test_a_kind_outside_the_registry_is_refused(organization, admin_user):
    with pytest.raises(ValueError, match="audit.kinds.KINDS"):
        record_audit_event(organization=organization, actor=admin_user, kind="made.up", target=organization)
    assert not AuditEvent.objects.filter(kind="made.up").exists()


@pytest.mark.parametrize("name", ["password", "client_secret", "token", "setup_password"])
def test_a_secret_value_is_refused_and_only_its_change_is_recorded(organization, admin_user, name):
    with pytest.raises(ValueError, match="secret"):
        record_audit_event(
            organization=organization,
            actor=admin_user,
            kind=kinds.PLATFORM_CREDENTIALS_CHANGED,
            target=organization,
            changes={name: {"before": None, "after": "hunter2-value"}},
        )
    recorded = record_audit_event(
        organization=organization,
        actor=admin_user,
        kind=kinds.PLATFORM_CREDENTIALS_CHANGED,
        target=organization,
        changes=secret_changed(name),
    )
    assert recorded.changes == {name: {"changed": True}}
    assert "hunter2-value" not in str(AuditEvent.objects.filter(organization=organization).values())


def test_field_changes_keeps_only_what_differs():
    assert field_changes({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4}) == {
        "b": {"before": 2, "after": 5},
        "c": {"before": 3, "after": None},
        "d": {"before": None, "after": 4},
    }


def test_the_ip_comes_from_the_request(rf, organization, admin_user):
    recorded = record_audit_event(
        organization=organization,
        actor=admin_user,
        kind=kinds.MEMBER_JOINED,
        target=organization,
        request=rf.get("/", REMOTE_ADDR="203.0.113.7"),
    )
    assert AuditEvent.objects.get(pk=recorded.pk).ip == "203.0.113.7"


def test_the_listing_filters_by_kind_actor_and_time_newest_first(organization, admin_user):
    other_org = organization_with_admin(UserFactory(), "Other")
    member = add_member(organization).user
    now = timezone.now()
    first = record_audit_event(
        organization=organization, actor=admin_user, kind=kinds.MEMBER_JOINED, target=organization
    )
    second = record_audit_event(
        organization=organization, actor=member, kind=kinds.MEMBER_REMOVED, target=organization
    )
    record_audit_event(organization=other_org, actor=admin_user, kind=kinds.MEMBER_JOINED, target=other_org)

    assert list(selectors.audit_events_for(organization)) == [second, first]
    assert list(selectors.audit_events_for(organization, kind=kinds.MEMBER_JOINED)) == [first]
    assert list(selectors.audit_events_for(organization, actor=member.email.upper())) == [second]
    assert list(selectors.audit_events_for(organization, since=now - timedelta(minutes=1))) == [second, first]
    assert list(selectors.audit_events_for(organization, until=now - timedelta(minutes=1))) == []


def test_the_listing_is_paginated(organization, admin_user, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    for _ in range(3):
        record_audit_event(
            organization=organization, actor=admin_user, kind=kinds.MEMBER_JOINED, target=organization
        )
    first, second = (
        selectors.audit_events_page(organization, page=1),
        selectors.audit_events_page(organization, page=2),
    )
    assert (len(first), len(second), first.paginator.num_pages) == (2, 1, 2)
    assert selectors.audit_events_page(organization, page=99).number == 2


def test_behind_a_trusted_proxy_the_ip_is_the_one_it_reports(rf, settings, organization, admin_user):
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.4")

    recorded = record_audit_event(
        organization=organization,
        actor=admin_user,
        kind=kinds.MEMBER_JOINED,
        target=organization,
        request=request,
    )

    assert AuditEvent.objects.get(pk=recorded.pk).ip == "198.51.100.4"
