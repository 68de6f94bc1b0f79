#!/usr/bin/env python3
"""Transit gate: from a 1280x720 camera frame to open or deny, on one core; taps a gate sustains; clearing.

Frames are drawn once, before anything is timed: a rider's ride code as a phone shows it (``RC1:``
base45 in an alphanumeric QR, version 6 at level M, as pos_sim/domain/codes/ride.py says a wallet
draws it), sometimes with screen-photo or glare damage, placed at varied sizes, places and tilts in
a cluttered 1280x720 scene (``damage.place_in_frame``); and frames with no code in them (a blank
phone screen). Kinds of taps: entries at M01, exits at M12 of riders who entered earlier (the
gate finds the entry in the peer station's folder and prices the leg), replays of a code already
used; the gates' clock is the frames' (a tap every 2 s from a weekday 08:00 in Singapore), so no
code expires however long drawing takes.

Timed, one frame at a time, the process pinned to one CPU (``os.sched_setaffinity``):

- baselines: a bare copy of the frame; the decoder alone on the same frames (the ratio is the
  gate's own cost on top of reading the code);
- frame -> decision: the decoder (the project's cascade, or ``--decoder``) and ``Gate.decide``
  (read, verify with the cached key ring, replay and passback checks, the fare at an exit, the
  journal and station state written with synchronous=FULL), each apart and together;
- taps a gate sustains: ``Gate.decide`` alone on pre-decoded codes (entries, then the same
  riders' exits), beside baselines of ``ride.read`` + ``ride.verify`` alone and of one SQLite
  commit (WAL, synchronous=FULL) on the same disk; and 1000 / the mean frame-to-decision time.

Then clearing: scripts/bench_transit_clearing.py run as it is, in its own process (not pinned),
for 1,000,000 taps (``--quick``: 50,000, and the time for a million extrapolated from its rate).

Issue 7's target: p95 <= 60 ms from frame to decision. Anchors: Octopus cards about 0.1 s, Hong
Kong metro QR gates about 0.4 s, London's limit before queues form 0.5 s. Clearing: 1,000,000 taps
in <= 60 s.

Run: .venv/bin/python scripts/bench_gate.py [--frames 400] [--quick] [--seed 7]
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread a process, set before numpy and OpenCV start their thread pools
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse
import math
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import segno

from pos_sim.domain.codes import ride
from pos_sim.scan.damage import damage, place_in_frame
from pos_sim.scan.scanner import decoder_named
from pos_sim.terminal.gate import Decision, Gate, GateReason

ROOT = Path(__file__).resolve().parents[1]
CLEARING_SCRIPT = ROOT / "scripts" / "bench_transit_clearing.py"
SGT = ZoneInfo("Asia/Singapore")
SIZE = (1280, 720)
START = datetime(2025, 3, 3, 8, 0, tzinfo=SGT)  # a Monday, peak hour
TAP_EVERY = timedelta(seconds=2)
TARGET_P95_MS = 60.0
ANCHORS_MS = (("Octopus card", 100), ("Hong Kong metro QR gate", 400), ("London's limit before queues", 500))
CLEARING_TAPS, CLEARING_TARGET_S = 1_000_000, 60.0
QUICK_FRAMES, QUICK_TAPS, QUICK_CLEARING_TAPS = 40, 300, 50_000
KINDS = (("entry", 0.45), ("exit", 0.35), ("replay", 0.08), ("none", 0.12))
EXPECTED = {"entry": ("open", GateReason.OK), "exit": ("open", GateReason.OK), "replay": ("deny", GateReason.REPLAYED)}


class Clock:
    """The gates' clock: the time of the frame being decided."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Frame:
    kind: str                 # entry, exit, replay, none
    at: datetime              # when the gate sees it
    code: str | None
    image: np.ndarray
    fill: float
    look: str                 # the phone screen's damage


def phone_qr(text: str, module_px: int = 6) -> np.ndarray:
    """The ride code as a wallet draws it: segno's own mode choice (alphanumeric for RC1: base45), level M."""
    symbol = segno.make(text, error="m", boost_error=False, micro=False)
    modules = np.array([[bool(m) for m in row] for row in symbol.matrix_iter(border=4)])
    pixels = np.where(modules, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(pixels, module_px, axis=0), module_px, axis=1)


