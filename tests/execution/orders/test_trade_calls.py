"""A trade's broker calls sent again repeat nothing: a retry places only the legs not placed, a
look-up after an unknown outcome finds the legs by their tags, a partial close sent twice closes
once; the split, the send-time checks and the pacing between legs."""

import dataclasses
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from execution import checks
from execution.broker.gateways.base import GatewayError
from execution.broker.registry import gateway_for
from execution.orders import trade_calls
from execution.orders.kinds import BrokerCall
from execution.orders.sizing import Rejected
from tests.factories import connected_simulated_account

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("market")]
TAG = "ttmt-00000000000000aa"


@pytest.fixture
def account(organization):
    return connected_simulated_account(organization, server="SimBroker-Demo")


class Call:
    """What the pipeline gives a kind's call: ``remember`` keeps the parameters as the operation's
    row would; ``volume_for`` answers the total the risk settings would; ``pace`` is counted."""

    def __init__(self, params: dict, *, total: str = "0.03") -> None:
        self.params, self.total, self.paced, self.sized = dict(params), Decimal(total), 0, 0

    def broker_call(self, gateway) -> BrokerCall:
        return BrokerCall(
            gateway=gateway,
            params=dict(self.params),
            client_tag=TAG,
            volume_for=self._volume_for,
            remember=self._remember,
            pace=self._pace,
        )

    async def _volume_for(self, entry, sl):
        self.sized += 1
        return self.total

    async def _remember(self, **params):
        self.params.update(params)

    async def _pace(self):
        self.paced += 1


def run(account, use):
    async def go():
        async with gateway_for(account) as gateway:
            return await use(gateway)

    return async_to_sync(go)()


def opening(**levels) -> dict:
    chosen = {"side": "buy", "order_type": "market", "entry": None, "zone": None, "sl": Decimal("63500")}
    chosen["tps"] = (Decimal("65400"), Decimal("65800"), Decimal("66200"))
    chosen.update(levels)
    return trade_calls.open_trade_params(
        symbol="BTCUSD",
        requested_symbol="BTCUSD",
        levels=checks.Levels(**chosen),
        runner=False,
        policy=checks.Policy(),
        instrument=checks.Instrument(digits=2, pip=Decimal("1"), sessions=()),
        volume_min=Decimal("0.01"),
        volume_step=Decimal("0.01"),
        own_risk=None,
        multiplier=Decimal("1"),
    )


def positions(account):
    return sorted(run(account, lambda g: g.positions()), key=lambda p: p.client_tag)


def test_a_trade_opens_one_position_per_tp_sized_once_and_paced(account):
    call = Call(opening())

    result = run(account, lambda g: trade_calls.open_trade(call.broker_call(g)))

    opened = positions(account)
    assert [p.client_tag for p in opened] == [f"{TAG}.{i}" for i in range(3)]
    assert [p.tp for p in opened] == [Decimal("65400"), Decimal("65800"), Decimal("66200")]
    assert [p.volume for p in opened] == [Decimal("0.01")] * 3
    assert [leg["position_id"] for leg in result["legs"]] == [p.id for p in opened]
    assert (call.sized, call.paced) == (1, 2)  # the first send is paced by the pipeline
    assert [step["stage"] for step in call.params["checks"]][0] == "route"


def test_a_retry_after_a_failed_leg_places_only_the_legs_not_placed(account, monkeypatch):
    call = Call(opening())
    sent = []

    async def failing_third(gateway):
        original = gateway.place_order

        async def place(request):
            sent.append(request.client_tag)
            if len(sent) == 3:
                raise GatewayError("requote", source="mt5", code=10004, string_code="REQUOTE")
            return await original(request)

        gateway.place_order = place
        return await trade_calls.open_trade(call.broker_call(gateway))

    with pytest.raises(GatewayError):
        run(account, failing_third)
    assert len(positions(account)) == 2

    run(account, lambda g: trade_calls.open_trade(call.broker_call(g)))

    assert [p.client_tag for p in positions(account)] == [f"{TAG}.{i}" for i in range(3)]
    assert call.sized == 1  # the plan is kept: the same volumes, the same levels


def test_a_look_up_after_an_unknown_outcome_finds_the_legs_by_their_tags(account):
    call = Call(opening())
    run(account, lambda g: trade_calls.open_trade(call.broker_call(g)))
    call.params.pop("placed")  # the answers were lost: only the plan was remembered

    found = run(account, lambda g: trade_calls.find_opened_trade(call.broker_call(g)))

    assert found["found_by_client_tag"] is True
    assert [leg["position_id"] for leg in found["legs"]] == [p.id for p in positions(account)]


