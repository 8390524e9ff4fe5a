from rest_framework.routers import SimpleRouter

from execution.web.api import views

router = SimpleRouter(use_regex_path=False)
router.register(
    "<slug:slug>/accounts/<int:account_id>/symbol-map", views.SymbolMapViewSet, basename="symbol-map"
)
router.register(
    "<slug:slug>/accounts/<int:account_id>/operations", views.OperationViewSet, basename="operation"
)
router.register("<slug:slug>/accounts", views.TradingAccountViewSet, basename="account")
router.register("<slug:slug>/platform-faults", views.PlatformFaultsViewSet, basename="platform-faults")
router.register("<slug:slug>/platform-market", views.PlatformMarketViewSet, basename="platform-market")

urlpatterns = router.urls
