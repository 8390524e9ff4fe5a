from rest_framework.routers import SimpleRouter

from orgs.api import views

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/members", views.MemberViewSet, basename="member")
router.register("<slug:slug>/invitations", views.InvitationViewSet, basename="invitation")
router.register("", views.OrganizationViewSet, basename="organization")

urlpatterns = router.urls
