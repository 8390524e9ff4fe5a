"""platforms.report_db against a real MariaDB/MySQL report database (see report_db_fixtures), on
this machine: every test here allows private addresses, but the ones about refusing them."""

import dataclasses
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pymysql
import pytest

from platforms import report_db
from platforms.report_db import ReportDbError, Status
from tests.platforms.report_db_fixtures import ReportDbSetup  # fixture mt4_report_db comes via conftest

pytestmark = pytest.mark.usefixtures("private_addresses_allowed")


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tickets(page: report_db.Page[report_db.ReportTrade]) -> list[int]:
    return [trade.ticket for trade in page.items]


# --- check_connection ------------------------------------------------------------------------------


def test_connection_ok_counts_rows(mt4_report_db: ReportDbSetup) -> None:
    check = report_db.check_connection(mt4_report_db.reader)

    assert check.status is Status.OK
    assert check.ok
    assert (check.users, check.trades) == (12, 11)
    assert check.missing_tables == ()
    assert "12 accounts, 11 trades" in check.message
    assert mt4_report_db.reader.database in check.message


def test_wrong_password_is_authentication_failed(mt4_report_db: ReportDbSetup) -> None:
    wrong = dataclasses.replace(mt4_report_db.reader, password="not-" + mt4_report_db.reader.password)

    check = report_db.check_connection(wrong)

    assert check.status is Status.AUTHENTICATION_FAILED
    assert not check.ok
    assert check.message == f"The report database at {wrong.address} refused the login or password."


@pytest.mark.parametrize("who", ["reader", "admin"])
def test_unknown_database_is_database_missing(mt4_report_db: ReportDbSetup, who: str) -> None:
    # MariaDB answers 1044 (access denied to database) to the SELECT-only user, 1049 to the admin.
    credentials = dataclasses.replace(
        getattr(mt4_report_db, who), database=mt4_report_db.reader.database + "_nope"
    )

    check = report_db.check_connection(credentials)

    assert check.status is Status.DATABASE_MISSING
    assert credentials.database in check.message


def test_database_without_trades_table_is_tables_missing(mt4_report_db: ReportDbSetup) -> None:
    check = report_db.check_connection(mt4_report_db.partial)

    assert check.status is Status.TABLES_MISSING
    assert check.missing_tables == ("MT4_TRADES",)
    assert "MT4_TRADES" in check.message
    assert "MT4_USERS" not in check.message
    assert check.users is None


def test_closed_port_is_unreachable(mt4_report_db: ReportDbSetup) -> None:
    credentials = dataclasses.replace(mt4_report_db.reader, host="127.0.0.1", port=_unused_port())

    check = report_db.check_connection(credentials, timeout=2)

    assert check.status is Status.UNREACHABLE
    assert f"127.0.0.1:{credentials.port}" in check.message


def test_password_never_in_repr_or_messages(mt4_report_db: ReportDbSetup) -> None:
    credentials = mt4_report_db.reader
    wrong = dataclasses.replace(credentials, password="S3cret-" + credentials.password)
    assert credentials.password not in repr(credentials)
    assert credentials.password not in str(credentials)
    assert "password" not in repr(credentials)
    assert credentials.login in repr(credentials)

    checks = [
        report_db.check_connection(credentials),
        report_db.check_connection(wrong),
        report_db.check_connection(mt4_report_db.partial),
        report_db.check_connection(dataclasses.replace(credentials, database="nope_" + credentials.database)),
    ]
    with pytest.raises(ReportDbError) as raised:
        report_db.list_accounts(wrong)

    texts = [check.message for check in checks] + [
        raised.value.message,
        str(raised.value),
        repr(raised.value),
    ]
    texts += [repr(check) for check in checks]
    for text in texts:
        assert credentials.password not in text
        assert wrong.password not in text


