"""Read-only reader for a MetaTrader 4 report-server database (MySQL/MariaDB, via PyMySQL).

The MetaQuotes report server mirrors a trade server into tables such as ``MT4_USERS`` and
``MT4_TRADES``. This module checks such a database and pages through its accounts and trades.

What it promises:

* **Read-only.** Every session runs ``SET SESSION TRANSACTION READ ONLY`` as part of connecting,
  keeps autocommit off, issues only ``SHOW``/``SELECT``, and is rolled back and closed at the end.
  Any write through :func:`read_only_connection` is refused by the server.
* **Parameterized SQL.** Caller input only ever travels as query parameters, after a type check
  (wrong types or values raise ``ValueError`` before anything is sent).
* **Bounded waits.** Connect, read and write timeouts of ``timeout`` seconds (default 5).
* **One failure vocabulary.** :func:`check_connection` never raises for server outcomes; it returns
  a :class:`ConnectionCheck`. The readers raise :class:`ReportDbError`; both carry a :class:`Status`.
* **Public addresses only.** The host is resolved once and checked (``core.egress``); the session
  connects to that address. A refused address is :attr:`Status.ADDRESS_NOT_ALLOWED`.
* **No secret leaks.** The password appears in no repr and no message. Messages are this module's
  own words: the server's text (which names the login and the server) is only logged.

Times are trade-server time, returned naive as stored. Money, prices and lots are ``Decimal``.
Each page (count and rows) is read in one transaction, so ``total`` matches the rows.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

import pymysql
from pymysql.connections import Connection

from core import egress

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
MAX_PAGE_SIZE = 500
REQUIRED_TABLES = ("MT4_USERS", "MT4_TRADES")
OPEN_TRADE_CLOSE_TIME = datetime(1970, 1, 1)  # MT4 stores the epoch as CLOSE_TIME of open trades
TRADE_TYPES = {
    0: "buy",
    1: "sell",
    2: "buy_limit",
    3: "sell_limit",
    4: "buy_stop",
    5: "sell_stop",
    6: "balance",
    7: "credit",
}

_TRADE_SELECT = (
    "SELECT `TICKET`, `LOGIN`, `SYMBOL`, `CMD`, `VOLUME`, `OPEN_TIME`, `OPEN_PRICE`, `SL`, `TP`, "
    "`CLOSE_TIME`, `CLOSE_PRICE`, `COMMISSION`, `SWAPS`, `PROFIT`, `COMMENT` FROM `MT4_TRADES`"
)

T = TypeVar("T")


class Status(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    AUTHENTICATION_FAILED = "authentication_failed"
    DATABASE_MISSING = "database_missing"
    TABLES_MISSING = "tables_missing"
    ERROR = "error"  # any other server error, e.g. a refused statement
    ADDRESS_NOT_ALLOWED = "address_not_allowed"  # the host is not a public address (core.egress)


_STATUS_BY_CODE = {
    1044: Status.DATABASE_MISSING,  # access denied to database: how an unknown one looks to a non-root login
    1045: Status.AUTHENTICATION_FAILED,  # access denied (login/password)
    1049: Status.DATABASE_MISSING,  # unknown database
    1130: Status.AUTHENTICATION_FAILED,  # host not allowed to connect
    1146: Status.TABLES_MISSING,  # table doesn't exist
    2002: Status.UNREACHABLE,  # can't connect (socket)
    2003: Status.UNREACHABLE,  # can't connect (TCP)
    2005: Status.UNREACHABLE,  # unknown host
    2006: Status.UNREACHABLE,  # server has gone away
    2013: Status.UNREACHABLE,  # lost connection (includes read/write timeouts)
}


@dataclass(frozen=True)
class ConnectionParams:
    host: str
    port: int
    database: str
    login: str
    password: str = field(repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ReportDbError(Exception):
    """A server-side failure while reading; ``status`` uses the :class:`Status` vocabulary."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ConnectionCheck:
    status: Status
    message: str
    missing_tables: tuple[str, ...] = ()
    users: int | None = None
    trades: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    page: int
    page_size: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total


@dataclass(frozen=True)
class ReportAccount:
    login: int
    name: str
    group: str
    balance: Decimal
    credit: Decimal
    equity: Decimal
    margin: Decimal
    free_margin: Decimal


@dataclass(frozen=True)
class ReportTrade:
    ticket: int
    login: int
    symbol: str
    type: str
    volume: Decimal  # lots
    open_time: datetime
    open_price: Decimal
    sl: Decimal
    tp: Decimal
    close_time: datetime | None  # None while open
    close_price: Decimal
    commission: Decimal
    swaps: Decimal
    profit: Decimal
    comment: str
    is_open: bool