def ms_stats(values: list[float]) -> tuple[float, float]:
    """Median and p95 (nearest rank) in ms."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


LABEL = 52


def header(title: str, extra: str = "") -> str:
    return f"\n{title:<{LABEL + 2}} {'n':>5} {'median ms':>10} {'p95 ms':>10}  {extra}".rstrip()


def row(what: str, values: list[float], extra: str = "") -> str:
    if not values:
        return f"  {what:<{LABEL}} {0:>5} {'-':>10} {'-':>10}  {extra}".rstrip()
    median, p95 = ms_stats(values)
    return f"  {what:<{LABEL}} {len(values):>5} {median:>10.2f} {p95:>10.2f}  {extra}".rstrip()


class Network:
    """An issuer key, a key ring, and gates of one network folder sharing the clock."""

    def __init__(self, folder: Path, clock: Clock) -> None:
        self.folder = folder
        self.clock = clock
        self.key, issuer = ride.generate_key_pair(1, START - timedelta(days=1), START + timedelta(days=365))
        self.ring = ride.KeyRing(ride.IssuerKeys((issuer,)), ride.DenyList(), START - timedelta(hours=1))
        self.gates: dict[str, Gate] = {}
        self.sequence = 0

    def gate(self, station: str, direction: str) -> Gate:
        if station not in self.gates:
            gate = Gate.open(self.folder / station, station, "G1", direction, zone=SGT, clock=self.clock)
            gate.install_keyring(self.ring)
            self.gates[station] = gate
        return self.gates[station]

    def code(self, account: bytes, at: datetime) -> str:
        """A code the rider's wallet issued a few seconds before ``at``."""
        self.sequence += 1
        issued = (at - timedelta(seconds=3)).replace(microsecond=0)
        return ride.sign(ride.RideCode(1, account, issued, ride.MAX_VALID_S, self.sequence), self.key)

    def decide(self, station: str, direction: str, text: str, at: datetime) -> Decision:
        self.clock.now = at
        return self.gate(station, direction).decide(text)

    def close(self) -> None:
        for gate in self.gates.values():
            gate.close()


def draw_frames(count: int, network: Network, rng: np.random.Generator) -> list[Frame]:
    """The frames, in tap order; the entries that exits and replays need made at their gates (not timed)."""
    kinds = rng.choice([kind for kind, _ in KINDS], size=count, p=[share for _, share in KINDS])
    frames = []
    for index, kind in enumerate(kinds):
        at = START + index * TAP_EVERY
        code = None
        if kind != "none":
            account = secrets.token_bytes(16)
            if kind == "exit":  # entered 10-50 minutes ago at one of three stations
                entered = at - timedelta(minutes=float(rng.uniform(10, 50)))
                station = str(rng.choice(["M01", "M02", "M05"]))
                made = network.decide(station, "in", network.code(account, entered), entered)
                assert made.opened, made
            code = network.code(account, at)
            if kind == "replay":  # the same code opened the entry gate half a minute ago (a shared screenshot)
                first = at - timedelta(seconds=30)
                code = network.code(account, first)
                made = network.decide("M01", "in", code, first)
                assert made.opened, made
            image = phone_qr(code)
        else:
            image = np.full((330, 330), 255, np.uint8)  # a phone's blank screen: no code
        look = str(rng.choice(["clean", "clean", "screen-photo", "glare"]))
        if look != "clean":
            image = damage(image, look, float(rng.uniform(0.2, 0.5)), int(rng.integers(2**31)))
        fill = float(rng.uniform(0.25, 0.65))
        frame, _corners = place_in_frame(image, SIZE, rng, fill=fill)
        frames.append(Frame(str(kind), at, code, frame, fill, look))
    network.clock.now = START
    return frames


