"""ASGI entry point served by daphne: HTTP now, websockets join in the live-dashboard work."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ttmt_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402  (needs apps loaded)

application = ProtocolTypeRouter({"http": django_asgi_app})
