"""The signal corpora as (name, text, reply_to, expected contract fields) cases, one loader per format.

In ``corpus/``: ``public.jsonl`` and ``ttmt-corpus/`` are the shared corpora (copied from
``shared/signals``, see ``SHARED-README.md``; the TTMT corpus is MIT, see its LICENSE);
``own.jsonl`` is this product's own set (tuned for); ``holdout.jsonl`` to ``holdout6.jsonl`` were
written by other people who never saw the parser, and measured by
``bench/signal_parser.py`` before their failures were looked at (its results say how each first
measured).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
ACTION_NAMES = {"partial_close": "close_partial", "close": "close_all", "move_stop": "move_sl",
                "move_target": "move_tp"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    reply_to: str | None
    expected: dict  # contract fields to compare (kind always)


def _entry(value):
    if isinstance(value, list):
        return {"low": min(value), "high": max(value)}
    return value


def _from_product_format(name: str, row: dict) -> Case:
    e = row["expect"]
    expected = {"kind": e["kind"]}
    if e["kind"] in ("open", "details"):
        if e["kind"] == "open":
            expected |= {"side": e["side"], "order_type": e["order"], "symbol": e["symbol"]}
        expected |= {"entry": _entry(e["entry"]), "sl": e["sl"], "tp": e["tp"]}
        expected["runner"] = e.get("runner", False)
    elif e["kind"] == "modify":
        actions = e.get("actions")
        if actions is None:
            actions = [{k: v for k, v in e.items() if k not in ("kind", "symbol")}]
        expected["actions"] = [_rounded(a) for a in actions]
        if "symbol" in e:
            expected["symbol"] = e["symbol"]
    return Case(name, row["text"], row.get("reply_to"), expected)


def _rounded(action: dict) -> dict:
    return {k: round(v, 2) if k == "fraction" else v for k, v in action.items()}


def product_format(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            cases.append(_from_product_format(f"{path.stem}:{n}", json.loads(line)))
    return cases


def ttmt_corpus() -> list[Case]:
    fixtures = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in (CORPUS / "ttmt-corpus" / "fixtures").glob("*.json")
    }
    cases = []
    for name, f in sorted(fixtures.items()):
        e = f["expected"]
        reply = fixtures.get(f.get("replyTo", ""), {}).get("message")
        kind = {"new_trade": "open", "details": "details", "modification": "modify"}[e["type"]]
        expected: dict = {"kind": kind}
        if kind in ("open", "details"):
            entry = e["entry"]
            expected["entry"] = (
                None if entry["kind"] == "market" else entry["price"] if entry["kind"] == "price"
                else {"low": entry["low"], "high": entry["high"]}
            )  # fmt: skip
            expected |= {"sl": e["stopLoss"], "tp": e["takeProfits"], "runner": e["runner"]}
            if kind == "open":
                expected |= {"side": e["direction"], "symbol": e["symbol"], "order_type": "market"}
        else:
            expected["actions"] = [{"action": ACTION_NAMES.get(a, a)} for a in e["actions"]]
        cases.append(Case(f"ttmt:{name}", f["message"], reply, expected))
    return cases


def shared_cases() -> list[Case]:
    return product_format(CORPUS / "public.jsonl") + ttmt_corpus()


def own_cases() -> list[Case]:
    return product_format(CORPUS / "own.jsonl")


HOLDOUTS = ("holdout", "holdout2", "holdout3", "holdout4", "holdout5", "holdout6")


def holdout_cases(name: str) -> list[Case]:
    """One hold-out set by its file name (one of ``HOLDOUTS``)."""
    return product_format(CORPUS / f"{name}.jsonl")


def all_cases() -> list[Case]:
    return shared_cases() + own_cases() + [case for name in HOLDOUTS for case in holdout_cases(name)]


def compared(contract: dict, expected: dict) -> dict:
    """The reading's fields that the case states, for comparison (fractions to 2 places)."""
    out = {k: contract.get(k) for k in expected}
    if "actions" in out:
        out["actions"] = [_rounded(a) for a in out["actions"]]
    return out