def test_server_text_is_logged_without_the_credentials(mt4_report_db: ReportDbSetup, caplog) -> None:
    wrong = dataclasses.replace(mt4_report_db.reader, password="not-" + mt4_report_db.reader.password)

    check = report_db.check_connection(wrong)

    assert "Access denied" not in check.message and wrong.login not in check.message
    assert "1045" in caplog.text and "Access denied for user '***'" in caplog.text
    assert wrong.login not in caplog.text and wrong.password not in caplog.text


def test_a_private_address_is_refused_without_the_operator_setting(
    mt4_report_db: ReportDbSetup, settings
) -> None:
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False

    check = report_db.check_connection(mt4_report_db.reader)

    assert (check.status, check.message) == (Status.ADDRESS_NOT_ALLOWED, "This address is not allowed.")
    with pytest.raises(ReportDbError) as refused:
        report_db.list_accounts(mt4_report_db.reader)
    assert refused.value.status is Status.ADDRESS_NOT_ALLOWED


def test_the_name_is_resolved_once_and_the_session_connects_to_that_address(
    mt4_report_db: ReportDbSetup, monkeypatch
) -> None:
    name, address = "reports.rebind.example", mt4_report_db.reader.host
    looked_up, connected_to = [], []
    real_getaddrinfo, real_connect = socket.getaddrinfo, pymysql.connect

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real_getaddrinfo(host, port, *args, **kwargs)
        looked_up.append(host)
        return real_getaddrinfo(address, port, *args, **kwargs)

    def connect(**kwargs):
        connected_to.append(kwargs["host"])
        return real_connect(**kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(pymysql, "connect", connect)
    check = report_db.check_connection(dataclasses.replace(mt4_report_db.reader, host=name))

    assert check.status is Status.OK
    assert (looked_up, connected_to) == ([name], [address])  # the checked address, not the name again
    assert f"on {name}:" in check.message


# --- readers: failures ----------------------------------------------------------------------------


def test_readers_raise_report_db_error_with_status(mt4_report_db: ReportDbSetup) -> None:
    with pytest.raises(ReportDbError) as missing:
        report_db.list_trades(mt4_report_db.partial)
    assert missing.value.status is Status.TABLES_MISSING
    assert "A report table is missing" in missing.value.message

    closed = dataclasses.replace(mt4_report_db.reader, host="127.0.0.1", port=_unused_port())
    with pytest.raises(ReportDbError) as unreachable:
        report_db.list_accounts(closed, timeout=2)
    assert unreachable.value.status is Status.UNREACHABLE

    wrong = dataclasses.replace(mt4_report_db.reader, password="x" + mt4_report_db.reader.password)
    with pytest.raises(ReportDbError) as denied:
        report_db.list_trades(wrong, login=1001)
    assert denied.value.status is Status.AUTHENTICATION_FAILED


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO `MT4_USERS` (`LOGIN`, `GROUP`, `NAME`, `BALANCE`, `CREDIT`, `REGDATE`, `LASTDATE`, "
        "`MODIFY_TIME`) VALUES (9999, 'x', 'x', 1, 0, NOW(), NOW(), NOW())",
        "UPDATE `MT4_USERS` SET `BALANCE` = 0 WHERE `LOGIN` = 1001",
        "DELETE FROM `MT4_TRADES` WHERE `TICKET` = 50001",
        "CREATE TABLE `MT4_SCRATCH` (`A` int)",
    ],
)
def test_session_is_read_only_even_for_a_login_that_may_write(
    mt4_report_db: ReportDbSetup, statement: str, caplog
) -> None:
    with pytest.raises(ReportDbError) as raised:  # noqa: SIM117 - the error must leave the helper
        with report_db.read_only_connection(mt4_report_db.admin) as connection:
            with connection.cursor() as cursor:
                cursor.execute(statement)

    assert raised.value.status is Status.ERROR
    assert isinstance(raised.value.__cause__, pymysql.MySQLError)
    assert raised.value.__cause__.args[0] == 1792  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    assert "READ ONLY" not in raised.value.message  # the server's words are logged, not shown
    assert "1792" in caplog.text and "READ ONLY" in caplog.text
    # nothing changed, seen through a fresh session
    check = report_db.check_connection(mt4_report_db.reader)
    assert (check.users, check.trades) == (12, 11)
    alice = report_db.list_accounts(mt4_report_db.reader, page_size=3).items[0]
    assert (alice.login, alice.balance) == (1001, Decimal("10000.0"))


