from rest_framework.routers import SimpleRouter

from platforms.api import views

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/platforms", views.TradePlatformViewSet, basename="platform")

urlpatterns = router.urls
