"""The words signal channels use for a trade's parts, and what each means: the table the reader of
levels (``trade.py``) consults.

A phrase is one or more lower-case words; the reader matches the longest phrase first
(``stop loss`` before ``stop``). Per-source keywords (``ParserOptions.keywords``) extend the table
with the same meanings. The word sets that decide whether a message is noise (hedges, conditions,
recaps, promotions) are here too. Changes to trades are phrases of several words in a fixed order,
so ``management.py`` keeps them as patterns, one row per action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum


class Meaning(StrEnum):
    BUY = "buy"
    SELL = "sell"
    LIMIT = "limit"
    STOP = "stop"  # an order type after the side ("buy stop"), else the stop loss ("stop 72500")
    MARKET = "market"
    ENTRY = "entry"
    SL = "sl"
    TP = "tp"
    RUNNER = "runner"  # a target left open ("TP4: hold")
    MEASURE = "measure"  # lot, leverage, risk, R:R: the number after it is not a price
    UNIT = "unit"  # pips, points, %: the number before it is a distance or a share
    ORDINAL = "ordinal"  # "1st", "second": a target's place, not a price
    FILLER = "filler"  # words a signal carries that say nothing (setup, signal, the, ...)


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in text.split("|"))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PHRASES: dict[Meaning, tuple[str, ...]] = {
    Meaning.BUY: _phrases(
        "buy | buying | long | longs | go long | compra | comprar | compre | achat | acheter | kaufen | kauf"
    ),
    Meaning.SELL: _phrases(
        "sell | selling | short | shorts | go short | venta | vender | venda | vende | vente | "
        "vendre | verkaufen | verkauf"
    ),
    Meaning.LIMIT: _phrases("limit | limit order | pending limit | limite"),
    Meaning.STOP: _phrases("stop | stop order | pending stop"),
    Meaning.MARKET: _phrases(
        "now | market | mkt | market price | market execution | at market | instant | "
        "instant execution | instantly | immediately | cmp | current price | current market price | "
        "asap | right now | market order | ahora | agora | maintenant | jetzt | sofort | mercado"
    ),
    Meaning.ENTRY: _phrases(
        "entry | entries | entry price | entry point | entry zone | entry area | entry level | "
        "enter | enter at | enter now | ep | open price | price | zone | area | range | "
        "entry range | between | from | at | e | entry target | entry targets | layer | layers | "
        "reentry | re entry | re-entry | entrada | entrée | einstieg"
    ),
    Meaning.SL: _phrases(
        "sl | stoploss | stop loss | stoplose | stop lose | stop los | stoplos | s l | stop level | "
        "stpl | stop lost | stoplost | stop price | invalidation | protective stop | slo | "
        "stop target | stop targets | stop loss target"
    ),
    Meaning.TP: _phrases(
        "tp | tps | take profit | takeprofit | takeprofits | take profits | target | targets | "
        "tgt | tgts | tg | profit target | profit targets | take profit target | tp target | "
        "take proft | take prof | tak profit | take profti | takeproft | tp's | objective | "
        "objectives | objetivo | objetivos | objectif | objectifs | ziel | ziele | alvo | alvos | "
        "t"
    ),
    Meaning.RUNNER: _phrases(
        "open | hold | runner | run | running | free | let it run | leave open | open target | "
        "infinity | unlimited | trail | trailing | open tp | xxx | moon"
    ),
    Meaning.MEASURE: _phrases(
        "lot | lots | lotsize | lot size | volume | size | position size | leverage | lev | risk | "
        "rr | risk reward | risk to reward | reward | ratio | margin | cross | isolated | capital | "
        "balance | account"
    ),
    Meaning.UNIT: _phrases(
        "pips | pip | points | point | pts | pt | % | percent | x | usd | dollars | ticks | r"
    ),
    Meaning.ORDINAL: _phrases(
        "1st | 2nd | 3rd | 4th | 5th | 6th | first | second | third | fourth | fifth | sixth | final | last"
    ),
    Meaning.FILLER: _phrases(
        "setup | signal | signals | details | trade | alert | new | order | position | idea | vip | "
        "premium | free signal | update | pair | symbol | forex | crypto | futures | spot | hot | "
        "fresh | live | the | a | an | and | or | with | for | of | to | on | in | is | it | "
        "please | guys | team | my | our | here | again | too | also | level | levels | only | "
        "use | set | put | place | placed | add | take | call | opened | option | options | quick | "
        "scalp | scalping | swing | intraday | daily | h1 | h4 | m15 | m30 | m5 | timeframe | tf | "
        "exchange | binance | bybit | type | direction | side | instrument | asset | execution | "
        "target price | at price | valid | validity | expiry | expires | expire | gtc | session | "
        "london | asian | asia | ny | new york | good | luck | best | gl | safe | trading | enjoy | "
        "profit | profits | above | below | around | near | approx | approximately | ok | okay | "
        "done | sure"
    ),
}

# Words that make a message commentary rather than an instruction when they come with no levels,
# and lower the confidence of a trade when they come with them.
HEDGES = _words(
    "if might may maybe could would should wait waiting watch watching look looking expect "
    "expecting think thinking possible possibly potential potentially likely unlikely soon later "
    "tomorrow prefer perhaps unless when once consider considering analysis outlook bias plan "
    "planning probably chance forecast predict prediction idea ideas scenario hope hoping want how "
    "why lesson education educational tutorial learn learning"
)
# The hedges that make a side conditional when they share its sentence: never a trade.
CONDITIONALS = _words(
    "if unless might maybe perhaps possibly possible potential potentially could wait waiting once"
)
# After a label with no value yet ("SL: soon"): the level is still to come, not a hedge.
LEVELS_TO_FOLLOW = _words("soon later tba tbd coming pending wait")
RECAP_WORDS = _words(
    "recap summary results result weekly monthly today's yesterday's statistics stats wins losses "
    "winrate accuracy performance report total overview week month yesterday"
)
PROMOTION_WORDS = _words(
    "join subscribe subscription link links http https www vip premium discount offer offers promo "
    "giveaway membership member members dm contact inbox whatsapp telegram channel group admin "
    "mentorship course academy register sign signup referral bonus copy copytrading"
)

# Short or ordinary words that are also instrument names: a symbol only when written in capitals.
SYMBOL_ONLY_IN_CAPITALS = _words("link dot sol ada cl ng nas dow cac smi aex hsi trx bnb ngas brn")
# Words in capitals that are never an unknown ticker.
NOT_TICKERS = _words(
    "now buy sell long short tp sl be entry zone setup signal alert trade new hot vip free update "
    "limit stop market open hold close exit cancel move gold and or the at to from pips usd eur gmt "
    "utc am pm ok it is for on in of risk lot lots rr"
)

# Words channels misspell often enough that a near miss ("Entery", "Take Proffit", "brekeven")
# is read as the word itself (a similarity of at least TYPO_SIMILARITY, words of 5 letters or more).
TYPO_TARGETS = _words(
    "entry profit target targets stoploss takeprofit breakeven partial partials cancel limit"
)
TYPO_SIMILARITY = 0.85

MEANINGS = frozenset(m.value for m in Meaning)


class PhraseTable(dict):
    """Phrase (a tuple of lower-case words) -> its meaning, and how many words the longest has."""

    longest: int


_KEYWORD_WORD = re.compile(r"[^\W\d_][\w']*")  # one word as the reader splits text into words


def phrase_table(extra: Mapping[str, str] | None = None) -> PhraseTable:
    """Every phrase -> its meaning; ``extra`` (a source's keywords: words of letters and digits,
    separated by spaces) wins. Raises ``ValueError`` for an unknown meaning or a keyword the reader
    could never match."""
    table = PhraseTable()
    for meaning, phrases in _PHRASES.items():
        for phrase in phrases:
            table.setdefault(tuple(phrase.split()), meaning)
    for phrase, meaning in (extra or {}).items():
        if meaning not in MEANINGS:
            raise ValueError(
                f"unknown meaning {meaning!r} for keyword {phrase!r}: use one of {sorted(MEANINGS)}"
            )
        words = tuple(phrase.lower().split())
        if not words or not all(_KEYWORD_WORD.fullmatch(word) for word in words):
            raise ValueError(f"keyword {phrase!r}: use words of letters and digits, separated by spaces")
        table[words] = Meaning(meaning)
    table.longest = max(len(phrase) for phrase in table)
    return table


DEFAULT_TABLE = phrase_table()
