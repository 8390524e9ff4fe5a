"""Every list caps ``limit`` at MAX_LIMIT and answers an absurd limit or offset, never a 500."""

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.pagination import MAX_LIMIT, BoundedLimitOffsetPagination
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db

HUGE = "1951908912009746317312"


def test_a_limit_past_the_cap_is_the_cap():
    request = Request(APIRequestFactory().get("/", {"limit": str(MAX_LIMIT * 10)}))
    assert BoundedLimitOffsetPagination().get_limit(request) == MAX_LIMIT


@pytest.mark.parametrize(
    "query",
    [
        f"limit={HUGE}",
        f"offset={HUGE}",
        f"limit={HUGE}&offset={HUGE}",
        "limit=-1&offset=-5",
        "limit=" + "9" * 5000,
    ],
)
def test_absurd_limits_and_offsets_answer_a_page(api, admin_user, organization, query):
    account = connected_simulated_account(organization)
    api.force_authenticate(admin_user)
    accounts = f"/api/v1/orgs/{organization.slug}/accounts/"
    for url in (accounts, f"{accounts}{account.pk}/operations/"):
        response = api.get(f"{url}?{query}")
        assert response.status_code == 200, (url, response.content[:200])
        assert set(response.json()) == {"count", "next", "previous", "results"}