def frame_to_decision(frames: list[Frame], network: Network, decoder_name: str) -> None:
    decoder = decoder_named(decoder_name)
    decoder.decode(frames[0].image)  # the decoder's first call sets up its readers: not timed
    copy_ms, alone_ms = [], []
    for frame in frames:  # baselines, a pass each over the same frames
        started = time.perf_counter()
        frame.image.copy()
        copy_ms.append((time.perf_counter() - started) * 1000)
    alone_by_kind: dict[str, list[float]] = {}
    for frame in frames:
        started = time.perf_counter()
        decoder.decode(frame.image)
        alone_by_kind.setdefault(frame.kind if frame.kind == "none" else "code", []).append((time.perf_counter() - started) * 1000)
    alone_ms = alone_by_kind.get("code", [])

    decode_ms, decide_ms, total_ms, nothing_ms = [], [], [], []
    by_kind: dict[str, list[float]] = {}
    unread, wrong, false_reads = 0, [], 0
    gates = {"entry": ("M01", "in"), "replay": ("M01", "in"), "exit": ("M12", "out")}
    for kind, (station, direction) in gates.items():
        network.gate(station, direction)  # open before timing
    for frame in frames:
        network.clock.now = frame.at
        started = time.perf_counter()
        reads = decoder.decode(frame.image)
        decoded = time.perf_counter()
        if not reads:
            if frame.kind == "none":
                nothing_ms.append((decoded - started) * 1000)
            else:
                unread += 1
            continue
        if frame.kind == "none":
            false_reads += 1
            continue
        decision = network.gates[gates[frame.kind][0]].decide(reads[0].text)
        done = time.perf_counter()
        decode_ms.append((decoded - started) * 1000)
        decide_ms.append((done - decoded) * 1000)
        total_ms.append((done - started) * 1000)
        by_kind.setdefault(frame.kind, []).append((done - started) * 1000)
        if (decision.decision, decision.reason) != EXPECTED[frame.kind] or reads[0].text != frame.code \
                or (frame.kind == "exit" and decision.fare is None):
            wrong.append(f"{frame.kind} at {frame.at:%H:%M:%S}: {decision.decision} {decision.reason} {decision.detail}")

    coded = sum(frame.kind != "none" for frame in frames)
    print(header(f"Frame -> decision, {SIZE[0]}x{SIZE[1]}, decoder {decoder_name}"))
    print(row("baseline: bare frame copy", copy_ms))
    print(row("baseline: decode alone (frames with a code)", alone_ms))
    print(row("decode (in the pipeline)", decode_ms))
    print(row("decide (Gate.decide)", decide_ms))
    median_alone = statistics.median(alone_ms) if alone_ms else float("nan")
    median_total = statistics.median(total_ms) if total_ms else float("nan")
    print(row("frame -> decision: decode + decide", total_ms,
              f"{median_total / median_alone:.2f}x the decode alone (median)" if alone_ms and total_ms else ""))
    for kind, label in (("entry", "entry at M01 (open)"), ("exit", "exit at M12 (open, fare from a peer's entry)"),
                        ("replay", "replayed code (deny)")):
        print(row(f"  {label}", by_kind.get(kind, [])))
    print(row("frames without a code: decode, nothing to decide", nothing_ms))
    print(f"  read {coded - unread}/{coded} frames with a code ({(coded - unread) / max(coded, 1):.1%}); "
          f"{false_reads} reads in frames without one; {len(wrong)} unexpected decisions")
    for line in wrong[:5]:
        print(f"    unexpected: {line}")
    looks: dict[str, list[float]] = {}
    for frame in frames:
        if frame.kind != "none":
            looks.setdefault(frame.look, []).append(frame.fill)
    print("  phone screens: " + ", ".join(f"{look} {len(fills)}" for look, fills in sorted(looks.items()))
          + f"; the code takes {min(f.fill for f in frames):.0%}-{max(f.fill for f in frames):.0%} of the frame height")

    summary["p95_total"] = ms_stats(total_ms)[1] if total_ms else float("nan")
    summary["mean_total"] = statistics.fmean(total_ms) if total_ms else float("nan")
    summary["p95_alone"] = ms_stats(alone_ms)[1] if alone_ms else float("nan")
    summary["p95_nothing"] = ms_stats(nothing_ms)[1] if nothing_ms else float("nan")


