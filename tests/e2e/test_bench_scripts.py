"""The benchmark scripts of the backend and of transit clearing, run as a user runs them, tiny: each starts what it
measures from nothing, finishes, and says its figures in the lines docs/benchmarks.md quotes (bench_backend.py's
are read by a check). No timing is asserted: what a figure is, not how fast."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

pytestmark = pytest.mark.xdist_group("bench-scripts")  # one at a time: each runs a backend and its clients


def run(script: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_backend_says_each_run_in_its_line_every_pay_answered():
    out = run("bench_backend.py", "--pg", "", "--clients", "1,8", "--pays", "40")
    lines = re.findall(r"^sqlite +(\d+) clients: +\d+ pays/s p50 +[\d.]+ ms p99 +[\d.]+ ms cpu ([\d.]+) \+ ([\d.]+) ms"
                       r" \| bare +\d+/s p50 +[\d.]+ p99 +[\d.]+ cpu [\d.]+ \+ [\d.]+ ms \| +\d+% of the ceiling; failed (\d+)$",
                       out, re.M)
    assert [(clients, failed) for clients, _server, _client, failed in lines] == [("1", "0"), ("8", "0")], out
    assert all(float(server) > 0 for _clients, server, _client, _failed in lines)  # the server's CPU was read


def test_bench_transit_clearing_clears_a_week_and_night_after_night():
    week = run("bench_transit_clearing.py", "--taps", "2000", "--seed", "5")
    assert re.search(r"^sqlite +2,000 taps +100 riders \| upload .* clearing .*: [\d,]+ journeys, [\d,.]+ SGD charged,"
                     r" \d+ in debt \| again", week, re.M), week
    nights = run("bench_transit_clearing.py", "--days", "2", "--taps-per-day", "300", "--seed", "5")
    assert re.search(r"^sqlite CPU here: day 2 against day 1 [\d.]+x", nights, re.M), nights
