"""`pos-sim scenario run` as a user runs it: real processes, an embedded simulator by default or a running
one with --backend; exit 0 all passed, 1 any failed, 2 a malformed file or bad input (nothing run);
--junit writes valid JUnit XML with the right counts, --json one JSON document."""

import json
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pos_sim.backend import server

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
scenarios:
  - name: Kopi by customer code
    wallets:
      alice: {currency: SGD, balance: "10.00"}
    steps:
      - scan_item: "21000010"
      - pay: {tender: customer-code, wallet: alice}
        expect: {state: APPROVED, balance: {alice: "8.70"}}
  - name: A training refund
    training: true
    wallets:
      bob: {currency: SGD, balance: "10.00"}
    steps:
      - key_amount: "4.00"
      - pay: {tender: phone-tap, wallet: bob}
        score: 2
      - refund: {amount: "1.00"}
        score: 3
        expect: {state: DONE, balance: {bob: "7.00"}, receipt_contains: ["TRAINING - NOT A PAYMENT"]}
"""

WRONG = """\
scenarios:
  - name: Right
    steps:
      - key_amount: "1.00"
  - name: Wrong
    wallets:
      alice: {currency: SGD, balance: "100.00"}
    steps:
      - key_amount: "12.52"
      - pay: {tender: customer-code, wallet: alice}
        expect: {state: APPROVED}
      - report: x
