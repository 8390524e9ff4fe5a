"""How fast and how right the signal parser reads the corpora.

    .venv/bin/python bench/signal_parser.py [--repeat 20] [--out bench/results/signal_parser-DATE.json]

For each set (``shared``: public.jsonl + the TTMT vendor's fixtures; ``own``: this product's set,
tuned for; ``holdout`` to ``holdout6``: written by others without seeing the parser, kept out of
tuning until first measured): how many messages are read exactly right (every
contract field the case states, ``confidence`` and ``problems`` aside), the wrong ones by name, and
what the confidence says (its mean on right and on wrong readings, and how many wrong readings a
route's default threshold would still trade). Parse time per message: each message parsed
``--repeat`` times after one warm-up, p50/p99/max over all messages (the per-message median of its
repeats), in microseconds, in this one process. No database, no Django setup.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from execution.signals.parsing import parse  # noqa: E402
from execution.signals.parsing.parser import DEFAULT_THRESHOLD  # noqa: E402
from tests.execution.signals.parsing import corpora  # noqa: E402

SETS = {
    "shared": corpora.shared_cases,
    "own": corpora.own_cases,
    **{name: functools.partial(corpora.holdout_cases, name) for name in corpora.HOLDOUTS},
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(repeat: int) -> dict:
    results: dict = {"sets": {}, "threshold": DEFAULT_THRESHOLD}
    timings: list[float] = []
    for name, load in SETS.items():
        cases = load()
        right, wrong_names, right_conf, wrong_conf = 0, [], [], []
        traded_wrong = 0
        for case in cases:
            reading = parse(case.text, reply_to=case.reply_to)
            contract = reading.to_contract()
            if corpora.compared(contract, case.expected) == case.expected:
                right += 1
                right_conf.append(reading.confidence)
            else:
                wrong_names.append(case.name)
                wrong_conf.append(reading.confidence)
                if (
                    reading.kind.value in ("open", "details", "modify")
                    and reading.confidence >= DEFAULT_THRESHOLD
                ):
                    traded_wrong += 1
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                parse(case.text, reply_to=case.reply_to)
                samples.append((time.perf_counter() - started) * 1e6)
            timings.append(statistics.median(samples))
        results["sets"][name] = {
            "messages": len(cases),
            "right": right,
            "share_right": round(right / len(cases), 4),
            "wrong": wrong_names,
            "mean_confidence_right": round(statistics.mean(right_conf), 3) if right_conf else None,
            "mean_confidence_wrong": round(statistics.mean(wrong_conf), 3) if wrong_conf else None,
            "wrong_at_or_above_threshold_and_actionable": traded_wrong,
        }
    results["parse_us"] = {
        "messages": len(timings),
        "p50": round(_percentile(timings, 0.5), 1),
        "p99": round(_percentile(timings, 0.99), 1),
        "max": round(max(timings), 1),
    }
    results["python"] = platform.python_version()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = measure(args.repeat)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
