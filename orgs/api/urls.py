from django.urls import path
from rest_framework.routers import SimpleRouter

from orgs import security_views
from orgs.api import views

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/members", views.MemberViewSet, basename="member")
router.register("<slug:slug>/invitations", views.InvitationViewSet, basename="invitation")
router.register("", views.OrganizationViewSet, basename="organization")

urlpatterns = [
    path(
        "<slug:slug>/security/",
        security_views.OrganizationSecurityViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="organization-security",
    ),
    *router.urls,
]
