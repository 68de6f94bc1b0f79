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
    done = subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_backend_says_each_run_in_its_line_every_pay_answered():
    out = run("bench_backend.py", "--pg", "", "--clients", "1,8", "--pays", "40")
    lines = re.findall(r"^sqlite +(\d+) clients: +\d+ pays/s p50 +[\d.]+ ms p99 +[\d.]+ ms cpu ([\d.]+) \+ ([\d.]+) ms"
                       r" \| bare +\d+/s p50 +[\d.]+ p99 +[\d.]+ cpu [\d.]+ \+ [\d.]+ ms \| +\d+% of the ceiling; failed (\d+)$",
                       out, re.M)
    assert [(clients, failed) for clients, _server, _client, failed in lines] == [("1", "0"), ("8", "0")], out
    assert all(float(server) > 0 for _clients, server, _client, _failed in lines)  # the server's CPU was read


def test_count_pay_work_counts_the_pays_and_rsa_apart():
    out = run("count_pay_work.py", "--pays", "8", "--clients", "8", timeout=600)
    counted = re.search(r"instructions a pay \(callgrind, 8 pays\): ([\d.]+) M in all, RSA's bignum code ([\d.]+) M,"
                        r" the rest ([\d.]+) M", out)
    assert counted, out
    total, rsa, rest = map(float, counted.groups())
    # a signature's bignum work is millions of instructions: counted, it shows the collection was on for the pays
    assert rsa > 1 and rest > 0.1 and abs(total - rsa - rest) < 0.01, out
    assert re.search(r"^bare endpoint, the same requests \(callgrind, 8 requests\): [\d.]+ M instructions a request$", out, re.M)
    assert re.search(r"^system calls a pay \(strace -c -f, 8 pays\): pwrite64 [\d.]+,", out, re.M), out


def test_count_pay_work_ends_when_callgrinds_switch_is_not_made():
    # callgrind_control exits 0 having switched nothing when vgdb does not reach the process, and the run counted
    # nothing; the script asks vgdb itself and reads the state back: here a process not under valgrind at all
    bystander = subprocess.Popen(["sleep", "120"])
    try:
        done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import count_pay_work;"
                               " count_pay_work.instrument(int(sys.argv[2]), True)", str(SCRIPTS), str(bystander.pid)],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        bystander.kill()
        bystander.wait()
    assert done.returncode == 1, done
    assert done.stderr.startswith(f"count_pay_work: callgrind's instrumentation of process {bystander.pid} not switched on:"
                                  " vgdb instrumentation on: exit 1,"), done.stderr


def test_bench_transit_clearing_clears_a_week_and_night_after_night():
    week = run("bench_transit_clearing.py", "--taps", "2000", "--seed", "5")
    assert re.search(r"^sqlite +2,000 taps +100 riders \| upload .* clearing .*: [\d,]+ journeys, [\d,.]+ SGD charged,"
                     r" \d+ in debt \| again", week, re.M), week
    nights = run("bench_transit_clearing.py", "--days", "2", "--taps-per-day", "300", "--seed", "5")
    assert re.search(r"^sqlite CPU here: day 2 against day 1 [\d.]+x", nights, re.M), nights
