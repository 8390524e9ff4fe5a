from rest_framework.routers import SimpleRouter

from execution.signals.web import api

router = SimpleRouter(use_regex_path=False)
router.register("<slug:slug>/signal-sources", api.SignalSourceViewSet, basename="signal-source")
router.register("<slug:slug>/signal-routes", api.SignalRouteViewSet, basename="signal-route")
router.register("<slug:slug>/signal-trades", api.SignalTradeViewSet, basename="signal-trade")
router.register("<slug:slug>/signals", api.SignalViewSet, basename="signal")

urlpatterns = router.urls
