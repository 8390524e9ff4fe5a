"""API clients over the API: list, create (secret shown once), rotate, revoke.

Error reports of these views show no local variable below the view: none can carry the secret.
"""

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from clients import services
from clients.api.serializers import (
    ApiClientCreateSerializer,
    ApiClientSerializer,
    ApiClientWithSecretSerializer,
)
from clients.models import ApiClient
from orgs.api.base import OrganizationScopedViewSet


@method_decorator(sensitive_variables(), name="dispatch")
class ApiClientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationScopedViewSet):
    queryset = ApiClient.objects.select_related("created_by")
    serializer_class = ApiClientSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "manage_clients",
        "retrieve": "manage_clients",
        "create": "manage_clients",
        "destroy": "manage_clients",
        "rotate": "manage_clients",
    }

    @staticmethod
    def _with_secret(client, secret) -> dict:
        data = ApiClientSerializer(client).data
        return {**data, "client_secret": secret}

    @extend_schema(request=ApiClientCreateSerializer, responses={201: ApiClientWithSecretSerializer})
    def create(self, request, slug):
        serializer = ApiClientCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client, secret = services.client_create(
            organization=self.organization,
            created_by=request.user,
            request=request,
            **serializer.validated_data,
        )
        return Response(self._with_secret(client, secret), status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke the client: its secret stops working at once.")
    def destroy(self, request, slug, pk):
        services.client_revoke(client=self.get_object(), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses=ApiClientWithSecretSerializer,
        description="Replace the secret (the old one stops working); the new one is shown once.",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, slug, pk):
        client, secret = services.client_rotate(client=self.get_object(), actor=request.user, request=request)
        return Response(self._with_secret(client, secret))
