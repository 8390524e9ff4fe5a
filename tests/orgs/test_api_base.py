"""The API base keeps every view to its organization's rows.

A view declaring a queryset over every organization's rows still sees only the caller's
organization's, whether its model holds the organization directly or through a relation; a view
cannot override ``get_queryset``; and every view the API routes under ``/api/v1/orgs/`` declares its
queryset and leaves the organization filter to the base.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import mixins, serializers
from rest_framework.test import APIRequestFactory, force_authenticate

from execution.accounts.models import SymbolOverride
from execution.accounts.services import symbol_override_set
from orgs.api.base import OrganizationScopedViewSet
from orgs.models import Organization
from platforms.models import TradePlatform
from tests.factories import UserFactory, connected_simulated_account, organization_with_admin

pytestmark = pytest.mark.django_db


class RowSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class ReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationScopedViewSet):
    serializer_class = RowSerializer
    pagination_class = None
    required_permissions = {"list": "view_accounts", "retrieve": "view_accounts"}


class EveryPlatform(ReadViewSet):
    queryset = TradePlatform.objects.all()


class EveryOverride(ReadViewSet):
    queryset = SymbolOverride.objects.all()
    organization_field = "account__organization"


class EveryGoldenOverride(EveryOverride):
    def safely_get_queryset(self, queryset):
        return queryset.filter(alias="GOLDEN")


class NoQueryset(ReadViewSet):
    pass


class EveryPlatformAcrossOrganizations(ReadViewSet):
    def dangerously_get_queryset(self):
        return TradePlatform.objects.all()


@pytest.fixture
def world():
    """Two organizations, each with an administrator and a simulated account (on its own platform)
    with a symbol override of the same alias."""
    result = {}
    for key in ("target", "other"):
        admin = UserFactory()
        organization = organization_with_admin(admin, key.title())
        account = connected_simulated_account(organization)
        override = symbol_override_set(account=account, alias="GOLDEN", broker_symbol="XAUUSD")
        result[key] = {
            "organization": organization,
            "admin": admin,
            "platform": account.platform_id,
            "override": override.pk,
        }
    return result


def call(viewset, action, user, **kwargs):
    request = APIRequestFactory().get("/")
    force_authenticate(request, user)
    return viewset.as_view({"get": action})(request, **kwargs)


def call_in_target(viewset, action, world, **kwargs):
    target = world["target"]
    return call(viewset, action, target["admin"], slug=target["organization"].slug, **kwargs)


ROW_KINDS = [(EveryPlatform, "platform"), (EveryOverride, "override")]


@pytest.mark.parametrize(("viewset", "kind"), ROW_KINDS)
def test_a_view_over_every_row_lists_only_its_organizations_rows(world, viewset, kind):
    assert world["other"][kind] in viewset.queryset.values_list("pk", flat=True)

    response = call_in_target(viewset, "list", world)

    assert response.status_code == 200
    assert [row["id"] for row in response.data] == [world["target"][kind]]


@pytest.mark.parametrize(("viewset", "kind"), ROW_KINDS)
def test_a_view_over_every_row_retrieves_another_organizations_row_as_404(world, viewset, kind):
    own = call_in_target(viewset, "retrieve", world, pk=world["target"][kind])
    others = call_in_target(viewset, "retrieve", world, pk=world["other"][kind])

    assert own.status_code == 200
    assert own.data["id"] == world["target"][kind]
    assert others.status_code == 404


def test_narrowing_receives_rows_already_of_the_organization(world):
    response = call_in_target(EveryGoldenOverride, "list", world)

    assert [row["id"] for row in response.data] == [world["target"]["override"]]


def test_a_view_overriding_get_queryset_is_refused_when_the_class_is_created():
    with pytest.raises(TypeError, match="safely_get_queryset"):

        class OwnFilter(OrganizationScopedViewSet):
            def get_queryset(self):
                return TradePlatform.objects.all()


def test_a_mixin_bringing_its_own_get_queryset_is_refused_too():
    class EveryRow:
        def get_queryset(self):
            return TradePlatform.objects.all()

    with pytest.raises(TypeError, match="EveryRowViewSet overrides get_queryset"):

        class EveryRowViewSet(EveryRow, OrganizationScopedViewSet):
            pass


def test_a_view_without_a_queryset_is_improperly_configured(world):
    with pytest.raises(ImproperlyConfigured, match="NoQueryset declares no `queryset`"):
        call_in_target(NoQueryset, "list", world)


def test_without_an_organization_in_the_url_only_organizations_are_listed(world):
    with pytest.raises(ImproperlyConfigured, match="no organization in its URL"):
        call(EveryPlatform, "list", world["target"]["admin"])


def test_the_escape_hatch_drops_the_organization_filter(world):
    response = call_in_target(EveryPlatformAcrossOrganizations, "list", world)

    assert {row["id"] for row in response.data} >= {world["target"]["platform"], world["other"]["platform"]}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def model_at(model, path: str):
    """The model a lookup path (``"account__organization"``, ``"pk"``) ends on."""
    for name in path.split("__"):
        if name != "pk":
            model = model._meta.get_field(name).related_model
    return model


def routed_organization_viewsets() -> set[type]:
    """The view class behind every API route under ``/api/v1/orgs/``."""
    return {
        pattern.callback.cls
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith("api/v1/orgs/")
    }


def test_every_routed_view_declares_its_queryset_and_leaves_the_filter_to_the_base():
    viewsets = routed_organization_viewsets()
    assert {cls.__name__ for cls in viewsets} >= {
        "OrganizationViewSet",
        "MemberViewSet",
        "InvitationViewSet",
        "TradePlatformViewSet",
        "ApiClientViewSet",
        "TradingAccountViewSet",
        "SymbolMapViewSet",
        "PlatformFaultsViewSet",
        "PlatformMarketViewSet",
        "OperationViewSet",
    }
    for cls in viewsets:
        assert issubclass(cls, OrganizationScopedViewSet), cls
        assert cls.queryset is not None, f"{cls.__name__} declares no queryset"
        assert cls.get_queryset is OrganizationScopedViewSet.get_queryset, cls
        assert cls.dangerously_get_queryset is OrganizationScopedViewSet.dangerously_get_queryset, (
            f"{cls.__name__} sees across organizations"
        )
        assert model_at(cls.queryset.model, cls.organization_field) is Organization, cls