def commit_baseline(folder: Path, count: int) -> list[float]:
    """One INSERT and COMMIT a time in a WAL database with synchronous=FULL: the floor of a durable decision."""
    db = sqlite3.connect(folder / "commit-baseline.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for n in range(count):
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", (f"tap {n}",))
        db.execute("COMMIT")
        times.append((time.perf_counter() - started) * 1000)
    db.close()
    return times


def decide_alone(folder: Path, riders: int) -> None:
    """``Gate.decide`` on pre-decoded codes: ``riders`` entries at M01, then their exits at M12 20 minutes later."""
    network = Network(folder, Clock(START))
    entry, exit_ = network.gate("M01", "in"), network.gate("M12", "out")
    accounts = [secrets.token_bytes(16) for _ in range(riders)]
    taps_in = [(START + n * timedelta(milliseconds=500), account) for n, account in enumerate(accounts)]
    taps_out = [(at + timedelta(minutes=20), account) for at, account in taps_in]
    codes_in = [(at, network.code(account, at)) for at, account in taps_in]  # the wallets' work: not timed
    codes_out = [(at, network.code(account, at)) for at, account in taps_out]

    verify_ms = []
    for at, text in codes_in:
        started = time.perf_counter()
        verdict = ride.verify(ride.read(text), network.ring.keys, at)
        verify_ms.append((time.perf_counter() - started) * 1000)
        assert verdict.ok, verdict
    commit_ms = commit_baseline(folder, riders)

    results: dict[str, tuple[list[float], float]] = {}
    for name, gate, codes in (("entry", entry, codes_in), ("exit", exit_, codes_out)):
        times = []
        started_all = time.perf_counter()
        for at, text in codes:
            network.clock.now = at
            started = time.perf_counter()
            decision = gate.decide(text)
            times.append((time.perf_counter() - started) * 1000)
            assert decision.opened and decision.reason is GateReason.OK, decision
            assert name == "entry" or decision.fare is not None, decision
        results[name] = (times, time.perf_counter() - started_all)
    network.close()

    print(header("Gate.decide alone, codes pre-decoded", " taps/s"))
    print(row("baseline: ride.read + ride.verify (no disk)", verify_ms, f"{len(verify_ms) / (sum(verify_ms) / 1000):>7,.0f}"))
    print(row("baseline: one SQLite commit (WAL, FULL sync)", commit_ms, f"{len(commit_ms) / (sum(commit_ms) / 1000):>7,.0f}"))
    every = []
    for name, label in (("entry", "entries at M01"), ("exit", "exits at M12 (fare from a peer's entry)")):
        times, seconds = results[name]
        every += times
        print(row(label, times, f"{len(times) / seconds:>7,.0f}"))
    seconds = sum(wall for _times, wall in results.values())
    print(row("all", every, f"{len(every) / seconds:>7,.0f}"))
    summary["decide_taps_s"] = len(every) / seconds


def clearing(taps: int, extrapolate: bool) -> None:
    """scripts/bench_transit_clearing.py as it is, SQLite only, in its own process."""
    if not CLEARING_SCRIPT.is_file():
        print(f"\nClearing: {CLEARING_SCRIPT} is not there; skipped")
        return
    print(f"\nClearing: {CLEARING_SCRIPT.relative_to(ROOT)} --taps {taps:,d} (its own process, not pinned)", flush=True)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(CLEARING_SCRIPT), "--taps", str(taps)], capture_output=True, text=True,
                         cwd=ROOT, preexec_fn=lambda: os.sched_setaffinity(0, ALL_CPUS))
    print("  " + (run.stdout.strip() or run.stderr.strip()[-500:]).replace("\n", "\n  "))
    found = re.search(r"clearing\s+([\d,]+) taps/s \(\s*([\d.]+) s", run.stdout)
    if run.returncode != 0 or not found:
        print(f"  clearing bench failed (exit {run.returncode}) after {time.perf_counter() - started:.0f} s")
        return
    rate, seconds = int(found.group(1).replace(",", "")), float(found.group(2))
    million = CLEARING_TAPS / rate if extrapolate else seconds
    how = f"extrapolated from {taps:,d} taps at {rate:,d} taps/s" if extrapolate else f"{rate:,d} taps/s"
    summary["clearing"] = (million, how)


