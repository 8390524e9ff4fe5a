"""WSGI entry point (the ASGI one in asgi.py is what daphne serves)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ttmt_site.settings")
application = get_wsgi_application()
