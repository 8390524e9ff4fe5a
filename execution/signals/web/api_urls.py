from rest_framework.routers import SimpleRouter

from execution.signals.web import api

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/signals", api.SignalParseViewSet, basename="signal")

urlpatterns = router.urls