# --- list_accounts --------------------------------------------------------------------------------


def test_accounts_are_paged_in_login_order(mt4_report_db: ReportDbSetup) -> None:
    first = report_db.list_accounts(mt4_report_db.reader, page=1, page_size=5)
    third = report_db.list_accounts(mt4_report_db.reader, page=3, page_size=5)
    beyond = report_db.list_accounts(mt4_report_db.reader, page=4, page_size=5)

    assert [a.login for a in first.items] == [1001, 1002, 1003, 1004, 1005]
    assert (first.total, first.page, first.page_size, first.has_next) == (12, 1, 5, True)
    assert [a.login for a in third.items] == [1011, 1012]
    assert (third.total, third.has_next) == (12, False)
    assert (beyond.items, beyond.total, beyond.has_next) == ((), 12, False)

    chen = first.items[2]
    assert chen == report_db.ReportAccount(
        login=1003,
        name="Chen Wei",
        group="real-ecn",
        balance=Decimal("50000.0"),
        credit=Decimal("1000.0"),
        equity=Decimal("51230.75"),
        margin=Decimal("1200.0"),
        free_margin=Decimal("50030.75"),
    )


def test_page_size_is_capped(mt4_report_db: ReportDbSetup) -> None:
    page = report_db.list_accounts(mt4_report_db.reader, page_size=10_000)

    assert page.page_size == report_db.MAX_PAGE_SIZE == 500
    assert len(page.items) == 12
    assert not page.has_next


@pytest.mark.parametrize(
    ("page", "page_size"), [(0, 50), (-1, 50), ("2", 50), (True, 50), (1.0, 50), (1, 0), (1, -5), (1, "50")]
)
def test_bad_paging_is_rejected(mt4_report_db: ReportDbSetup, page: object, page_size: object) -> None:
    with pytest.raises(ValueError, match="page"):
        report_db.list_accounts(mt4_report_db.reader, page=page, page_size=page_size)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="page"):
        report_db.list_trades(mt4_report_db.reader, page=page, page_size=page_size)  # type: ignore[arg-type]


# --- list_trades ----------------------------------------------------------------------------------


def test_trades_by_login_newest_first(mt4_report_db: ReportDbSetup) -> None:
    page = report_db.list_trades(mt4_report_db.reader, login=1001)

    assert _tickets(page) == [50005, 50004, 50003, 50002, 50001]
    assert {t.login for t in page.items} == {1001}
    assert (page.total, page.has_next) == (5, False)
    assert report_db.list_trades(mt4_report_db.reader, login=424242).total == 0


def test_trades_are_paged(mt4_report_db: ReportDbSetup) -> None:
    pages = [report_db.list_trades(mt4_report_db.reader, page=n, page_size=4) for n in (1, 2, 3)]

    assert [len(p.items) for p in pages] == [4, 4, 3]
    assert [p.has_next for p in pages] == [True, True, False]
    tickets = [ticket for p in pages for ticket in _tickets(p)]
    assert sorted(tickets) == list(range(50001, 50012))
    assert tickets[:4] == [50011, 50010, 50007, 50005]  # 2024-03-07 10:05, 09:45, 08:00, 03-06 12:00


def test_trades_time_range_is_half_open_on_open_time(mt4_report_db: ReportDbSetup) -> None:
    march_5 = report_db.list_trades(
        mt4_report_db.reader, time_from=datetime(2024, 3, 5), time_to=datetime(2024, 3, 6)
    )
    from_march_6 = report_db.list_trades(mt4_report_db.reader, time_from=datetime(2024, 3, 6))
    until_march_5 = report_db.list_trades(mt4_report_db.reader, time_to=datetime(2024, 3, 5))

    # 50003 closed on the 6th but opened on the 5th; 50004 opened exactly at 2024-03-06 00:00
    assert _tickets(march_5) == [50006, 50003]
    assert _tickets(from_march_6) == [50011, 50010, 50007, 50005, 50004]
    assert _tickets(until_march_5) == [50009, 50002, 50001, 50008]


