"""Benchmark: an API client's authenticated GET of a list endpoint, on one process.

Reports requests per second through the whole Django/DRF stack (in-process, no network), the
cost of authentication alone (secret verification, and the full client look-up), and for
comparison what a key-stretching hash (Django's PBKDF2) would cost per request.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ttmt_bench .venv/bin/python bench/api_client_auth.py
"""

import os
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ttmt_site.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from clients.services import client_authenticate, client_create, hash_secret  # noqa: E402
from orgs.services import organization_create  # noqa: E402
from platforms.services import platform_create  # noqa: E402
from tests.factories import basic_auth  # noqa: E402


def main(requests: int = 3000) -> None:
    from django.test.utils import get_runner

    setup_test_environment()
    runner = get_runner(settings)(verbosity=0)
    old_config = runner.setup_databases()
    try:
        from accounts.models import User

        user = User.objects.create_user("bench@example.com", "x" * 20)
        organization = organization_create(creator=user, name="Bench")
        for n in range(20):
            platform_create(
                organization=organization, name=f"P{n}", type="mt5", api="simulated", servers=["S"]
            )
        client, secret = client_create(
            organization=organization, created_by=user, name="bench", scopes=["platforms:read"]
        )

        digest = client.secret_hash
        verify = timeit.repeat(lambda: hash_secret(secret) == digest, number=100_000, repeat=5)
        lookup = timeit.repeat(
            lambda: client_authenticate(client_id=client.client_id, secret=secret), number=2_000, repeat=5
        )
        pbkdf2 = PBKDF2PasswordHasher()
        encoded = pbkdf2.encode(secret, pbkdf2.salt())
        stretched = timeit.repeat(lambda: pbkdf2.verify(secret, encoded), number=5, repeat=3)

        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=basic_auth(client.client_id, secret))
        url = f"/api/v1/orgs/{organization.slug}/platforms/"
        assert api.get(url).status_code == 200
        latencies = []
        started = time.perf_counter()
        for _ in range(requests):
            t0 = time.perf_counter()
            response = api.get(url)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code == 200
        elapsed = time.perf_counter() - started
        latencies.sort()

        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print(f"secret verification (SHA-256 + compare): {min(verify) / 100_000 * 1e6:.2f} us")
        print(f"client_authenticate (DB look-up + verify): {min(lookup) / 2_000 * 1e6:.0f} us")
        print(
            f"for comparison, PBKDF2 ({pbkdf2.iterations} iterations) verify: "
            f"{min(stretched) / 5 * 1e3:.0f} ms"
        )
        print(
            f"GET {url.split('/platforms')[0]}/platforms/ (20 rows), {requests} requests, one process: "
            f"{requests / elapsed:.0f} req/s, p50 {statistics.median(latencies) * 1e3:.2f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms"
        )
    finally:
        runner.teardown_databases(old_config)


if __name__ == "__main__":
    main()
