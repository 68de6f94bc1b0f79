#!/usr/bin/env python3
"""How fast pos-sim reads payment codes, and how fast it refuses garbage.

Prints, per parser, the median and p95 time to parse each real payload of the conformance
vectors, and to refuse 1 MB of garbage, beside a baseline measured in the same run: one
CRC-16 over the same payload (the least work any validator must do) and one search of the
1 MB for a byte it does not hold (a single linear scan). Run: .venv/bin/python scripts/bench_codes.py
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path

from pos_sim.domain import codes
from pos_sim.domain.codes.crc import crc16_ccitt_false
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import parse_money

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "conformance" / "emv_vectors.json"
ROUNDS = 200


def timed(fn, arg) -> float:
    started = time.perf_counter()
    try:
        fn(arg)
    except DomainError:
        pass
    return time.perf_counter() - started


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e6, ordered[int(len(ordered) * 0.95) - 1] * 1e6


def main() -> None:
    rng = random.Random(7)
    payloads = [v["payload"] for v in json.loads(VECTORS.read_text(encoding="utf-8"))]
    garbage = {
        "random printable": "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(1_000_000)),
        "EMV-looking": "000201" + "0199" + "9" * 999_990,
        "CPM-looking": "hQVDUFY" + "A" * 999_993,
        "all digits": "".join(rng.choice("0123456789") for _ in range(1_000_000)),
    }
    print(f"{'what':44} {'median us':>10} {'p95 us':>10}   baseline median us")
    parse_times, crc_times = [], []
    for _ in range(ROUNDS // 20):
        for payload in payloads:
            parse_times.append(timed(codes.parse, payload))
            crc_times.append(timed(lambda p: crc16_ccitt_false(p.encode()), payload))
    med, p95 = summary(parse_times)
    print(f"{'parse a real payload (47 vectors)':44} {med:10.1f} {p95:10.1f}   {summary(crc_times)[0]:8.2f} (one CRC-16)")
    for name, text in garbage.items():
        refuse = summary([timed(codes.parse, text) for _ in range(ROUNDS)])
        money = summary([timed(parse_money, text) for _ in range(ROUNDS)])
        scan = summary([timed(lambda t: "\x01" in t, text) for _ in range(ROUNDS)])
        print(f"{'refuse 1 MB ' + name + ' (codes.parse)':44} {refuse[0]:10.1f} {refuse[1]:10.1f}   {scan[0]:8.1f} (one linear scan)")
        print(f"{'refuse 1 MB ' + name + ' (parse_money)':44} {money[0]:10.1f} {money[1]:10.1f}")


if __name__ == "__main__":
    main()
