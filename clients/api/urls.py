from rest_framework.routers import SimpleRouter

from clients.api import views

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/clients", views.ApiClientViewSet, basename="client")

urlpatterns = router.urls