"""


def pos_sim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_all_passed_exits_0_with_junit_xml_and_json(tmp_path):
    good = write(tmp_path, "good.yaml", GOOD)
    junit = tmp_path / "results.xml"
    run = pos_sim("scenario", "run", str(good), "--junit", str(junit))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == str(good)
    assert "pass  Kopi by customer code" in run.stdout and "pass  A training refund" in run.stdout
    assert "score 5/5" in run.stdout and "2 scenarios in 1 files: 2 passed, 0 not" in run.stdout
    root = ET.fromstring(junit.read_bytes())
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "2", "0", "0")
    suite = root.find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (str(good), "2", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["Kopi by customer code", "A training refund"]
    assert all(c.find("failure") is None and c.find("error") is None for c in cases)
    assert {p.get("name"): p.get("value") for p in cases[1].iter("property")} == {"score": "5", "max_score": "5"}
    assert "ok   step 3 refund (line 17)" in cases[1].find("system-out").text

    run = pos_sim("scenario", "run", str(good), "--json")
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert (said["passed"], said["scenarios"], said["failed"], said["errors"]) == (True, 2, 0, 0)
    scenarios = said["files"][0]["scenarios"]
    assert [(s["name"], s["status"], s["score"], s["maxScore"]) for s in scenarios] == [
        ("Kopi by customer code", "passed", None, None), ("A training refund", "passed", 5, 5)]
    refund = scenarios[1]["steps"][2]
    assert (refund["action"], refund["status"], refund["points"]) == ("refund", "passed", 3)
    assert "TRN-T01-000002" in refund["printed"] and refund["checks"][0]["expected"] == "DONE"


def test_a_failed_scenario_exits_1_saying_what_was_expected_and_found(tmp_path):
    wrong = write(tmp_path, "wrong.yaml", WRONG)
    junit = tmp_path / "results.xml"
    run = pos_sim("scenario", "run", str(wrong), "--junit", str(junit))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "pass  Right" in run.stdout and "FAIL  Wrong" in run.stdout
    assert "step 2 pay (line 10):" in run.stdout
    assert ("state (line 11): expected APPROVED, got DECLINED (RISK_REJECT: The request is rejected because of the "
            "risk control.)") in run.stdout
    assert "2 scenarios in 1 files: 1 passed, 1 not" in run.stdout and "Traceback" not in run.stdout + run.stderr
    root = ET.fromstring(junit.read_bytes())
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "0")
    right, failed = root.find("testsuite").findall("testcase")
    assert right.find("failure") is None
    failure = failed.find("failure")
    assert failure.get("message").startswith("step 2 pay (line 10): state (line 11): expected APPROVED, got DECLINED")
    assert "skip step 3 report (line 12)" in failure.text

    run = pos_sim("scenario", "run", str(wrong), "--json")
    assert run.returncode == 1
    said = json.loads(run.stdout)
    assert (said["passed"], said["failed"]) == (False, 1)
    steps = said["files"][0]["scenarios"][1]["steps"]
    assert [s["status"] for s in steps] == ["passed", "failed", "skipped"]
    assert steps[1]["checks"] == [{"name": "state", "expected": "APPROVED", "passed": False, "line": 11,
                                   "actual": "DECLINED (RISK_REJECT: The request is rejected because of the risk control.)"}]


def test_a_malformed_file_or_bad_input_exits_2_and_runs_nothing(tmp_path):
    good = write(tmp_path, "good.yaml", GOOD)
    bad = write(tmp_path, "bad.yaml", "name: typo\nsteps:\n  - pya: {tender: customer-code}\n")
    run = pos_sim("scenario", "run", str(good), str(bad), "--junit", str(tmp_path / "never.xml"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr == f"error: {bad}:3:5: step 1: unknown field 'pya'; did you mean 'pay'? (known: scan_item, " \
                         "key_amount, pay, scan, fault, void, refund, reprint, report, wait, advance_clock, restart_terminal, " \
                         "kill_terminal, expect, score, note)\n"
    assert run.stdout == "" and not (tmp_path / "never.xml").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, said in [((str(tmp_path / "none.yaml"),), "none.yaml: no such scenario file"),
                       ((str(empty),), "no scenario files (*.yaml) in this folder"),
                       ((str(good), "--junit", str(tmp_path / "no" / "r.xml")), "no folder"),
                       ((str(good), "--backend", "http://127.0.0.1:9", "--backend-data-dir", str(tmp_path / "nodata")),
                        "no simulator data dir there")]:
        run = pos_sim("scenario", "run", *args)
        assert run.returncode == 2 and said in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)


def test_a_folder_runs_against_a_running_backend(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    write(suite, "good.yaml", GOOD)
    data_dir = tmp_path / "data"
    running = server.start(server.open_gateway(data_dir))
    try:
        run = pos_sim("scenario", "run", str(suite), "--backend", running.url, "--backend-data-dir", str(data_dir), "--json")
        assert run.returncode == 0, run.stdout + run.stderr
        said = json.loads(run.stdout)
        assert said["files"][0]["path"] == str(suite / "good.yaml")
        printed = said["files"][0]["scenarios"][0]["steps"][1]["printed"]
        payment_id = next(line.split()[-1] for line in printed.splitlines() if line.startswith("Payment ID"))
        with running.gateway.store.begin() as tx:  # the sale was paid at this backend
            assert tx.payment("SIM_DEMO", payment_id=payment_id).status == "SUCCESS"
    finally:
        running.stop()


class _Clock(BaseHTTPRequestHandler):
    """A stand-in simulator that knows only POST /sim/clock: 404 until it is given one."""

    has_clock = False
    asked: list = []

    def do_POST(self):  # noqa: N802 - the http.server name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).asked.append((self.path, body))
        found = self.path == "/sim/clock" and self.has_clock
        data = json.dumps({"now": "2026-11-21T10:01:30+00:00"} if found else {"detail": "Not Found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args):
        pass


@pytest.mark.parametrize("has_clock", [False, True])
def test_advance_clock_asks_the_simulator_and_fails_clearly_when_it_has_no_clock(tmp_path, has_clock):
    data_dir = tmp_path / "data"
    server.open_gateway(data_dir).store.close()  # a data dir with the demo merchant's keys
    handler = type("Clock", (_Clock,), {"has_clock": has_clock, "asked": []})
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    try:
        clock = write(tmp_path, "clock.yaml", "name: Ninety seconds later\nsteps:\n  - advance_clock: {seconds: 90}\n")
        run = pos_sim("scenario", "run", str(clock), "--backend", f"http://127.0.0.1:{stand_in.server_port}",
                      "--backend-data-dir", str(data_dir))
    finally:
        stand_in.shutdown()
    assert handler.asked == [("/sim/clock", {"advanceSeconds": 90})]
    if has_clock:
        assert run.returncode == 0, run.stdout + run.stderr
    else:
        assert run.returncode == 1, run.stdout + run.stderr
        assert "step 1 advance_clock (line 3):" in run.stdout
        assert "this backend cannot advance its clock (POST /sim/clock answered HTTP 404" in run.stdout


def test_the_bundled_library_is_listed_and_run_by_name_from_anywhere(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "pos_sim", "scenario", "list", "--json"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)  # away from the checkout: the library ships in the package
    assert listed.returncode == 0, listed.stderr
    names = {entry["name"]: entry["scenarios"] for entry in json.loads(listed.stdout)["scenarios"]}
    assert {"demo/order-code", "qa/result-codes", "training/partial-refund"} <= set(names)
    assert not any(name.startswith("images") for name in names)
    run = subprocess.run([sys.executable, "-m", "pos_sim", "scenario", "run", "demo/order-code", "demo/phone-tap"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    count = len(names["demo/order-code"]) + len(names["demo/phone-tap"])
    assert f"{count} scenarios in 2 files: {count} passed, 0 not" in run.stdout


def test_a_name_that_is_neither_a_file_nor_bundled_exits_2_saying_where_to_look(tmp_path):
    for name in ("demo/no-such-scenario", "../no/such/scenarios", "/no/such/file.yaml"):
        run = pos_sim("scenario", "run", name)
        assert run.returncode == 2
        assert run.stderr.strip() == f"error: {name}: no such scenario file or folder, nor a bundled scenario " \
                                     "(pos-sim scenario list names them)"


def test_the_printed_report_is_in_the_merchants_language_and_the_junit_and_json_stay_english(tmp_path, monkeypatch):
    wrong = write(tmp_path, "wrong.yaml", WRONG)
    junit = tmp_path / "results.xml"
    run = pos_sim("scenario", "run", str(wrong), "--junit", str(junit), "--language", "th")
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"ผ่าน +Right", run.stdout) and re.search(r"ไม่ผ่าน +Wrong", run.stdout), run.stdout
    assert "ขั้นตอน 2 pay (บรรทัด 10):" in run.stdout
    assert "state (บรรทัด 11): ควรเป็น APPROVED ได้ DECLINED" in run.stdout and "expected" not in run.stdout, run.stdout
    assert "2 สถานการณ์ใน 1 ไฟล์: ผ่าน 1 ไม่ผ่าน 1" in run.stdout and "scenarios in" not in run.stdout
    failed = ET.fromstring(junit.read_bytes()).find("testsuite").findall("testcase")[1].find("failure")
    assert failed.get("message").startswith("step 2 pay (line 10): state (line 11): expected APPROVED, got DECLINED")

    monkeypatch.setenv("POS_SIM_LANGUAGE", "ja")
    run = pos_sim("scenario", "run", str(wrong), "--json")
    assert run.returncode == 1 and json.loads(run.stdout)["files"][0]["scenarios"][1]["status"] == "failed"
    run = pos_sim("scenario", "run", str(wrong))
    assert re.search(r"合格 +Right", run.stdout) and re.search(r"不合格 +Wrong", run.stdout), run.stdout

    run = pos_sim("scenario", "run", str(wrong), "--language", "fr")
    assert run.returncode == 2 and "not a language pos-sim speaks (en, th, ja, zh_Hans, zh_Hant, ms)" in run.stderr
