"""Protection's decisions: levels reached, breakeven, the stop and freeze levels, trailing, redistribution."""

from decimal import Decimal as D

import pytest

from execution.protection.rules import (
    MoveKind,
    Trailing,
    breakeven_sl,
    reached_level,
    redistribute,
    stop_move,
    trail_sl,
)

POINT = D("0.00001")
TPS_BUY = (D("1.1010"), D("1.1020"), D("1.1030"))
TPS_SELL = (D("1.0990"), D("1.0980"), D("1.0970"))


@pytest.mark.parametrize(
    "side, tps, bid, ask, expected",
    [
        ("buy", TPS_BUY, "1.10099", "1.10101", 0),  # a buy closes at the bid
        ("buy", TPS_BUY, "1.10100", "1.10102", 1),
        ("buy", TPS_BUY, "1.10250", "1.10252", 2),
        ("buy", TPS_BUY, "1.20000", "1.20002", 3),
        ("sell", TPS_SELL, "1.09898", "1.09901", 0),  # a sell closes at the ask
        ("sell", TPS_SELL, "1.09898", "1.09900", 1),
        ("sell", TPS_SELL, "1.09690", "1.09692", 3),
        ("buy", (), "1.2", "1.2", 0),
    ],
)
def test_reached_level(side, tps, bid, ask, expected):
    assert reached_level(side=side, tps=tps, bid=D(bid), ask=D(ask)) == expected


def test_breakeven_sl_is_on_the_profit_side():
    assert breakeven_sl(side="buy", open_price=D("1.1000"), buffer=D("0.0002")) == D("1.1002")
    assert breakeven_sl(side="sell", open_price=D("1.1000"), buffer=D("0.0002")) == D("1.0998")


def _move(side="buy", current_sl="1.0950", tp="1.1030", target="1.1002", bid="1.1010", ask="1.1011", **kw):
    return stop_move(
        side=side,
        current_sl=None if current_sl is None else D(current_sl),
        tp=None if tp is None else D(tp),
        target=D(target),
        bid=D(bid),
        ask=D(ask),
        stop_distance=kw.pop("stop_distance", D(0)),
        point=POINT,
        **kw,
    )


def test_stop_move_sets_the_target_when_the_stop_level_allows_it():
    move = _move(stop_distance=D("0.0005"))
    assert (move.kind, move.sl) == (MoveKind.SET, D("1.1002"))


def test_stop_move_clamps_to_the_stop_level_and_stays_tighter_than_before():
    # bid 1.1004, stop level 5 pips: the closest allowed SL is 1.09989, below the 1.1002 target
    move = _move(bid="1.1004", ask="1.1005", stop_distance=D("0.0005"))
    assert move.kind is MoveKind.CLAMPED
    assert move.sl == D("1.09989")
    assert D("1.0950") < move.sl < D("1.1002")


def test_stop_move_clamps_for_a_sell_on_the_other_side():
    move = _move(
        side="sell", current_sl="1.1050", tp="1.0970", target="1.0998", bid="1.0995", ask="1.0996",
        stop_distance=D("0.0005"),
    )  # fmt: skip
    assert (move.kind, move.sl) == (MoveKind.CLAMPED, D("1.10011"))


def test_stop_move_waits_instead_of_clamping_short_of_its_clamp_floor():
    # the same clamp as above (1.09989) falls short of an entry at 1.1000: a breakeven waits
    move = _move(bid="1.1004", ask="1.1005", stop_distance=D("0.0005"), clamp_from=D("1.1000"))
    assert move.kind is MoveKind.WAIT
    assert "short of 1.1000" in move.reason
    clamped = _move(bid="1.1004", ask="1.1005", stop_distance=D("0.0005"), clamp_from=D("1.0998"))
    assert (clamped.kind, clamped.sl) == (MoveKind.CLAMPED, D("1.09989"))


