"""Organizations, members and invitations over the API: parse, call one service, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from orgs import selectors, services
from orgs.api.base import OrganizationScopedViewSet
from orgs.api.serializers import (
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    OrganizationSerializer,
)
from orgs.models import Invitation, Membership, Organization


class OrganizationViewSet(OrganizationScopedViewSet):
    """The caller's organizations (those it belongs to; an API client's own). ``GET``/``PATCH``
    of one need membership and permissions."""

    queryset = Organization.objects.all()
    organization_field = "pk"
    serializer_class = OrganizationSerializer
    lookup_field = "slug"
    lookup_value_converter = "slug"
    required_permissions = {
        "retrieve": "view_organization",
        "partial_update": "change_organization",
    }

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def create(self, request):
        if self.api_client is not None:
            raise PermissionDenied("API clients cannot create organizations.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_create(
            creator=request.user, name=serializer.validated_data["name"]
        )
        return Response(self.get_serializer(organization).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, slug):
        return Response(self.get_serializer(self.organization).data)

    def partial_update(self, request, slug):
        serializer = self.get_serializer(self.organization, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "name" in serializer.validated_data:
            services.organization_rename(
                organization=self.organization, name=serializer.validated_data["name"]
            )
        return Response(self.get_serializer(self.organization).data)


class MemberViewSet(OrganizationScopedViewSet):
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "view_organization",
        "retrieve": "view_organization",
        "partial_update": "manage_members",
        "destroy": "manage_members",
    }

    def _rows(self, membership_id: int | None = None) -> list[dict]:
        return [
            {
                "id": membership.id,
                "user": membership.user,
                "role": membership.role,
                "permissions": sorted(permissions),
                "created_at": membership.created_at,
            }
            for membership, permissions in selectors.members_with_permissions(
                self.organization, membership_id=membership_id
            )
        ]

    def _row_for(self, pk) -> dict:
        rows = self._rows(membership_id=int(pk)) if str(pk).isdigit() else []
        if not rows:
            raise NotFound()
        return rows[0]

    def list(self, request, slug):
        return Response(MemberSerializer(self._rows(), many=True).data)

    def retrieve(self, request, slug, pk):
        return Response(MemberSerializer(self._row_for(pk)).data)

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def partial_update(self, request, slug, pk):
        membership = self.get_object()
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.membership_update(
            actor=request.user, membership=membership, request=request, **serializer.validated_data
        )
        return Response(MemberSerializer(self._row_for(pk)).data)

    def destroy(self, request, slug, pk):
        services.membership_remove(actor=request.user, membership=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(mixins.ListModelMixin, OrganizationScopedViewSet):
    queryset = Invitation.objects.select_related("invited_by")
    serializer_class = InvitationSerializer
    lookup_value_converter = "int"
    required_permissions = {
        "list": "view_organization",
        "create": "manage_members",
        "destroy": "manage_members",
        "resend": "manage_members",
    }

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def create(self, request, slug):
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            organization=self.organization,
            invited_by=request.user,
            request=request,
            **serializer.validated_data,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke a pending invitation (its link stops working).")
    def destroy(self, request, slug, pk):
        services.invitation_revoke(invitation=self.get_object(), actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses=InvitationSerializer,
        description="Email a fresh link (the previous one stops working) and restart the expiry clock.",
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, slug, pk):
        invitation = services.invitation_resend(invitation=self.get_object())
        return Response(InvitationSerializer(invitation).data)