def test_trades_open_closed_and_both(mt4_report_db: ReportDbSetup) -> None:
    opened = report_db.list_trades(mt4_report_db.reader, open=True)
    closed = report_db.list_trades(mt4_report_db.reader, open=False)
    both = report_db.list_trades(mt4_report_db.reader)

    assert sorted(_tickets(opened)) == [50004, 50005, 50007, 50010, 50011]
    assert all(t.is_open and t.close_time is None for t in opened.items)
    assert sorted(_tickets(closed)) == [50001, 50002, 50003, 50006, 50008, 50009]
    assert all(not t.is_open and t.close_time is not None for t in closed.items)
    assert both.total == opened.total + closed.total == 11

    alice_closed = report_db.list_trades(
        mt4_report_db.reader, login=1001, open=False, time_from=datetime(2024, 3, 4, 9)
    )
    assert _tickets(alice_closed) == [50003, 50002]


def test_trade_fields_lots_and_types(mt4_report_db: ReportDbSetup) -> None:
    trades = {t.ticket: t for t in report_db.list_trades(mt4_report_db.reader, page_size=500).items}

    assert trades[50002] == report_db.ReportTrade(
        ticket=50002,
        login=1001,
        symbol="EURUSD",
        type="buy",
        volume=Decimal("0.10"),
        open_time=datetime(2024, 3, 4, 9, 15),
        open_price=Decimal("1.08512"),
        sl=Decimal("1.08"),
        tp=Decimal("1.09"),
        close_time=datetime(2024, 3, 4, 15, 40, 12),
        close_price=Decimal("1.08731"),
        commission=Decimal("-0.7"),
        swaps=Decimal("0.0"),
        profit=Decimal("21.9"),
        comment="",
        is_open=False,
    )
    assert str(trades[50002].volume) == "0.10"
    assert trades[50004].volume == Decimal("2.50")
    assert trades[50003].volume == Decimal("1")
    assert trades[50003].swaps == Decimal("-3.12")
    assert trades[50004].close_time is None
    assert trades[50004].close_price == Decimal("1.0901")
    types = {ticket: trades[ticket].type for ticket in (50001, 50003, 50005, 50007, 50008, 50010, 50011)}
    assert types == {
        50001: "balance",
        50003: "sell",
        50005: "buy_limit",
        50007: "buy_stop",
        50008: "credit",
        50010: "sell_stop",
        50011: "sell_limit",
    }
    assert trades[50001].profit == Decimal("10000.0")
    assert trades[50011].comment == "tp ladder"


@pytest.mark.parametrize("login", ["1 OR 1=1", "1001", "1001; DROP TABLE MT4_TRADES", 1001.0, True, b"1001"])
def test_login_must_be_an_int(mt4_report_db: ReportDbSetup, login: object) -> None:
    with pytest.raises(ValueError, match="login must be an int"):
        report_db.list_trades(mt4_report_db.reader, login=login)  # type: ignore[arg-type]

    # the table is intact and an int login still filters precisely
    assert report_db.list_trades(mt4_report_db.reader, login=1001).total == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_from": "2024-03-05"},
        {"time_to": datetime(2024, 3, 5, tzinfo=UTC)},
        {"time_from": datetime(2024, 3, 6), "time_to": datetime(2024, 3, 5)},
        {"open": "false"},
        {"open": 0},
    ],
)
def test_bad_trade_filters_are_rejected(mt4_report_db: ReportDbSetup, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        report_db.list_trades(mt4_report_db.reader, **kwargs)  # type: ignore[arg-type]