def test_stop_move_waits_when_no_tighter_stop_is_allowed():
    move = _move(current_sl="1.0999", bid="1.1004", ask="1.1005", stop_distance=D("0.0005"))
    assert move.kind is MoveKind.WAIT
    assert move.sl is None


def test_stop_move_waits_inside_the_freeze_level():
    move = _move(bid="1.1028", ask="1.1029", freeze_distance=D("0.0003"))  # 2 pips from the TP
    assert move.kind is MoveKind.WAIT
    assert "freeze level of the take profit" in move.reason
    assert _move(bid="1.1020", ask="1.1021", freeze_distance=D("0.0003")).kind is MoveKind.SET


def test_stop_move_does_nothing_when_the_stop_is_already_at_or_beyond_the_target():
    assert _move(current_sl="1.1002").kind is MoveKind.NOTHING
    assert _move(current_sl="1.1005").kind is MoveKind.NOTHING
    assert _move(side="sell", current_sl="1.0990", target="1.0998", bid="1.0980", ask="1.0981").kind is (
        MoveKind.NOTHING
    )


def test_stop_move_without_a_stop_loss_sets_one():
    assert _move(current_sl=None).kind is MoveKind.SET


TRAIL = Trailing(activation=D("0.0020"), distance=D("0.0010"), step=D("0.0005"))


def _trail(side="buy", sl="1.0950", bid="1.1000", ask="1.1001", open_price="1.1000"):
    return trail_sl(
        side=side,
        open_price=D(open_price),
        current_sl=None if sl is None else D(sl),
        bid=D(bid),
        ask=D(ask),
        trailing=TRAIL,
    )


def test_trailing_waits_for_the_activation_distance():
    assert _trail(bid="1.1019", ask="1.1020") is None
    assert _trail(bid="1.1020", ask="1.1021") == D("1.1010")


def test_trailing_moves_in_steps_and_only_tightens():
    assert _trail(sl="1.1010", bid="1.1024", ask="1.1025") is None  # 4 pips better: less than a step
    assert _trail(sl="1.1010", bid="1.1025", ask="1.1026") == D("1.1015")
    assert _trail(sl="1.1015", bid="1.1021", ask="1.1022") is None  # the price fell back: never loosens
    assert _trail(sl="1.1030", bid="1.1030", ask="1.1031") is None  # a tighter manual stop is kept


def test_trailing_for_a_sell_follows_the_ask():
    assert _trail(side="sell", sl="1.1050", bid="1.0979", ask="1.0980") == D("1.0990")
    assert _trail(side="sell", sl="1.0990", bid="1.0983", ask="1.0984") is None


def test_trailing_without_a_stop_sets_one():
    assert _trail(sl=None, bid="1.1030", ask="1.1031") == D("1.1020")


@pytest.mark.parametrize(
    "tp_count, filled, expected",
    [
        (3, 3, (1, 2, 3)),
        (3, 2, (1, 3)),
        (3, 1, (1,)),
        (4, 2, (1, 4)),
        (4, 3, (1, 3, 4)),  # 1 + 3 * 0.5 = 2.5: halves round up
        (5, 3, (1, 3, 5)),
        (6, 4, (1, 3, 4, 6)),  # 1 + 5/3 = 2.67 -> 3; 1 + 10/3 = 4.33 -> 4
        (2, 2, (1, 2)),
        (1, 3, (1, 1, 1)),
        (3, 0, ()),
    ],
)
def test_redistribution_rule_table(tp_count, filled, expected):
    assert redistribute(tp_count=tp_count, filled=filled) == expected


def test_a_trailing_stop_needs_a_distance_and_a_side_must_be_buy_or_sell():
    with pytest.raises(ValueError):
        Trailing(activation=D(0), distance=D(0), step=D(0))
    with pytest.raises(ValueError):
        reached_level(side="long", tps=TPS_BUY, bid=D(1), ask=D(1))