def test_nothing_was_sent_when_no_plan_was_remembered(account):
    call = Call(opening())
    assert run(account, lambda g: trade_calls.find_opened_trade(call.broker_call(g))) is None


def test_a_rejected_check_at_send_time_sends_nothing_and_says_why(account):
    call = Call(opening(sl=Decimal("66000")), total="0.03")  # an SL above a buy's entry
    params = dict(call.params)
    params["policy"] = {**params["policy"], "sl_policy": "reject"}
    call.params = params

    with pytest.raises(Rejected, match="SL_WRONG_SIDE"):
        run(account, lambda g: trade_calls.open_trade(call.broker_call(g)))

    assert positions(account) == []
    assert call.params["checks"][-1]["code"] == "SL_WRONG_SIDE"


def test_a_partial_close_sent_twice_closes_once(account):
    opened = Call(opening(), total="0.04")
    run(account, lambda g: trade_calls.open_trade(opened.broker_call(g)))
    tags = [trade_calls.leg_tag(TAG, i) for i in range(3)]
    close = Call(
        trade_calls.manage_trade_params(
            symbol="BTCUSD",
            tags=tags,
            actions=[{"action": "close_partial", "fraction": "0.5"}],
            instrument={"volume_min": "0.01", "volume_step": "0.01"},
        )
    )

    run(account, lambda g: trade_calls.manage_trade(close.broker_call(g)))
    close.params.pop("done")  # as if the answer was lost and it was sent again
    run(account, lambda g: trade_calls.manage_trade(close.broker_call(g)))

    assert sum(p.volume for p in positions(account)) == Decimal("0.02")


def test_a_change_acts_only_on_the_trade_s_own_positions(account):
    mine, other = Call(opening()), Call(opening())
    run(account, lambda g: trade_calls.open_trade(mine.broker_call(g)))

    async def other_trade(gateway):
        call = other.broker_call(gateway)
        return await trade_calls.open_trade(
            BrokerCall(**{**call.__dict__, "client_tag": "ttmt-00000000000000bb"})
        )

    run(account, other_trade)
    close_all = Call(
        trade_calls.manage_trade_params(
            symbol="BTCUSD",
            tags=[trade_calls.leg_tag(TAG, i) for i in range(7)],
            actions=[{"action": "close_all"}],
            instrument={},
        )
    )

    result = run(account, lambda g: trade_calls.manage_trade(close_all.broker_call(g)))

    assert len(result["changes"]) == 3
    assert {p.client_tag.split(".")[0] for p in positions(account)} == {"ttmt-00000000000000bb"}


def test_unknown_actions_are_refused_when_the_operation_is_built():
    with pytest.raises(ValueError, match="unknown trade actions"):
        trade_calls.manage_trade_params(
            symbol="X", tags=[], actions=[{"action": "double_down"}], instrument={}
        )


# -- protection's moves ------------------------------------------------------------------------------
def test_fewer_layers_than_tps_are_spread_over_the_tps_first_and_last_kept():
    """The split leaves 2 positions for 3 TPs: they take TP1 and TP3 (``rules.redistribute``)."""
    evaluation = checks.evaluate(
        checks.Context(
            levels=checks.Levels(
                side="buy",
                order_type="market",
                entry=None,
                zone=None,
                sl=Decimal("63500"),
                tps=(Decimal("65400"), Decimal("65800"), Decimal("66200")),
            ),
            policy=checks.Policy(),
            instrument=checks.Instrument(digits=2, pip=Decimal("1"), sessions=()),
            quote=checks.Quote(bid=Decimal("65000"), ask=Decimal("65001")),
            now=datetime(2026, 12, 2, 12, tzinfo=UTC),
        )
    )
    assert evaluation.ok

    plan = trade_calls._plan(evaluation, opening(), Decimal("0.02"))

    assert [leg["tp"] for leg in plan["legs"]] == ["65400", "66200"]
    assert plan["tps"] == ["65400", "65800", "66200"]


def opened_trade(account) -> list:
    run(account, lambda g: trade_calls.open_trade(Call(opening()).broker_call(g)))
    return positions(account)


def change(account, *actions, gateway_use=None):
    call = Call(
        trade_calls.manage_trade_params(
            symbol="BTCUSD",
            tags=[trade_calls.leg_tag(TAG, i) for i in range(7)],
            actions=list(actions),
            instrument={"volume_min": "0.01", "volume_step": "0.01"},
        )
    )

    async def go(gateway):
        if gateway_use is not None:
            gateway_use(gateway)
        return await trade_calls.manage_trade(call.broker_call(gateway))

    return run(account, go)