def _message(status: Status, credentials: ConnectionParams) -> str:
    where, database = credentials.address, credentials.database
    return {
        Status.UNREACHABLE: f"Could not connect to the report database at {where}.",
        Status.AUTHENTICATION_FAILED: f"The report database at {where} refused the login or password.",
        Status.DATABASE_MISSING: f"Database '{database}' is not on {where} or the login may not use it.",
        Status.TABLES_MISSING: f"A report table is missing in database '{database}' on {where}.",
        Status.ERROR: f"The report database '{database}' on {where} returned an error.",
        Status.ADDRESS_NOT_ALLOWED: egress.NOT_ALLOWED_MESSAGE,
    }[status]


def _redacted(text: str, credentials: ConnectionParams) -> str:
    text = text.replace(f"'{credentials.login}'", "'***'")  # how MySQL quotes the login it names
    return text.replace(credentials.password, "***") if credentials.password else text


def _error(exc: pymysql.MySQLError, credentials: ConnectionParams) -> ReportDbError:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    status = _STATUS_BY_CODE.get(code, Status.ERROR)
    detail = str(exc.args[-1]) if exc.args else ""
    logger.warning(
        "Report database %s: %s (%s %s: %s)",
        credentials.address,
        status,
        type(exc).__name__,
        code,
        _redacted(detail, credentials),
    )
    return ReportDbError(status, _message(status, credentials))


def _connect_address(credentials: ConnectionParams) -> tuple[str, int]:
    try:
        return egress.checked_address(credentials.host, credentials.port)
    except egress.AddressNotAllowed:
        logger.warning("Report database %s: refused address", credentials.address)
        raise ReportDbError(
            Status.ADDRESS_NOT_ALLOWED, _message(Status.ADDRESS_NOT_ALLOWED, credentials)
        ) from None
    except egress.HostNotFound:
        logger.warning("Report database %s: the host does not resolve", credentials.address)
        raise ReportDbError(Status.UNREACHABLE, _message(Status.UNREACHABLE, credentials)) from None


@contextlib.contextmanager
def read_only_connection(
    credentials: ConnectionParams, *, timeout: float = DEFAULT_TIMEOUT
) -> Iterator[Connection]:
    """Yield a connection whose session is read-only with autocommit off; always rolled back and closed.

    Server errors, while connecting or inside the block, and a refused address are raised as
    :class:`ReportDbError`.
    """
    host, port = _connect_address(credentials)
    try:
        connection = pymysql.connect(
            host=host,
            port=port,
            user=credentials.login,
            password=credentials.password,
            database=credentials.database,
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            charset="utf8mb4",
            autocommit=False,
            init_command="SET SESSION TRANSACTION READ ONLY",
        )
        try:
            yield connection
        finally:
            with contextlib.suppress(pymysql.MySQLError):
                connection.rollback()
            with contextlib.suppress(pymysql.MySQLError):
                connection.close()
    except pymysql.MySQLError as exc:
        raise _error(exc, credentials) from exc


def _fetch(connection: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())


def check_connection(credentials: ConnectionParams, *, timeout: float = DEFAULT_TIMEOUT) -> ConnectionCheck:
    """Connect, check the report tables exist and count users and trades. Never raises for server outcomes."""
    try:
        with read_only_connection(credentials, timeout=timeout) as connection:
            tables = {row[0] for row in _fetch(connection, "SHOW TABLES")}
            missing = tuple(table for table in REQUIRED_TABLES if table not in tables)
            if missing:
                return ConnectionCheck(
                    Status.TABLES_MISSING,
                    f"Database '{credentials.database}' on {credentials.address} lacks the report "
                    f"table(s) {', '.join(missing)}",
                    missing_tables=missing,
                )
            users = _fetch(connection, "SELECT COUNT(*) FROM `MT4_USERS`")[0][0]
            trades = _fetch(connection, "SELECT COUNT(*) FROM `MT4_TRADES`")[0][0]
    except ReportDbError as error:
        return ConnectionCheck(error.status, error.message)
    return ConnectionCheck(
        Status.OK,
        f"Connected to '{credentials.database}' on {credentials.address}: {users} accounts, {trades} trades",
        users=users,
        trades=trades,
    )


