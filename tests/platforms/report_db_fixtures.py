"""A throwaway MT4 report database on the real MariaDB/MySQL test server.

``mt4_report_db`` (session scope) connects as the admin from ``TEST_MYSQL_URL`` (root, empty password
locally), creates ``ttmt_report_<random>`` with ``MT4_USERS``/``MT4_TRADES`` laid out like the
MetaQuotes report server's, fills them with the rows below, creates ``ttmt_report_<random>_partial``
holding only ``MT4_USERS``, and a password user with SELECT-only grants on both. Everything is
dropped at the end of the session.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import pymysql
import pytest

from platforms.report_db import ConnectionParams
from tests.services import mysql_url

NOT_CLOSED = "1970-01-01 00:00:00"  # MT4 CLOSE_TIME of open trades and pending orders

MT4_USERS_DDL = """
CREATE TABLE `MT4_USERS` (
  `LOGIN` int(11) NOT NULL,
  `GROUP` char(16) NOT NULL,
  `ENABLE` int(11) NOT NULL DEFAULT 1,
  `ENABLE_READONLY` int(11) NOT NULL DEFAULT 0,
  `NAME` char(128) NOT NULL,
  `COUNTRY` char(32) NOT NULL DEFAULT '',
  `EMAIL` char(48) NOT NULL DEFAULT '',
  `COMMENT` char(64) NOT NULL DEFAULT '',
  `REGDATE` datetime NOT NULL,
  `LASTDATE` datetime NOT NULL,
  `LEVERAGE` int(11) NOT NULL DEFAULT 100,
  `AGENT_ACCOUNT` int(11) NOT NULL DEFAULT 0,
  `TIMESTAMP` int(11) NOT NULL DEFAULT 0,
  `BALANCE` double NOT NULL,
  `PREVMONTHBALANCE` double NOT NULL DEFAULT 0,
  `PREVBALANCE` double NOT NULL DEFAULT 0,
  `CREDIT` double NOT NULL,
  `INTERESTRATE` double NOT NULL DEFAULT 0,
  `TAXES` double NOT NULL DEFAULT 0,
  `EQUITY` double NOT NULL DEFAULT 0,
  `MARGIN` double NOT NULL DEFAULT 0,
  `MARGIN_LEVEL` double NOT NULL DEFAULT 0,
  `MARGIN_FREE` double NOT NULL DEFAULT 0,
  `CURRENCY` char(16) NOT NULL DEFAULT '',
  `MODIFY_TIME` datetime NOT NULL,
  PRIMARY KEY (`LOGIN`),
  KEY `INDEX_STAMP` (`TIMESTAMP`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

MT4_TRADES_DDL = """
CREATE TABLE `MT4_TRADES` (
  `TICKET` int(11) NOT NULL,
  `LOGIN` int(11) NOT NULL,
  `SYMBOL` char(16) NOT NULL,
  `DIGITS` int(11) NOT NULL,
  `CMD` int(11) NOT NULL,
  `VOLUME` int(11) NOT NULL,
  `OPEN_TIME` datetime NOT NULL,
  `OPEN_PRICE` double NOT NULL,
  `SL` double NOT NULL,
  `TP` double NOT NULL,
  `CLOSE_TIME` datetime NOT NULL,
  `EXPIRATION` datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  `REASON` int(11) NOT NULL DEFAULT 0,
  `CONV_RATE1` double NOT NULL DEFAULT 1,
  `CONV_RATE2` double NOT NULL DEFAULT 1,
  `COMMISSION` double NOT NULL,
  `COMMISSION_AGENT` double NOT NULL DEFAULT 0,
  `SWAPS` double NOT NULL,
  `CLOSE_PRICE` double NOT NULL,
  `PROFIT` double NOT NULL,
  `TAXES` double NOT NULL DEFAULT 0,
  `COMMENT` char(32) NOT NULL,
  `INTERNAL_ID` int(11) NOT NULL DEFAULT 0,
  `MARGIN_RATE` double NOT NULL DEFAULT 1,
  `TIMESTAMP` int(11) NOT NULL DEFAULT 0,
  `MAGIC` int(11) NOT NULL DEFAULT 0,
  `MODIFY_TIME` datetime NOT NULL,
  PRIMARY KEY (`TICKET`),
  KEY `INDEX_LOGIN` (`LOGIN`),
  KEY `INDEX_CMD` (`CMD`),
  KEY `INDEX_OPENTIME` (`OPEN_TIME`),
  KEY `INDEX_CLOSETIME` (`CLOSE_TIME`),
  KEY `INDEX_STAMP` (`TIMESTAMP`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

# (LOGIN, GROUP, NAME, BALANCE, CREDIT, EQUITY, MARGIN, MARGIN_FREE); inserted out of login order.
USERS = [
    (1012, "demo-usd", "Demo Trader 12", 5000.0, 0.0, 5000.0, 0.0, 5000.0),
    (1003, "real-ecn", "Chen Wei", 50000.0, 1000.0, 51230.75, 1200.0, 50030.75),
    (1001, "real-std", "Alice Martin", 10000.0, 0.0, 10125.5, 215.0, 9910.5),
    (1002, "real-std", "Bruno Costa", 2500.0, 0.0, 2480.25, 50.0, 2430.25),
    *[
        (login, "demo-usd", f"Demo Trader {login - 1000}", 5000.0, 0.0, 5000.0, 0.0, 5000.0)
        for login in range(1011, 1003, -1)
    ],
]

# (TICKET, LOGIN, SYMBOL, DIGITS, CMD, VOLUME, OPEN_TIME, OPEN_PRICE, SL, TP,
#  CLOSE_TIME, CLOSE_PRICE, COMMISSION, SWAPS, PROFIT, COMMENT). Open trades and pending orders have
#  CLOSE_TIME = NOT_CLOSED and the current price in CLOSE_PRICE; balance (CMD 6) and credit (CMD 7)
#  operations are closed at their OPEN_TIME. VOLUME is lots x 100.
TRADES = [
    (50001, 1001, "", 0, 6, 0, "2024-03-04 08:00", 0, 0, 0,
     "2024-03-04 08:00", 0, 0, 0, 10000.0, "Deposit"),
    (50002, 1001, "EURUSD", 5, 0, 10, "2024-03-04 09:15", 1.08512, 1.08, 1.09,
     "2024-03-04 15:40:12", 1.08731, -0.7, 0, 21.9, ""),
    (50003, 1001, "GBPUSD", 5, 1, 100, "2024-03-05 10:00", 1.2684, 1.272, 1.26,
     "2024-03-06 11:30", 1.26702, -7.0, -3.12, 138.0, "scalp"),
    (50004, 1001, "EURUSD", 5, 0, 250, "2024-03-06 00:00", 1.0895, 0, 0,
     NOT_CLOSED, 1.0901, -17.5, 0, 150.0, ""),
    (50005, 1001, "USDJPY", 3, 2, 50, "2024-03-06 12:00", 149.5, 148.9, 151.0,
     NOT_CLOSED, 150.12, 0, 0, 0, ""),
    (50006, 1002, "XAUUSD", 2, 1, 10, "2024-03-05 14:22", 2135.4, 2150.0, 2120.0,
     "2024-03-05 16:00", 2131.1, -0.7, 0, 43.0, ""),
    (50007, 1002, "EURUSD", 5, 4, 20, "2024-03-07 08:00", 1.095, 1.09, 1.1,
     NOT_CLOSED, 1.0921, 0, 0, 0, ""),
    (50008, 1003, "", 0, 7, 0, "2024-03-04 07:30", 0, 0, 0,
     "2024-03-04 07:30", 0, 0, 0, 1000.0, "Bonus"),
    (50009, 1003, "US30", 1, 0, 100, "2024-03-04 16:30", 38950.5, 38800.0, 39200.0,
     "2024-03-05 09:01", 39012.0, -5.0, -1.25, 61.5, ""),
    (50010, 1003, "EURUSD", 5, 5, 30, "2024-03-07 09:45", 1.085, 1.09, 1.08,
     NOT_CLOSED, 1.0921, 0, 0, 0, ""),
    (50011, 1003, "GBPUSD", 5, 3, 40, "2024-03-07 10:05", 1.28, 1.285, 1.27,
     NOT_CLOSED, 1.2735, 0, 0, 0, "tp ladder"),
]  # fmt: skip


@dataclass(frozen=True)
class ReportDbSetup:
    reader: ConnectionParams  # SELECT-only password user on the full report database
    partial: ConnectionParams  # same user, database with MT4_USERS but no MT4_TRADES
    admin: ConnectionParams  # the server admin on the full database (may write: proves read-only)


def _fill(admin: pymysql.connections.Connection, database: str, *, with_trades: bool) -> None:
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        cursor.execute(f"USE `{database}`")
        cursor.execute(MT4_USERS_DDL)
        cursor.executemany(
            "INSERT INTO `MT4_USERS` (`LOGIN`, `GROUP`, `NAME`, `BALANCE`, `CREDIT`, `EQUITY`, `MARGIN`, "
            "`MARGIN_FREE`, `REGDATE`, `LASTDATE`, `MODIFY_TIME`) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '2024-01-02 10:00:00', '2024-03-07 12:00:00', NOW())",
            USERS,
        )
        if with_trades:
            cursor.execute(MT4_TRADES_DDL)
            cursor.executemany(
                "INSERT INTO `MT4_TRADES` (`TICKET`, `LOGIN`, `SYMBOL`, `DIGITS`, `CMD`, `VOLUME`, "
                "`OPEN_TIME`, `OPEN_PRICE`, `SL`, `TP`, `CLOSE_TIME`, `CLOSE_PRICE`, `COMMISSION`, `SWAPS`, "
                "`PROFIT`, `COMMENT`, `MODIFY_TIME`) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NOW())",
                TRADES,
            )


@pytest.fixture(scope="session")
def mt4_report_db() -> Iterator[ReportDbSetup]:
    url = urlparse(mysql_url())
    host, port = url.hostname or "127.0.0.1", url.port or 3306
    admin_login, admin_password = unquote(url.username or "root"), unquote(url.password or "")
    suffix = secrets.token_hex(4)
    database, partial = f"ttmt_report_{suffix}", f"ttmt_report_{suffix}_partial"
    login, password = f"ttmt_ro_{suffix}", secrets.token_urlsafe(18)

    admin = pymysql.connect(host=host, port=port, user=admin_login, password=admin_password, autocommit=True)
    try:
        _fill(admin, database, with_trades=True)
        _fill(admin, partial, with_trades=False)
        with admin.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (login, password))
            for name in (database, partial):
                cursor.execute(f"GRANT SELECT ON `{name}`.* TO %s@'%%'", (login,))
        yield ReportDbSetup(
            reader=ConnectionParams(host, port, database, login, password),
            partial=ConnectionParams(host, port, partial, login, password),
            admin=ConnectionParams(host, port, database, admin_login, admin_password),
        )
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute(f"DROP DATABASE IF EXISTS `{partial}`")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (login,))
        admin.close()
