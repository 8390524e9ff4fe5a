from rest_framework.routers import SimpleRouter

from orgs.api import views

router = SimpleRouter()
router.register(r"(?P<slug>[-\w]+)/members", views.MemberViewSet, basename="member")
router.register(r"(?P<slug>[-\w]+)/invitations", views.InvitationViewSet, basename="invitation")
router.register(r"", views.OrganizationViewSet, basename="organization")

urlpatterns = router.urls
