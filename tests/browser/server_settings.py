"""Settings of the live server the browser tests start (``manage.py runserver``, the embedded default
with its in-process workers and streaming): the product's settings on the test database, with a
short safety-pause cooldown and a quick streaming loop so that a test sees red, yellow, green."""

import os

from ttmt_site.settings import *  # noqa: F403
from ttmt_site.settings import DATABASES, TTMT_SAFETY

DATABASES["default"]["NAME"] = os.environ["TTMT_BROWSER_DB_NAME"]
TTMT_SAFETY = {**TTMT_SAFETY, "pause": {**TTMT_SAFETY["pause"], "cooldown": 4.0}}
TTMT_LIVE_STREAM = {"relist_every": 2.0, "safety_every": 0.5, "pump_every": 0.5, "positions_every": 0.5}
# The test process creates users with its fast hasher (tests/conftest.py).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