def with_spec(gateway, **changes):
    """The gateway's symbol specification with other stop and freeze levels (in points)."""
    original = gateway.symbol_spec

    async def symbol_spec(symbol):
        return dataclasses.replace(await original(symbol), **changes)

    gateway.symbol_spec = symbol_spec


def test_a_breakeven_moves_every_stop_to_the_entry_plus_the_buffer_and_verifies_it(account, market):
    opened = opened_trade(account)
    market.set("BTCUSD", 65300.0, at=int(time.time()))  # in profit, below TP1
    reads = []

    def count_reads(gateway):
        original = gateway.positions

        async def positions_read():
            reads.append(1)
            return await original()

        gateway.positions = positions_read

    result = change(account, {"action": "breakeven", "buffer": "2"}, gateway_use=count_reads)

    assert [p.sl for p in positions(account)] == [p.open_price + 2 for p in opened]
    assert len(result["changes"]) == 3
    assert len(reads) == 2  # the positions to move, then the verification that shows them moved


def test_a_breakeven_the_broker_does_not_show_in_time_is_a_timeout_and_its_retry_sends_only_the_rest(
    account, market, monkeypatch
):
    opened = opened_trade(account)
    market.set("BTCUSD", 65300.0, at=int(time.time()))
    monkeypatch.setattr(trade_calls, "VERIFY_TIMEOUT", 0.2)
    monkeypatch.setattr(trade_calls, "VERIFY_EVERY", 0.05)

    def first_one_lost(gateway):
        original, sent = gateway.modify_position, []

        async def modify(position_id, sl, tp):
            sent.append(position_id)
            if len(sent) == 1:  # accepted, but never applied (as a terminal that lost it)
                return None
            return await original(position_id, sl, tp)

        gateway.modify_position = modify

    with pytest.raises(GatewayError) as raised:
        change(account, {"action": "breakeven", "buffer": "2"}, gateway_use=first_one_lost)
    assert raised.value.string_code == "timeout"
    assert opened[0].id in raised.value.message
    assert [p.sl for p in positions(account)][1:] == [p.open_price + 2 for p in opened[1:]]

    result = change(account, {"action": "breakeven", "buffer": "2"})

    assert result["changes"] == [f"SL of {opened[0].id} to {opened[0].open_price + 2}"]
    assert [p.sl for p in positions(account)] == [p.open_price + 2 for p in opened]


def test_a_breakeven_within_the_stop_level_clamps_where_that_locks_in_the_entry_and_waits_otherwise(
    account, market
):
    opened = opened_trade(account)
    market.set("BTCUSD", 65350.0, at=int(time.time()))
    bid = run(account, lambda g: g.price("BTCUSD")).bid
    # a 300.00 stop level: the nearest allowed SL is bid - 300.01, beyond the entry but short of entry + 200
    result = change(
        account,
        {"action": "breakeven", "buffer": "200"},
        gateway_use=lambda g: with_spec(g, stops_level=30000),
    )
    clamped = bid - Decimal("300.01")
    assert {p.sl for p in positions(account)} == {clamped}
    assert all(p.open_price < clamped < p.open_price + 200 for p in opened)
    assert all("clamped" in change for change in result["changes"])

    # a 600.00 stop level allows no SL at or beyond the entry yet: the positions are left, and said so
    result = change(
        account,
        {"action": "breakeven", "buffer": "200"},
        gateway_use=lambda g: with_spec(g, stops_level=60000),
    )
    assert {p.sl for p in positions(account)} == {clamped}
    assert len(result["changes"]) == 3 and all(change.startswith("left ") for change in result["changes"])


def test_a_breakeven_waits_on_a_position_the_price_is_within_the_freeze_level_of(account, market):
    opened = opened_trade(account)
    market.set("BTCUSD", 65350.0, at=int(time.time()))  # about 50 from TP1 (65400), 450 from TP2

    result = change(  # a freeze level of 100.00
        account,
        {"action": "breakeven", "buffer": "2"},
        gateway_use=lambda g: with_spec(g, freeze_level=10000),
    )

    assert result["changes"][0].startswith(f"left {opened[0].id}")
    assert "freeze level of the take profit 65400" in result["changes"][0]
    assert [p.sl for p in positions(account)] == [Decimal("63500")] + [p.open_price + 2 for p in opened[1:]]


def test_a_trailing_move_only_ever_tightens(account, market):
    opened_trade(account)
    market.set("BTCUSD", 65300.0, at=int(time.time()))

    change(account, {"action": "trail", "sl": "65100"})
    assert {p.sl for p in positions(account)} == {Decimal("65100")}

    result = change(account, {"action": "trail", "sl": "65050"})  # looser: nothing sent
    assert result["changes"] == []
    assert {p.sl for p in positions(account)} == {Decimal("65100")}
