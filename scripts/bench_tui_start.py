#!/usr/bin/env python3
"""How soon the terminal UI is interactive: `pos-sim tui` started in a tmux window, timed until its
sign-in screen is on the screen (the operator field shows: the cashier can type), until the embedded
simulator is up and the gateway shown, and until the sale screen is up after Enter; next to a bare
Textual app started the same way in the same run (the baseline).

Each run uses a fresh data dir, so the embedded simulator makes its keys and ledger from nothing,
as on a first start. The target (issue 6): interactive within 1.5 s of launch.

    .venv/bin/python scripts/bench_tui_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
BARE = "from textual.app import App\nfrom textual.widgets import Label\nclass A(App):\n" \
       "    def compose(self):\n        yield Label('Operator')\nA().run()\n"
TARGET_S = 1.5


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tmux {' '.join(args[:3])}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def until_shown(session: str, text: str, started: float, timeout_s: float = 30.0) -> float:
    """Seconds from ``started`` until ``text`` is in the tmux window."""
    while time.perf_counter() - started < timeout_s:
        if text in tmux("capture-pane", "-p", "-t", session):
            return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit(f"{text!r} did not show within {timeout_s} s: {tmux('capture-pane', '-p', '-t', session)}")


def run_once(command: str, session: str, full: bool) -> tuple[float, float | None, float | None]:
    """Seconds to the sign-in screen, and (``full``) to the gateway reached and to the sale screen after Enter."""
    started = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    try:
        shown = until_shown(session, "Operator", started)
        if not full:
            return shown, None, None
        connected = until_shown(session, "Gateway http", started)
        tmux("send-keys", "-t", session, "Enter")
        return shown, connected, until_shown(session, "F5 to pay", started)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def figures(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(times):.2f} s, p95 {p95:.2f} s, best {ordered[0]:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed: apt-get install tmux", file=sys.stderr)
        return 2
    bare_file = Path(tempfile.mkdtemp()) / "bare.py"
    bare_file.write_text(BARE)
    bare, shown, connected, ready = [], [], [], []
    for run in range(args.runs):
        bare.append(run_once(f"{PYTHON} {bare_file}", f"bench-bare-{os.getpid()}", False)[0])
        with tempfile.TemporaryDirectory() as data:
            command = (f"{ROOT / '.venv' / 'bin' / 'pos-sim'} tui --backend-data-dir {shlex.quote(data)}/backend "
                       f"--journal-dir {shlex.quote(data)}/terminal")
            first, reached, sale = run_once(command, f"bench-tui-{os.getpid()}", True)
            shown.append(first)
            connected.append(reached)
            ready.append(sale)
        print(f"run {run + 1}: bare Textual app {bare[-1]:.2f} s; pos-sim tui: sign-in {shown[-1]:.2f} s, "
              f"gateway reached {connected[-1]:.2f} s, sale screen after Enter {ready[-1]:.2f} s", flush=True)
    load = os.getloadavg()
    print(f"\nbare Textual app on screen:           {figures(bare)}")
    print(f"pos-sim tui sign-in on screen:        {figures(shown)}  ({statistics.median(shown) / statistics.median(bare):.1f}x the bare app)")
    print(f"embedded simulator up, gateway shown: {figures(connected)}")
    print(f"sale screen up (then Enter):          {figures(ready)}")
    print(f"target: interactive within {TARGET_S} s: {'met' if statistics.median(shown) <= TARGET_S else 'NOT met'} "
          f"(median), {'met' if max(shown) <= TARGET_S else 'not met'} (every run); load average {load[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
