from rest_framework.routers import SimpleRouter

from execution.protection.web import api

router = SimpleRouter(use_regex_path=False)
router.register(
    "<slug:slug>/protection-settings", api.ProtectionSettingsViewSet, basename="protection-settings"
)
router.register("<slug:slug>/trade-protection", api.TradeProtectionViewSet, basename="trade-protection")

urlpatterns = router.urls
