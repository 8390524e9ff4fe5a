"""The registry of operation kinds: priorities, retry profiles, deadlines, parameters and look-ups."""

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from core.errors import ServiceError
from execution.broker.gateways.base import OrderKind, OrderRequest, Side
from execution.broker.registry import gateway_for
from execution.live.streaming import StreamConfig, Streamer
from execution.orders import pipeline
from execution.orders.accept import submit
from execution.orders.kinds import KINDS, BrokerCall, OperationKind, kind_of
from execution.orders.models import Operation
from execution.safety.retry import DEFAULT_PROFILES, load_profiles
from execution.safety.speed import Priority
from tests.factories import connected_simulated_account

HIGH, NORMAL, LOW = Priority.HIGH, Priority.NORMAL, Priority.LOW


@pytest.mark.parametrize(
    ("operation", "priority"),
    [
        ("close_position", HIGH),
        ("breakeven", HIGH),
        ("modify_sl", HIGH),
        ("modify_sltp", HIGH),
        ("cancel_order", HIGH),
        ("place_order", NORMAL),
        ("modify_order", NORMAL),
        ("modify_tp", NORMAL),
        ("query", LOW),
    ],
)
def test_operation_priorities(operation, priority):
    assert kind_of(operation).priority is priority


def test_every_kind_has_a_priority_and_a_retry_profile():
    prioritised = {name for name, kind in KINDS.items() if isinstance(kind.priority, Priority)}
    profiled = {name for name, kind in KINDS.items() if kind.retry_profile in DEFAULT_PROFILES}
    assert prioritised == profiled == set(KINDS)


@pytest.mark.parametrize(
    ("operation", "profile"),
    [
        ("place_order", "order_placement"),
        ("modify_order", "order_placement"),
        ("modify_sl", "breakeven"),
        ("breakeven", "breakeven"),
        ("modify_sltp", "breakeven"),
        ("modify_tp", "tp_modification"),
        ("close_position", "position_close"),
        ("cancel_order", "order_cancel"),
        ("query", "query"),
    ],
)
def test_operation_to_profile(operation, profile):
    assert DEFAULT_PROFILES[kind_of(operation).retry_profile].name == profile


def test_the_streaming_connection_retries_by_the_connection_profile():
    assert Streamer(StreamConfig()).profile.name == "connection"


def test_every_profile_is_used():
    used = {kind.retry_profile for kind in KINDS.values()} | {Streamer(StreamConfig()).profile.name}
    assert used == set(DEFAULT_PROFILES)


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="operation"):
        kind_of("teleport")


def test_a_kind_s_profile_honours_overrides():
    profiles = load_profiles({"breakeven": {"initial_delay": 0.1, "max_delay": 0.3, "max_retries": 3}})
    assert profiles[kind_of("modify_sl").retry_profile].initial_delay == 0.1


@pytest.mark.parametrize(
    ("operation", "deadline_class"),
    [
        ("close_position", "high"),
        ("breakeven", "high"),
        ("modify_sl", "high"),
        ("modify_sltp", "high"),
        ("cancel_order", "high"),
        ("place_order", "normal"),
        ("modify_order", "normal"),
        ("modify_tp", "normal"),
        ("query", "low"),
    ],
)
def test_deadline_classes(operation, deadline_class, settings):
    settings.TTMT_OPERATION_DEADLINE = {"high": 3600, "normal": 60, "low": 30}
    kind = kind_of(operation)
    before = timezone.now()
    deadline = pipeline.operation_deadline(kind)
    seconds = settings.TTMT_OPERATION_DEADLINE[deadline_class]
    assert kind.deadline_class == deadline_class
    assert before + timedelta(seconds=seconds) <= deadline <= timezone.now() + timedelta(seconds=seconds)


def test_the_model_s_choices_are_the_kinds_with_their_names_spelt_out():
    expected = [
        ("place_order", "place order"),
        ("modify_sl", "modify sl"),
        ("breakeven", "breakeven"),
        ("modify_tp", "modify tp"),
        ("modify_sltp", "modify sltp"),
        ("close_position", "close position"),
        ("cancel_order", "cancel order"),
        ("modify_order", "modify order"),
        ("open_trade", "open trade"),
        ("manage_trade", "manage trade"),
        ("query", "query"),
    ]
    assert [(kind.name, kind.label) for kind in KINDS.values()] == expected
    assert expected == Operation.KIND_CHOICES


def test_a_kind_requires_only_parameters_it_has():
    assert all(kind.required <= kind.parameters for kind in KINDS.values())
    with pytest.raises(ValueError, match="not among its parameters"):
        OperationKind(
            name="teleport",
            priority=LOW,
            retry_profile="query",
            parameters=frozenset(),
            required=frozenset({"where"}),
            send=KINDS["query"].send,
            look_up=None,
        )