summary: dict = {}
ALL_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400, help="camera frames (default 400; --quick 40)")
    parser.add_argument("--taps", type=int, default=2000, help="riders for Gate.decide alone: each an entry and an exit")
    parser.add_argument("--clearing-taps", type=int, help=f"taps to clear (default {CLEARING_TAPS:,d}; --quick {QUICK_CLEARING_TAPS:,d})")
    parser.add_argument("--no-clearing", action="store_true")
    parser.add_argument("--decoder", default="auto", help="auto (the cascade), zxing, zbar or opencv")
    parser.add_argument("--quick", action="store_true", help="a run of well under a minute")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where the gates' files go (default: a temporary folder)")
    args = parser.parse_args()
    frames_n = QUICK_FRAMES if args.quick and args.frames == 400 else args.frames
    taps_n = QUICK_TAPS if args.quick and args.taps == 2000 else args.taps
    clearing_n = args.clearing_taps or (QUICK_CLEARING_TAPS if args.quick else CLEARING_TAPS)
    if frames_n < 1 or taps_n < 1 or clearing_n < 1:
        parser.error("--frames, --taps and --clearing-taps are at least 1")

    began = time.perf_counter()
    os.sched_setaffinity(0, {min(ALL_CPUS)})
    cv2.setNumThreads(1)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-gate-", dir=args.dir) as folder:
        print(f"bench_gate: pinned to CPU {min(ALL_CPUS)} of {len(ALL_CPUS)}; load average {load[0]:.2f} {load[1]:.2f}"
              f" {load[2]:.2f}; Python {sys.version.split()[0]}; gates' files in {folder}")
        network = Network(Path(folder) / "stations", Clock(START))
        started = time.perf_counter()
        frames = draw_frames(frames_n, network, np.random.default_rng(args.seed))
        counts = {kind: sum(frame.kind == kind for frame in frames) for kind, _ in KINDS}
        print(f"{frames_n} frames (seed {args.seed}): " + ", ".join(f"{n} {kind}" for kind, n in counts.items())
              + f"; drawn in {time.perf_counter() - started:.1f} s before timing; QR version "
              f"{segno.make(network.code(b'x' * 16, START), error='m', micro=False).version}")
        frame_to_decision(frames, network, args.decoder)
        network.close()
        del frames
        decide_alone(Path(folder) / "alone", taps_n)
    os.sched_setaffinity(0, ALL_CPUS)
    if not args.no_clearing:
        clearing(clearing_n, extrapolate=clearing_n != CLEARING_TAPS)

    print("\nTargets and anchors")
    p95 = summary.get("p95_total", float("nan"))
    print(f"  p95 frame -> decision {p95:.1f} ms <= {TARGET_P95_MS:.0f} ms: {'met' if p95 <= TARGET_P95_MS else 'NOT met'}"
          f" (decode alone p95 {summary.get('p95_alone', float('nan')):.1f} ms)")
    waited = summary.get("p95_nothing", float("nan")) + p95
    print(f"  a code shown while the decoder is busy with a frame without one waits for it: p95 (no code) + p95 (frame ->"
          f" decision) = {waited:.1f} ms: {'within' if waited <= TARGET_P95_MS else 'beyond'} the target")
    print("  anchors: " + "; ".join(f"{name} ~{ms} ms ({ms / p95:.0f}x this p95)" for name, ms in ANCHORS_MS))
    mean = summary.get("mean_total", float("nan"))
    print(f"  taps a gate sustains: {summary.get('decide_taps_s', float('nan')):,.0f}/s deciding pre-decoded codes;"
          f" {1000 / mean:,.0f}/s from camera frames (1000 / mean {mean:.1f} ms), one core")
    if "clearing" in summary:
        million, how = summary["clearing"]
        print(f"  clearing 1,000,000 taps: {million:.1f} s ({how}) <= {CLEARING_TARGET_S:.0f} s:"
              f" {'met' if million <= CLEARING_TARGET_S else 'NOT met'}")
    end = os.getloadavg()
    print(f"whole run {time.perf_counter() - began:.0f} s; load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")


if __name__ == "__main__":
    main()
