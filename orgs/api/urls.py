from rest_framework.routers import SimpleRouter

from orgs.api import platform_views, views

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/members", views.MemberViewSet, basename="member")
router.register("<slug:slug>/invitations", views.InvitationViewSet, basename="invitation")
router.register("<slug:slug>/platforms", platform_views.TradePlatformViewSet, basename="platform")
router.register("<slug:slug>/clients", platform_views.ApiClientViewSet, basename="client")
router.register("", views.OrganizationViewSet, basename="organization")

urlpatterns = router.urls