def _paging(page: int, page_size: int) -> tuple[int, int]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError(f"page must be an int >= 1, got {page!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValueError(f"page_size must be an int >= 1 (capped at {MAX_PAGE_SIZE}), got {page_size!r}")
    return page, min(page_size, MAX_PAGE_SIZE)


def _read_page(
    credentials: ConnectionParams,
    *,
    count_sql: str,
    rows_sql: str,
    params: Sequence[Any],
    page: int,
    page_size: int,
    timeout: float,
) -> tuple[int, list[tuple[Any, ...]]]:
    with read_only_connection(credentials, timeout=timeout) as connection:
        total = _fetch(connection, count_sql, params)[0][0]
        offset = (page - 1) * page_size
        rows = _fetch(connection, rows_sql + " LIMIT %s OFFSET %s", [*params, page_size, offset])
    return total, rows


def _decimal(value: float | Decimal) -> Decimal:
    return Decimal(str(value))  # str() keeps a DOUBLE's shortest repr (1.1, not 1.1000000000000000888)


def list_accounts(
    credentials: ConnectionParams, *, page: int = 1, page_size: int = 50, timeout: float = DEFAULT_TIMEOUT
) -> Page[ReportAccount]:
    """One page of ``MT4_USERS`` ordered by login."""
    page, page_size = _paging(page, page_size)
    total, rows = _read_page(
        credentials,
        count_sql="SELECT COUNT(*) FROM `MT4_USERS`",
        rows_sql="SELECT `LOGIN`, `NAME`, `GROUP`, `BALANCE`, `CREDIT`, `EQUITY`, `MARGIN`, `MARGIN_FREE` "
        "FROM `MT4_USERS` ORDER BY `LOGIN`",
        params=(),
        page=page,
        page_size=page_size,
        timeout=timeout,
    )
    items = tuple(
        ReportAccount(login, name, group, *(_decimal(value) for value in money))
        for login, name, group, *money in rows
    )
    return Page(items, page, page_size, total)


def _trade(row: tuple[Any, ...]) -> ReportTrade:
    ticket, login, symbol, cmd, volume, open_time, open_price, sl, tp, close_time, close_price = row[:11]
    commission, swaps, profit, comment = row[11:]
    is_open = close_time == OPEN_TRADE_CLOSE_TIME
    return ReportTrade(
        ticket=ticket,
        login=login,
        symbol=symbol,
        type=TRADE_TYPES.get(cmd, f"cmd_{cmd}"),
        volume=Decimal(volume).scaleb(-2),  # VOLUME is lots x 100
        open_time=open_time,
        open_price=_decimal(open_price),
        sl=_decimal(sl),
        tp=_decimal(tp),
        close_time=None if is_open else close_time,
        close_price=_decimal(close_price),
        commission=_decimal(commission),
        swaps=_decimal(swaps),
        profit=_decimal(profit),
        comment=comment,
        is_open=is_open,
    )


def _naive(value: datetime | None, name: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is not None):
        raise ValueError(f"{name} must be a naive datetime in trade-server time, got {value!r}")
    return value


def list_trades(
    credentials: ConnectionParams,
    *,
    login: int | None = None,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    open: bool | None = None,
    page: int = 1,
    page_size: int = 50,
    timeout: float = DEFAULT_TIMEOUT,
) -> Page[ReportTrade]:
    """One page of ``MT4_TRADES``, newest ``OPEN_TIME`` first (ties by ticket, descending).

    ``time_from`` (inclusive) and ``time_to`` (exclusive) bound ``OPEN_TIME``; ``open`` selects open
    (True) or closed (False) trades, both when None. Balance and credit operations are included.
    """
    page, page_size = _paging(page, page_size)
    if login is not None and (isinstance(login, bool) or not isinstance(login, int)):
        raise ValueError(f"login must be an int, got {login!r}")
    if open is not None and not isinstance(open, bool):
        raise ValueError(f"open must be True, False or None, got {open!r}")
    time_from, time_to = _naive(time_from, "time_from"), _naive(time_to, "time_to")
    if time_from is not None and time_to is not None and time_from > time_to:
        raise ValueError(f"time_from ({time_from}) is after time_to ({time_to})")

    filters: dict[str, Any] = {
        "`LOGIN` = %s": login,
        "`OPEN_TIME` >= %s": time_from,
        "`OPEN_TIME` < %s": time_to,
    }
    if open is not None:
        filters["`CLOSE_TIME` = %s" if open else "`CLOSE_TIME` <> %s"] = OPEN_TRADE_CLOSE_TIME
    conditions = [condition for condition, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    # Only the fixed fragments above reach the SQL text; every value travels as a parameter.
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    total, rows = _read_page(
        credentials,
        count_sql=f"SELECT COUNT(*) FROM `MT4_TRADES`{where}",  # noqa: S608 - fixed fragments only
        rows_sql=f"{_TRADE_SELECT}{where} ORDER BY `OPEN_TIME` DESC, `TICKET` DESC",
        params=params,
        page=page,
        page_size=page_size,
        timeout=timeout,
    )
    return Page(tuple(_trade(row) for row in rows), page, page_size, total)