# -- submit ------------------------------------------------------------------------------------------
@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("teleport", {}, "Unknown operation kind 'teleport'"),
        ("cancel_order", {"order_id": "1", "volume": "1"}, "takes no volume"),
        ("query", {"order_id": "1"}, "takes no order_id; its parameters are none"),
        ("modify_sl", {"position_id": "1"}, "needs sl"),
        ("place_order", {"symbol": "BTCUSD"}, "needs side, type"),
    ],
)
def test_submit_refuses_what_the_kind_does_not_take_and_writes_nothing(account, kind, params, message):
    with pytest.raises(ServiceError, match=message):
        submit(account=account, kind=kind, params=params)
    assert not Operation.objects.exists()


@pytest.mark.django_db
def test_submit_accepts_a_kind_by_its_entry(account):
    operation = submit(account=account, kind="query", params={}, requested_by="tester")
    assert (operation.kind, operation.priority, operation.params) == ("query", LOW, {})
    assert operation.deadline > timezone.now()


# -- look-ups after an unknown outcome ---------------------------------------------------------------
async def _no_database_work(*args, **kwargs):
    raise AssertionError("a look-up does no database work")


def on_broker(account, use):
    """Run ``use(gateway)`` on the account's connected simulated gateway."""

    async def run():
        async with gateway_for(account) as gateway:
            return await use(gateway)

    return async_to_sync(run)()


def look_up(account, operation: str, params: dict, client_tag: str = "ttmt-none"):
    def call(gateway):
        return kind_of(operation).look_up(
            BrokerCall(
                gateway=gateway,
                params=params,
                client_tag=client_tag,
                volume_for=_no_database_work,
                remember=_no_database_work,
                pace=_no_database_work,
            )
        )

    return on_broker(account, call)


def open_position(account, *, volume: Decimal | None = None, client_tag: str | None = None):
    async def place(gateway):
        spec = await gateway.symbol_spec("BTCUSD")
        request = OrderRequest(
            "BTCUSD", Side.BUY, OrderKind.MARKET, volume or spec.volume_min, client_tag=client_tag
        )
        result = await gateway.place_order(request)
        return next(p for p in await gateway.positions() if p.id == result.position_id)

    return on_broker(account, place)


def pending_order(account):
    async def place(gateway):
        spec, quote = await gateway.symbol_spec("BTCUSD"), await gateway.price("BTCUSD")
        price = (quote.ask * Decimal("0.9")).quantize(spec.tick_size)
        request = OrderRequest("BTCUSD", Side.BUY, OrderKind.LIMIT, spec.volume_min, price=price)
        return (await gateway.place_order(request)).order_id

    return on_broker(account, place)


@pytest.mark.django_db(transaction=True)
def test_a_placed_order_is_found_by_its_client_tag(account):
    position = open_position(account, client_tag="ttmt-placed")

    found = look_up(account, "place_order", {}, client_tag="ttmt-placed")

    assert found["position_id"] == position.id
    assert found["found_by_client_tag"] is True
    assert look_up(account, "place_order", {}, client_tag="ttmt-never-sent") is None


@pytest.mark.django_db(transaction=True)
def test_a_close_is_found_by_reading_the_positions_again(account):
    position = open_position(account)
    params = {"position_id": position.id, "volume": None}
    assert look_up(account, "close_position", params) is None

    on_broker(account, lambda gateway: gateway.close_position(position.id))

    assert look_up(account, "close_position", params) == {
        "position_id": position.id,
        "closed": True,
        "found_by_lookup": True,
    }


@pytest.mark.django_db(transaction=True)
def test_a_partial_close_is_found_by_the_volume_before_it(account):
    spec = on_broker(account, lambda gateway: gateway.symbol_spec("BTCUSD"))
    position = open_position(account, volume=spec.volume_min * 3)
    part = spec.volume_min
    params = {"position_id": position.id, "volume": str(part), "volume_before": str(position.volume)}
    assert look_up(account, "close_position", params) is None

    on_broker(account, lambda gateway: gateway.close_position(position.id, part))

    assert look_up(account, "close_position", params) == {
        "position_id": position.id,
        "remaining": str(position.volume - part),
        "found_by_lookup": True,
    }


@pytest.mark.django_db(transaction=True)
def test_a_cancel_is_found_by_reading_the_orders_again(account):
    order_id = pending_order(account)
    assert look_up(account, "cancel_order", {"order_id": order_id}) is None

    on_broker(account, lambda gateway: gateway.cancel_order(order_id))

    assert look_up(account, "cancel_order", {"order_id": order_id}) == {
        "order_id": order_id,
        "cancelled": True,
        "found_by_lookup": True,
    }


@pytest.mark.parametrize(
    # a change to a trade reads what is left of it at each send and remembers its partial closes
    "operation",
    ["modify_sl", "breakeven", "modify_tp", "modify_sltp", "modify_order", "query", "manage_trade"],
)
def test_modifications_and_queries_are_safe_to_send_again(operation):
    assert kind_of(operation).look_up is None


def test_every_kind_that_changes_exposure_is_looked_up():
    looked_up = {name for name, kind in KINDS.items() if kind.look_up is not None}
    assert looked_up == {"place_order", "close_position", "cancel_order", "open_trade"}
