"""Account homes: claimed when free, kept while the worker lives, taken over once it is dead; the
work a worker may take; a clean stop frees its homes at once. Time is moved in the rows: no sleep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from execution.engine import homes
from execution.engine.models import AccountHome, EngineWorker
from execution.orders.accept import order_place
from execution.orders.models import Operation
from tests.factories import connected_simulated_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


def die(worker_id: str) -> None:
    EngineWorker.objects.filter(pk=worker_id).update(alive_until=timezone.now() - timedelta(seconds=1))


def test_a_free_account_is_claimed_and_a_live_home_is_kept(account):
    homes.heartbeat("a", ttl=6)
    homes.heartbeat("b", ttl=6)
    assert homes.claim(account.pk, "a") == "a"
    assert homes.claim(account.pk, "b") == "a"  # a lives: b is told who the home is
    assert homes.claim(account.pk, "a") == "a"
    assert homes.heartbeat("a", ttl=6) == {account.pk}
    assert homes.heartbeat("b", ttl=6) == set()


def test_a_dead_worker_s_account_is_taken_over(account):
    homes.heartbeat("a", ttl=6)
    homes.heartbeat("b", ttl=6)
    homes.claim(account.pk, "a")
    die("a")
    assert homes.claim(account.pk, "b") == "b"
    assert AccountHome.objects.get(account=account).worker_id == "b"


def test_a_clean_stop_frees_its_homes_at_once(account):
    homes.heartbeat("a", ttl=6)
    homes.claim(account.pk, "a")
    homes.leave("a")
    assert not AccountHome.objects.exists() and not EngineWorker.objects.exists()
    homes.heartbeat("b", ttl=6)
    assert homes.claim(account.pk, "b") == "b"


def test_due_work_is_a_worker_s_own_and_the_unserved_never_another_live_home_s(account, organization):
    other = connected_simulated_account(organization, login="5002")
    homes.heartbeat("a", ttl=6)
    homes.heartbeat("b", ttl=6)
    homes.claim(account.pk, "a")
    mine = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    homeless = order_place(account=other, symbol="BTCUSD", side="buy", type="market")
    later = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    Operation.objects.filter(pk=later.pk).update(
        state=Operation.WAITING, not_before=timezone.now() + timedelta(seconds=30)
    )

    assert homes.due_work("a") == [(mine.pk, account.pk), (homeless.pk, other.pk)]  # not the one not due
    assert homes.due_work("b") == [(homeless.pk, other.pk)]  # a lives: its account's work is a's


def test_a_dead_worker_s_running_operation_is_released_and_offered(account):
    homes.heartbeat("a", ttl=6)
    homes.heartbeat("b", ttl=6)
    homes.claim(account.pk, "a")
    running = order_place(account=account, symbol="BTCUSD", side="buy", type="market")
    Operation.objects.filter(pk=running.pk).update(
        state=Operation.RUNNING, held_by="a", lease_until=timezone.now() + timedelta(seconds=60)
    )
    assert homes.due_work("b") == []  # held by a live worker under its lease

    die("a")

    assert homes.due_work("b") == [(running.pk, account.pk)]
    running.refresh_from_db()
    assert running.lease_until <= timezone.now()  # claimable now, not in 60 s


def test_long_dead_workers_are_forgotten(account):
    homes.heartbeat("old", ttl=6)
    homes.heartbeat("new", ttl=6)
    EngineWorker.objects.filter(pk="old").update(alive_until=timezone.now() - timedelta(days=2))
    assert homes.forget_dead_workers() == 1
    assert list(EngineWorker.objects.values_list("pk", flat=True)) == ["new"]
