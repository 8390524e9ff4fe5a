"""Map a symbol name as a person or a trading signal writes it to one broker's symbol name.

What this module promises:

* ``resolve(name, broker_symbols, overrides=...)`` returns exactly one symbol *from the broker's own
  list* (spelled as the broker spells it) or raises a :class:`SymbolError`. It never picks between
  two plausible broker symbols: when more than one fits it raises :class:`AmbiguousSymbol` naming
  them all, so the user can add an override. When nothing fits it raises :class:`UnknownSymbol`
  with the broker's closest names (possibly none).
* Matching order (the first step that finds something decides):

  1. **override** - the account's ``{what the user writes -> broker symbol}`` map, keys compared
     case-insensitively and ignoring ``/``, spaces and ``&``. A key that names the same instrument
     (``GOLD`` and ``XAUUSD``) also applies, unless two such keys disagree. An override pointing to
     a symbol the broker does not list raises :class:`InvalidOverride` (an :class:`UnknownSymbol`).
  2. **exact** - the broker lists the name itself (case-insensitive, ``EUR/USD`` == ``EURUSD``).
  3. **alias** - the name is canonicalised through the alias table (``gold`` -> ``XAUUSD``,
     ``NASDAQ`` -> ``NAS100``) and the broker lists the canonical name itself.
  4. **alias / variant** - the broker lists the canonical name or any of its aliases, plainly
     (``GOLD``) or decorated with a broker prefix/suffix (``XAUUSD.m``, ``XAUUSDm``, ``US30.cash``,
     ``#AAPL``, ``m.EURUSD``). A plain symbol is preferred over its own decorated variants
     (``GOLD`` over ``GOLD.m``); anything else with more than one hit is ambiguous (``EURUSD.m``
     and ``EURUSD.pro``; ``GOLD`` and ``XAUUSD.m``).

* Broker symbols whose description names a company (``Dow Inc.``, ``Barrick Gold Corp``) are never
  taken as an index/commodity/currency alias (``DOW``, ``GOLD``) - only an exact name or an
  override selects them.
* ``asset_class_of`` classifies a canonical or broker name (optionally using the broker's
  description) and returns ``None`` when it cannot tell - it does not guess "stocks" for
  names that do not look like a ticker or a company.
* Pure Python, no I/O, no Django; deterministic for a given input.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AmbiguousSymbol",
    "AssetClass",
    "BrokerSymbols",
    "InvalidOverride",
    "MatchedBy",
    "Resolution",
    "SymbolError",
    "UnknownSymbol",
    "asset_class_of",
    "canonicalize",
    "known_instrument",
    "resolve",
]


class AssetClass(StrEnum):
    FOREX = "forex"
    METALS = "metals"
    INDICES = "indices"
    ENERGIES = "energies"
    CRYPTO = "crypto"
    STOCKS = "stocks"


class MatchedBy(StrEnum):
    OVERRIDE = "override"  # the account's override map
    EXACT = "exact"  # the broker lists the name as written (case-insensitive)
    ALIAS = "alias"  # the broker lists the canonical name or an alias, undecorated
    VARIANT = "variant"  # the broker lists the canonical name or an alias with a prefix/suffix


@dataclass(frozen=True, slots=True)
class Resolution:
    broker_symbol: str  # exactly as the broker spells it
    canonical: str  # e.g. "XAUUSD", "US30", "EURUSD", "AAPL"
    asset_class: AssetClass | None  # None: could not be classified
    matched_by: MatchedBy


#: Broker symbol names, or ``(name, description)`` pairs (description may be ``None``).
BrokerSymbols = Sequence[str | tuple[str, str | None]]


# ---------------------------------------------------------------------------------------------- errors


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


class SymbolError(ValueError):
    """A name could not be resolved to exactly one broker symbol."""

    def __init__(self, name: str, candidates: Iterable[str], message: str) -> None:
        self.name = name
        self.candidates: tuple[str, ...] = tuple(candidates)
        super().__init__(message)


class UnknownSymbol(SymbolError):
    """The broker lists nothing that matches ``name``; ``candidates`` are close names (maybe none)."""

    def __init__(self, name: str, candidates: Iterable[str] = ()) -> None:
        candidates = tuple(candidates)
        close = f"Close matches: {_quoted(candidates)}." if candidates else "No close matches."
        super().__init__(
            name,
            candidates,
            f"Unknown symbol {name!r}: this broker lists no matching symbol. {close} "
            f"If the broker lists it under another name, add an override for {name!r}.",
        )


class InvalidOverride(UnknownSymbol):
    """An override maps ``name`` to ``target``, which the broker does not list."""

    def __init__(self, name: str, target: str, candidates: Iterable[str] = ()) -> None:
        candidates = tuple(candidates)
        self.target = target
        close = f"Close matches: {_quoted(candidates)}." if candidates else "No close matches."
        SymbolError.__init__(
            self,
            name,
            candidates,
            f"The override for {name!r} points to {target!r}, which this broker does not list. "
            f"{close} Fix or remove the override.",
        )


class AmbiguousSymbol(SymbolError):
    """More than one broker symbol fits ``name``; ``candidates`` lists them all."""

    def __init__(self, name: str, candidates: Iterable[str]) -> None:
        candidates = tuple(candidates)
        super().__init__(
            name,
            candidates,
            f"Ambiguous symbol {name!r}: it could be any of {_quoted(candidates)}. "
            f"Add an override mapping {name!r} to the one to trade.",
        )


# ----------------------------------------------------------------------------------------- tables


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FIAT = _codes(
    "USD EUR GBP JPY CHF AUD NZD CAD SEK NOK DKK PLN HUF CZK TRY ZAR MXN SGD HKD CNH CNY RUB ILS "
    "THB INR KRW BRL CLP COP IDR MYR PHP TWD SAR AED RON BGN ISK KES NGN EGP PKR ARS KWD QAR"
)
_METAL_CODES = {"XAU": "GOLD", "XAG": "SILVER", "XPT": "PLATINUM", "XPD": "PALLADIUM"}
_METAL_NAMES = {name: code for code, name in _METAL_CODES.items()}
# crypto code as written -> code used in canonical names
_CRYPTO = {
    code: code for code in _codes("BTC ETH LTC XRP BCH ADA DOT SOL DOGE LINK XLM BNB AVAX TRX SHIB MATIC")
}
_CRYPTO["XBT"] = "BTC"
_CRYPTO_QUOTES = _FIAT | {"USDT", "USDC", "BTC", "ETH"}
# codes that make up pairs; a separator-suffix made of one ("XAU_EUR") is a pair, not a decoration
_PAIR_CODES = _CRYPTO_QUOTES | set(_CRYPTO) | set(_METAL_CODES)

# canonical -> aliases, per asset class (pairs like EURGBP/XAUEUR/ETHBTC need no entry)
_TABLE: dict[AssetClass, dict[str, tuple[str, ...]]] = {
    AssetClass.FOREX: {
        "EURUSD": ("FIBER", "FIBRE"),
        "GBPUSD": ("CABLE",),
        "AUDUSD": ("AUSSIE",),
        "NZDUSD": ("KIWI",),
        "USDCAD": ("LOONIE",),
        "USDCHF": ("SWISSY",),
    },
    AssetClass.METALS: {
        "XAUUSD": ("XAU", "GOLD"),
        "XAGUSD": ("XAG", "SILVER"),
        "XPTUSD": ("XPT", "PLATINUM"),
        "XPDUSD": ("XPD", "PALLADIUM"),
    },
    AssetClass.INDICES: {
        "US30": ("DJ30", "WS30", "DJI30", "DJI", "DJIA", "DOW", "DOW30", "DOWJONES", "WALLSTREET", "USA30"),
        "NAS100": ("USTEC", "US100", "NDX100", "NDX", "NASDAQ", "NASDAQ100", "NAS", "NQ100", "USTECH"),
        "US500": ("SPX500", "SP500", "SPX", "USA500"),
        "GER40": ("DE40", "GER30", "DE30", "DAX40", "DAX30", "DAX", "GERMANY40", "GERMANY30"),
        "UK100": ("FTSE100", "FTSE", "GB100"),
        "JP225": ("JPN225", "JAP225", "NIKKEI", "NIKKEI225", "NI225"),
        "FRA40": ("FR40", "F40", "CAC40", "CAC", "FRANCE40"),
        "EU50": ("EUSTX50", "ESTX50", "STOXX50", "EUROSTOXX50", "EURO50"),
        "AUS200": ("AU200", "ASX200", "AUSTRALIA200"),
        "HK50": ("HSI", "HK33", "HANGSENG"),
        "ESP35": ("ES35", "SPA35", "IBEX35", "IBEX"),
        "US2000": ("RUSSELL2000", "RUSSELL", "US2K"),
        "CHINA50": ("CN50", "CHINAA50"),
        "SWI20": ("CH20", "SMI", "SMI20", "SWISS20"),
        "NETH25": ("NL25", "AEX", "AEX25"),
        "DXY": ("USDX", "USDINDEX", "DOLLARINDEX"),
        "VIX": ("VOLX", "USVIX"),
    },
    AssetClass.ENERGIES: {
        "USOIL": ("WTI", "XTIUSD", "CL", "OIL", "CRUDE", "CRUDEOIL", "USCRUDE", "WTIUSD", "SPOTCRUDE"),
        "UKOIL": ("BRENT", "XBRUSD", "BRN", "UKBRENT", "SPOTBRENT", "BRENTOIL", "BRENTCRUDE"),
        "NATGAS": ("NGAS", "NG", "XNGUSD", "NATURALGAS", "USNATGAS"),
    },
    AssetClass.CRYPTO: {
        "BTCUSD": ("BITCOIN",),
        "ETHUSD": ("ETHEREUM",),
        "LTCUSD": ("LITECOIN",),
        "XRPUSD": ("RIPPLE",),
        "SOLUSD": ("SOLANA",),
        "DOGEUSD": ("DOGECOIN",),
        "ADAUSD": ("CARDANO",),
        "DOTUSD": ("POLKADOT",),
        "BCHUSD": ("BITCOINCASH",),
    },
}


def _build_alias_index() -> tuple[dict[str, str], dict[str, AssetClass]]:
    alias_to_canonical: dict[str, str] = {}
    class_of: dict[str, AssetClass] = {}
    for asset_class, table in _TABLE.items():
        for canonical, aliases in table.items():
            class_of[canonical] = asset_class
            for alias in (canonical, *aliases):
                if alias_to_canonical.setdefault(alias, canonical) != canonical:
                    raise AssertionError(f"alias {alias} maps to two canonicals")
    return alias_to_canonical, class_of


_ALIAS_TO_CANONICAL, _CLASS_OF_CANONICAL = _build_alias_index()

# commodities/bonds with no asset class here: never mistaken for stock tickers
_UNCLASSIFIED = _codes("CORN WHEAT SUGAR COCOA COFFEE COTTON SOYBEAN SOYBEANS OJ COPPER XCUUSD BUND USTBOND")

# ---------------------------------------------------------------------------- names and decorations

_DROP = re.compile(r"[\s/&]+")  # "EUR/USD", "S&P 500"
_SEPARATORS = "._#+-!$@~'`^]"
_PUNCT_PREFIX = re.compile(r"[#@$!._\-\[~^]+")  # "#AAPL", "[DJI30]"
_WORD_PREFIX = re.compile(r"[a-z0-9]{1,3}[._\-]")  # "m.EURUSD"
_SPLIT_PAIR = re.compile(r"([A-Za-z]{3,4})[_\-]([A-Za-z]{3,4})")  # "EUR_USD", "BTC-EUR"
_SUFFIX_TAIL = re.compile(r"[A-Za-z0-9._\-+#!$@~'`^\]]{1,12}")
_ATTACHED_SUFFIXES = frozenset({"CASH", "PRO", "ECN", "RAW", "STD", "MICRO", "MINI"})  # "US30Cash"
_LOWER_SUFFIXES = frozenset({"pro", "ecn", "raw", "std", "micro", "mini", "cash", "vip", "sb", "fx"})
_TICKER = re.compile(r"[A-Z][A-Z0-9]{0,4}(?:\.[A-Z])?")  # AAPL, VOW3, BRK.B


def _compact(name: str) -> str:
    return _DROP.sub("", name)


def _norm(name: str) -> str:
    return _compact(name).upper()


def _valid_suffix(core: str, tail: str) -> bool:
    if not tail:
        return True
    if tail[0] in _SEPARATORS:  # ".m", "_i", "#", "+", ".cash", ".NAS"
        return bool(_SUFFIX_TAIL.fullmatch(tail)) and tail.strip(_SEPARATORS).upper() not in _PAIR_CODES
    if any(c.islower() for c in core):  # "USOil" is not "USO" + "il"
        return False
    if tail.upper() in _ATTACHED_SUFFIXES:  # "US30Cash", "EURUSDPRO"
        return True
    # "EURUSDm", "EURUSDpro"; an uppercase letter ("EURUSDX") is part of the name, not a suffix
    return tail.isalpha() and tail.islower() and (len(tail) == 1 or tail in _LOWER_SUFFIXES)


def _decompositions(name: str) -> list[tuple[str, bool]]:
    """Possible (core, is_plain) readings of a symbol name: the whole name first, then decorated."""
    s = _compact(name)
    starts = {0}
    for prefix in (_PUNCT_PREFIX, _WORD_PREFIX):
        if m := prefix.match(s):
            starts.add(m.end())
    out: list[tuple[str, bool]] = []
    m = _SPLIT_PAIR.match(s)
    if m and {m[1].upper(), m[2].upper()} <= _PAIR_CODES and _valid_suffix(m[1] + m[2], s[m.end() :]):
        out.append(((m[1] + m[2]).upper(), m.end() == len(s)))
    for p in sorted(starts):
        for q in range(len(s), p, -1):
            core = s[p:q]
            if core.isascii() and core.isalnum() and _valid_suffix(core, s[q:]):
                out.append((core.upper(), p == 0 and q == len(s)))
    return out


def _lookup(core: str) -> str | None:
    """Canonical name for an undecorated, upper-cased core, or None if it is not a known instrument."""
    if core in _ALIAS_TO_CANONICAL:
        return _ALIAS_TO_CANONICAL[core]
    if len(core) == 6:
        base, quote = core[:3], core[3:]
        if quote in _FIAT and (base in _METAL_CODES or (base in _FIAT and base != quote)):
            return core
    for metal, code in _METAL_NAMES.items():  # "GOLDEUR"
        if core.startswith(metal) and core[len(metal) :] in _FIAT:
            return code + core[len(metal) :]
    if core in _CRYPTO:  # "BTC" -> "BTCUSD"
        return _CRYPTO[core] + "USD"
    for code in sorted(_CRYPTO, key=len, reverse=True):  # "ETHBTC", "XBTUSD", "BTCUSDT"
        if core.startswith(code) and core[len(code) :] in _CRYPTO_QUOTES:
            return _CRYPTO[code] + core[len(code) :]
    return None


def _known_canonical(name: str) -> str | None:
    for core, _plain in _decompositions(name):
        if canonical := _lookup(core):
            return canonical
    return None


def _class_of_known(canonical: str) -> AssetClass:
    if canonical in _CLASS_OF_CANONICAL:
        return _CLASS_OF_CANONICAL[canonical]
    if canonical[:3] in _METAL_CODES:
        return AssetClass.METALS
    if canonical[:3] in _FIAT and canonical[3:] in _FIAT:
        return AssetClass.FOREX
    return AssetClass.CRYPTO


def _aliases_of(canonical: str) -> frozenset[str]:
    names = {canonical}
    for table in _TABLE.values():
        names.update(table.get(canonical, ()))
    base, quote = canonical[:3], canonical[3:]
    if base in _METAL_CODES and quote in _FIAT:
        names.add(_METAL_CODES[base] + quote)  # XAUEUR -> GOLDEUR
    if canonical.startswith("BTC"):
        names.add("XBT" + canonical[3:])  # BTCUSD -> XBTUSD
    for code, target in _CRYPTO.items():
        if canonical == target + "USD":
            names.add(code)  # BTCUSD -> BTC, XBT
    return frozenset(names)


def _heuristic_core(name: str) -> str:
    """Best guess at the undecorated name of an instrument not in the tables (mostly stocks)."""
    s = _compact(name)
    if m := _PUNCT_PREFIX.match(s):  # "#AAPL"
        s = s[m.end() :]
    if m := re.match(r"[a-z]{1,3}[._\-]", s):  # "m.AAPL"
        s = s[m.end() :]
    if m := re.search(f"[{re.escape(_SEPARATORS)}]", s[1:]):
        head, tail = s[: m.start() + 1], s[m.start() + 1 :]
        if not re.fullmatch(r"\.[A-Z]", tail):  # keep share classes: "BRK.B"
            s = head
    if (m := re.fullmatch(r"([A-Z0-9]{2,})([a-z]+)", s)) and (
        len(m[2]) == 1 or m[2] in _LOWER_SUFFIXES
    ):  # "AAPLm"
        s = m[1]
    return s.upper()


# ------------------------------------------------------------------------------------ descriptions

_COMPANY = re.compile(
    r"\b(inc|incorporated|corp|corporation|plc|ltd|limited|llc|n\.v|s\.a|ag|holdings?|group|company"
    r"|shares?|stocks?|equity|adr|etf)\b"
)
_DESCRIPTION_CLASSES = (
    (AssetClass.CRYPTO, re.compile(r"\b(bitcoin|ethereum|litecoin|ripple|solana|dogecoin|crypto\w*)\b")),
    (AssetClass.METALS, re.compile(r"\b(gold|silver|platinum|palladium)\b")),
    (AssetClass.ENERGIES, re.compile(r"\b(oil|crude|brent|wti|natural gas|natgas|gasoline)\b")),
    (AssetClass.INDICES, re.compile(r"\b(index|indices|dow jones|nasdaq|s&p|dax|ftse|nikkei)\b")),
)


def _is_company(description: str | None) -> bool:
    return bool(description) and bool(_COMPANY.search(description.lower()))


# ------------------------------------------------------------------------------------- public API


def canonicalize(name: str) -> str:
    """The canonical name for ``name`` (``gold`` -> ``XAUUSD``, ``US30.cash`` -> ``US30``,
    ``EUR/USD`` -> ``EURUSD``, ``#AAPL`` -> ``AAPL``); unknown names are upper-cased and stripped of
    obvious broker decorations."""
    return _known_canonical(name) or _heuristic_core(name)


def known_instrument(name: str) -> str | None:
    """The canonical name when ``name`` is an instrument the tables know (``gold``, ``EUR/USD``,
    ``US30.cash``, ``BTC``), else ``None``: unlike :func:`canonicalize`, it never guesses."""
    return _known_canonical(name)


def asset_class_of(canonical_or_broker_name: str, description: str | None = None) -> AssetClass | None:
    """Asset class of a canonical or broker symbol name, using the broker's description if given.

    In order: a description naming a company (``Barrick Gold Corp``) means stocks; a known
    instrument (alias table, currency/metal/crypto pairs) is classified by name; then the
    description's wording (``Crude Oil``, ``... Index``); a ticker-like name (``AAPL``, ``#TSLA``,
    ``AAPL.NAS``) means stocks; else ``None`` (e.g. ``COFFEE``) rather than a guess.
    """
    if _is_company(description):
        return AssetClass.STOCKS
    if known := _known_canonical(canonical_or_broker_name):
        return _class_of_known(known)
    if description:
        for asset_class, pattern in _DESCRIPTION_CLASSES:
            if pattern.search(description.lower()):
                return asset_class
    core = _heuristic_core(canonical_or_broker_name)
    if core not in _UNCLASSIFIED and _TICKER.fullmatch(core):
        return AssetClass.STOCKS
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    description: str | None
    norm: str
    company: bool


def _entries(broker_symbols: BrokerSymbols) -> list[_Entry]:
    if isinstance(broker_symbols, str):
        raise TypeError("broker_symbols must be a sequence of names, not one string")
    entries = []
    for item in broker_symbols:
        name, description = (item, None) if isinstance(item, str) else item
        name = name.strip()
        if name:
            entries.append(_Entry(name, description, _norm(name), _is_company(description)))
    return entries


def _close_matches(terms: Iterable[str], entries: Sequence[_Entry], limit: int = 5) -> list[str]:
    pool: dict[str, list[str]] = {}
    for e in entries:
        for key in {e.norm, _heuristic_core(e.name)}:
            pool.setdefault(key, []).append(e.name)
    found: list[str] = []
    for term in dict.fromkeys(t for t in terms if t):
        for key in difflib.get_close_matches(term, pool, n=limit, cutoff=0.6):
            found.extend(n for n in pool[key] if n not in found)
    return found[:limit]


def _override_target(name: str, wanted: str, known: str | None, overrides: Mapping[str, str]) -> str | None:
    by_key: dict[str, dict[str, str]] = {}  # normalised key -> {target.upper(): target}
    for key, target in overrides.items():
        by_key.setdefault(_norm(key), {})[target.strip().upper()] = target.strip()
    targets = by_key.get(wanted)
    if targets is None and known is not None:
        targets = {}
        for key, key_targets in by_key.items():
            if _known_canonical(key) == known:
                targets.update(key_targets)
    if not targets:
        return None
    if len(targets) > 1:
        raise AmbiguousSymbol(name, sorted(targets.values()))
    return next(iter(targets.values()))


def _resolution(entry: _Entry, known_input: str | None, matched_by: MatchedBy) -> Resolution:
    if entry.company:
        return Resolution(entry.name, _heuristic_core(entry.name), AssetClass.STOCKS, matched_by)
    known = _known_canonical(entry.name) or known_input
    if known is not None:
        return Resolution(entry.name, known, _class_of_known(known), matched_by)
    core = _heuristic_core(entry.name)
    return Resolution(entry.name, core, asset_class_of(entry.name, entry.description), matched_by)


def resolve(
    name: str,
    broker_symbols: BrokerSymbols,
    *,
    overrides: Mapping[str, str] | None = None,
) -> Resolution:
    """Resolve ``name`` to exactly one of ``broker_symbols`` (see the module docstring for the order).

    Raises :class:`UnknownSymbol` (incl. :class:`InvalidOverride`) or :class:`AmbiguousSymbol`.
    """
    entries = _entries(broker_symbols)
    wanted = _norm(name)
    if not wanted:
        raise UnknownSymbol(name)
    known = _known_canonical(name)

    # 1. override
    if overrides and (target := _override_target(name, wanted, known, overrides)) is not None:
        hits = [e for e in entries if e.name.upper() == target.upper()]
        if not hits:
            raise InvalidOverride(name, target, _close_matches([_norm(target)], entries))
        return _resolution(hits[0], known, MatchedBy.OVERRIDE)

    # 2. exact, as written
    hits = [e for e in entries if e.norm == wanted]
    if len(hits) > 1:  # e.g. "EURUSD" and "EUR/USD": take the one spelled as written
        hits = [e for e in hits if e.name == name.strip()] or hits
    if len(hits) > 1:
        raise AmbiguousSymbol(name, [e.name for e in hits])
    if hits:
        return _resolution(hits[0], known, MatchedBy.EXACT)

    if known is not None:
        # a company's shares are never an index/commodity/currency alias ("#DOW" Dow Inc.)
        candidates = [e for e in entries if not e.company]

        # 3. the canonical name, undecorated
        hits = [e for e in candidates if e.norm == known]
        if len(hits) == 1:
            return _resolution(hits[0], known, MatchedBy.ALIAS)
        targets = _aliases_of(known)
    else:
        candidates = entries
        targets = frozenset({wanted, _heuristic_core(name)})

    # 4. the canonical name or an alias, plain or decorated
    matches: list[tuple[_Entry, str, bool]] = []
    for e in candidates:
        for core, plain in _decompositions(e.name):
            if core in targets:
                matches.append((e, core, plain))
                break
        else:
            if known is None and (core := _heuristic_core(e.name)) in targets:  # "#BRK.B"
                matches.append((e, core, False))
    if matches:
        stems = {core for _e, core, _plain in matches}
        plains = [e for e, _core, plain in matches if plain]
        if len(matches) == 1:
            entry, _core, plain = matches[0]
        elif len(stems) == 1 and len(plains) == 1:  # "GOLD" over "GOLD.m"
            entry, plain = plains[0], True
        else:
            raise AmbiguousSymbol(name, [e.name for e, _core, _plain in matches])
        return _resolution(entry, known, MatchedBy.ALIAS if plain else MatchedBy.VARIANT)

    raise UnknownSymbol(name, _close_matches([wanted, known or _heuristic_core(name)], entries))
