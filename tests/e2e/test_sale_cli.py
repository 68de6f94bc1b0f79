"""`pos-sim sale`, `refund`, `void`, `reprint` and `report` as a user runs them: real processes against a
real simulated backend on a loopback port (or an embedded one), exit codes 0/1/2/3, --json, receipt files."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image

from pos_sim.backend import server
from pos_sim.render import qr

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(tmp_path):
    running = server.start(server.open_gateway(tmp_path / "data"))
    yield running
    running.stop()


def open_wallet(url: str, balance: int = 10_000, currency: str = "SGD") -> str:
    return requests.post(f"{url}/sim/wallets", json={"currency": currency, "balance": balance}, timeout=10).json()["walletId"]


def code_of(url: str, wallet_id: str) -> str:
    return requests.post(f"{url}/sim/wallets/{wallet_id}/payment-code", timeout=10).json()["code"]


def balance(url: str, wallet_id: str) -> int:
    return requests.get(f"{url}/sim/wallets/{wallet_id}", timeout=10).json()["balance"]


def pos_sim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def terminal(backend, tmp_path, *extra: str) -> list[str]:
    """The shared flags: the test's backend, its demo merchant's keys, a fresh journal folder."""
    return ["--backend", backend.url, "--backend-data-dir", str(tmp_path / "data"), "--journal-dir", str(tmp_path / "terminal"),
            "--time-zone", "Asia/Singapore", "--poll-interval", "0.1", "--deadline", "2", *extra]


def test_an_approved_sale_exits_0_with_its_json_and_a_receipt_png_whose_qr_is_the_receipt_number(backend, tmp_path):
    customer = open_wallet(backend.url)
    png = tmp_path / "receipt.png"
    run = pos_sim("sale", *terminal(backend, tmp_path), "--item", "21000010", "--item", "2210002012347", "--amount", "1.00",
                  "--code", code_of(backend.url, customer), "--json", "--receipt-png", str(png), "--receipt-width", "32")
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert (said["status"], said["resultCode"], said["receiptNumber"]) == ("APPROVED", "SUCCESS", "T01-000001")
    assert said["paymentId"] and said["amount"] == {"currency": "SGD", "value": "722"}  # 1.30 + 4.92 + 1.00
    receipt = said["receipt"].splitlines()
    assert all(len(line) <= 32 for line in receipt) and any("Pisang Bananas" in line for line in receipt)
    assert any(line.startswith("TOTAL") and line.endswith("$7.22") for line in receipt)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(png))] == ["T01-000001"]
    assert balance(backend.url, customer) == 10_000 - 722


def test_a_declined_sale_exits_1_and_says_why(backend, tmp_path):
    customer = open_wallet(backend.url, balance=100)
    run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "12.50", "--currency", "SGD", "--code", code_of(backend.url, customer))
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("DECLINED  USER_BALANCE_NOT_ENOUGH  12.50 SGD  receipt T01-000001")
    assert "Open item" in run.stdout and balance(backend.url, customer) == 100


def test_an_outcome_that_cannot_be_made_known_exits_3_and_is_resolved_at_the_next_start(backend, tmp_path):
    customer = open_wallet(backend.url)
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    flags = terminal(backend, tmp_path, "--deadline", "0.3")
    flags[1] = dead
    run = pos_sim("sale", *flags, "--amount", "12.50", "--code", code_of(backend.url, customer), "--json")
    assert run.returncode == 3, run.stderr
    said = json.loads(run.stdout)
    assert (said["status"], said["resolved"], said["receipt"]) == ("CANCELLING", False, None)
    again = pos_sim("report", "x", *terminal(backend, tmp_path), "--json")  # the gateway answers again: resolved
    assert again.returncode == 0, again.stderr
    assert "recovered: sale T01-000001 NOT_PROCESSED" in again.stderr
    assert json.loads(again.stdout)["declinedCount"] == 1 and balance(backend.url, customer) == 10_000


def test_bad_input_exits_2_with_one_clear_line_never_a_traceback(backend, tmp_path):
    code = code_of(backend.url, open_wallet(backend.url))
    cases = [
        ((*terminal(backend, tmp_path), "--amount", "12.50"), "one of the arguments --code --order-code --entry-code --scan"),
        ((*terminal(backend, tmp_path), "--code", code), "give --amount AMOUNT or --item BARCODE"),
        ((*terminal(backend, tmp_path), "--amount", "12.505", "--code", code), "--amount '12.505'"),
        ((*terminal(backend, tmp_path), "--item", "4006381333932", "--code", code), "--item 4006381333932"),
        ((*terminal(backend, tmp_path), "--item", "4006381333931", "--code", code), "is not in the catalogue"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--currency", "THB", "--code", code), "prices in SGD"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--terminal-id", "T 1", "--code", code), "terminal_id (--terminal-id)"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--receipt-width", "40", "--code", code), "invalid choice: 40"),
        (("--client-id", "SHOP", "--journal-dir", str(tmp_path), "--amount", "5", "--code", code), "--client-id: the merchant's keys"),
        ((*terminal(backend, tmp_path), "--client-id", "SHOP", "--amount", "5", "--code", code), "not both"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--scan", str(tmp_path / "nope.png")), "no such image file"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--code", "https://pay.example.com/o/1"), "is a link, not a customer's"),
        ((*terminal(backend, tmp_path), "--amount", "5", "--code", code, "--config", str(tmp_path / "none.toml")), "no settings file"),
    ]
    for args, said in cases:
        run = pos_sim("sale", *args)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert said in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)
        assert run.stdout == ""
    assert balance(backend.url, open_wallet(backend.url)) == 10_000
    for args, said in [(("refund", "T01-000009"), "no such sale"), (("void", "T01-000001"), "no such sale")]:
        run = pos_sim(*args, *terminal(backend, tmp_path))
        assert run.returncode == 2 and said in run.stderr and "Traceback" not in run.stderr


def test_an_amount_not_above_0_and_a_receipt_file_in_no_folder_are_refused_before_any_money_moves(backend, tmp_path):
    customer = open_wallet(backend.url)
    code = code_of(backend.url, customer)
    for amount in ("-5", "0", "0.00"):
        run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", amount, "--code", code)
        assert (run.returncode, run.stdout, run.stderr) == (2, "", f"error: --amount '{amount}': give an amount above 0\n")
    run = pos_sim("refund", "T01-000001", *terminal(backend, tmp_path), "--amount", "-1")
    assert (run.returncode, run.stderr) == (2, "error: --amount '-1': give an amount above 0\n")
    missing = tmp_path / "no-such-folder" / "receipt.png"
    run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "5", "--code", code, "--receipt-png", str(missing))
    assert (run.returncode, run.stdout) == (2, ""), run.stdout
    assert run.stderr == f"error: --receipt-png {missing}: no folder {missing.parent} to write the receipt in\n"
    assert balance(backend.url, customer) == 10_000  # the sale was not taken: no "error" for money that moved
    run = pos_sim("sale", *terminal(backend, tmp_path, "--language", "th"), "--amount", "-5", "--code", code)
    assert run.stderr == "ข้อผิดพลาด: --amount '-5': ต้องเป็นจำนวนเงินมากกว่า 0\n"


def test_an_amount_beyond_what_the_ledger_holds_is_refused_before_any_money_moves(backend, tmp_path):
    customer = open_wallet(backend.url)
    amount = "99999999999999999999"
    for tender in (("--code", code_of(backend.url, customer)), ("--customer",)):
        run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", amount, *tender)
        assert (run.returncode, run.stdout, run.stderr) == (
            2, "", f"error: --amount '{amount}': '{amount}': more than the ledger holds (92233720368547758.07 SGD at most)\n")
    assert balance(backend.url, customer) == 10_000


@pytest.mark.parametrize("flag", ["--receipt-png", "--receipt-escpos"])
def test_a_receipt_file_that_is_a_folder_is_refused_before_any_money_moves(backend, tmp_path, flag):
    customer = open_wallet(backend.url)
    code = code_of(backend.url, customer)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "5", "--code", code, flag, str(folder))
    assert (run.returncode, run.stdout, run.stderr) == (
        2, "", f"error: {flag} {folder}: a folder, not a file to write the receipt in\n"), run.stderr
    run = pos_sim("sale", *terminal(backend, tmp_path, "--language", "ja"), "--amount", "5", "--code", code, flag, str(folder))
    assert (run.returncode, run.stderr) == (2, f"エラー：{flag} {folder}：フォルダです。レシートを書き出すファイルではありません\n")
    assert balance(backend.url, customer) == 10_000  # the sale was not taken: no "error" for money that moved


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: runs where the tests run as another user")
@pytest.mark.parametrize("flag", ["--receipt-png", "--receipt-escpos"])
def test_a_receipt_file_that_may_not_be_written_is_refused_before_any_money_moves(backend, tmp_path, flag):
    customer = open_wallet(backend.url)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "5", "--code", code_of(backend.url, customer), flag,
                      str(folder / "r"))
    finally:
        folder.chmod(0o700)
    assert run.stderr == f"error: {flag} {folder / 'r'}: no permission to write the receipt there\n", run.stderr
    assert balance(backend.url, customer) == 10_000  # the sale was not taken: no "error" for money that moved


def test_a_receipt_file_that_cannot_be_written_is_named_with_the_reason(backend, tmp_path):
    for flag in ("--receipt-png", "--receipt-escpos"):  # a device that takes no byte: known only by writing
        code = code_of(backend.url, open_wallet(backend.url))
        run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "5", "--code", code, flag, "/dev/full")
        assert (run.returncode, run.stderr) == (2, "error: cannot write the receipt /dev/full: No space left on device\n"), \
            run.stderr


def test_errors_are_said_in_the_merchants_language_from_the_flag_the_environment_or_the_settings_file(backend, tmp_path):
    """A trainer's terminal set to Thai (or Japanese) says a command's errors in it; an unknown language is refused
    naming the known ones, by every command (one that reads no settings too)."""
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                              env={**os.environ, **env})

    code = code_of(backend.url, open_wallet(backend.url))
    said = run("sale", *terminal(backend, tmp_path), "--code", code, "--language", "th")
    assert (said.returncode, said.stderr) == (2, "ข้อผิดพลาด: ระบุ --amount จำนวนเงิน หรือ --item บาร์โค้ด (หนึ่งรายการขึ้นไป) "
                                                 "สำหรับรายการขาย\n")
    said = run("sale", *terminal(backend, tmp_path), "--amount", "5", "--scan", str(tmp_path / "nope.png"), POS_SIM_LANGUAGE="th")
    assert (said.returncode, said.stderr) == (2, f"ข้อผิดพลาด: --scan {tmp_path / 'nope.png'}: ไม่มีไฟล์ภาพนี้\n")
    config = tmp_path / "ja.toml"
    config.write_text('language = "ja"\n')
    said = run("sale", *terminal(backend, tmp_path), "--code", code, "--config", str(config))
    assert said.returncode == 2 and said.stderr.startswith("エラー：--amount 金額 または --item バーコード"), said.stderr
    said = run("sale", *terminal(backend, tmp_path), "--code", code, "--amount", "1.234", "--language", "th")
    assert (said.returncode, said.stderr) == (2, "ข้อผิดพลาด: --amount '1.234': '1.234': SGD มีทศนิยม 2 ตำแหน่ง "
                                                 "แต่ใส่มา 3 ตำแหน่ง\n")  # the domain's words about the amount too
    for args, env in [(("sale", *terminal(backend, tmp_path), "--code", code, "--language", "xx"), {}),
                      (("code", "parse", "--", "hello"), {"POS_SIM_LANGUAGE": "klingon"})]:
        said = run(*args, **env)
        assert said.returncode == 2 and "Traceback" not in said.stderr, said.stderr
        assert said.stderr.startswith("error: language (--language) ") and said.stderr.rstrip().endswith(
            "not a language pos-sim speaks (en, th, ja, zh_Hans, zh_Hant, ms)"), said.stderr
    assert balance(backend.url, open_wallet(backend.url)) == 10_000


@pytest.mark.parametrize(("lang", "approved", "declined", "receipt", "payment"),
                         [("ja", "承認", "拒否", "レシート", "決済"), ("th", "อนุมัติ", "ปฏิเสธ", "ใบเสร็จ", "การชำระ")])
def test_the_outcome_line_is_said_in_the_merchants_language(backend, tmp_path, lang, approved, declined, receipt, payment):
    """The status and the words of the outcome line in the merchant's language; the gateway's result code and the
    numbers as they are, and --json in English."""
    flags = terminal(backend, tmp_path, "--language", lang)
    run = pos_sim("sale", *flags, "--amount", "5", "--code", code_of(backend.url, open_wallet(backend.url)))
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(f"{approved}  SUCCESS  5.00 SGD  {receipt} T01-000001  {payment} P\\w+", run.stdout.splitlines()[0])
    run = pos_sim("sale", *flags, "--amount", "5", "--code", code_of(backend.url, open_wallet(backend.url, balance=100)))
    assert run.returncode == 1, run.stderr
    assert re.fullmatch(f"{declined}  USER_BALANCE_NOT_ENOUGH  5.00 SGD  {receipt} T01-000002  {payment} P\\w+",
                        run.stdout.splitlines()[0])
    run = pos_sim("reprint", "T01-000001", *flags, "--json")
    assert json.loads(run.stdout)["status"] == "APPROVED"


def test_a_bad_barcode_and_a_product_barcode_given_as_the_customers_code_are_refused_in_thai(backend, tmp_path):
    """POS_SIM_LANGUAGE=th: --item with a wrong check digit, and --code with a product's barcode, each refused in
    Thai, saying where the fault lies; nothing is charged."""
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pos_sim", "sale", *terminal(backend, tmp_path), *args], capture_output=True,
                              text=True, timeout=60, cwd=ROOT, env={**os.environ, "POS_SIM_LANGUAGE": "th"})

    customer = open_wallet(backend.url)
    said = run("--item", "4006381333932", "--code", code_of(backend.url, customer))
    assert (said.returncode, said.stdout, said.stderr) == (
        2, "", "ข้อผิดพลาด: --item 4006381333932: เลขตรวจสอบผิด: ควรเป็น 1 แต่เป็น 2 (ตำแหน่ง 12)\n")
    said = run("--amount", "5", "--code", "4006381333931")
    assert (said.returncode, said.stdout, said.stderr) == (
        2, "", "ข้อผิดพลาด: รหัส '4006381333931' เป็นบาร์โค้ดสินค้า ไม่ใช่รหัสชำระเงินของลูกค้า\n")
    assert balance(backend.url, customer) == 10_000


def test_argparse_says_its_usage_errors_and_help_in_the_merchants_language(backend, tmp_path):
    """argparse's own words (usage:, its errors, -h's line, the sections) and pos-sim's commands' help, in the
    language of POS_SIM_LANGUAGE, the settings file or --language: none of its English left."""
    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                              env={**os.environ, **env})

    def english(text: str) -> set[str]:
        return set(re.findall(r"(?<![-\w])[a-z]{3,}", text)) & {  # argparse's English, flags (--help) left out
            "usage", "error", "unrecognized", "arguments", "required", "invalid", "choice", "choose", "options",
            "positional", "show", "help", "exit"}

    said = run("sale", *terminal(backend, tmp_path), "--amount", "5", "--code", "x", "--bogus", POS_SIM_LANGUAGE="th")
    assert (said.returncode, said.stderr) == (2, "วิธีใช้: pos-sim [-h] [--version] COMMAND ...\n"
                                                 "pos-sim: ข้อผิดพลาด: ไม่รู้จักอาร์กิวเมนต์: --bogus\n")
    said = run("sale", "--receipt-width", "40", "--language", "zh_Hant")
    assert said.stderr.endswith("pos-sim sale: 錯誤：參數 --receipt-width：無效選項：40（可選 32, 42, 48）\n"), said.stderr
    config = tmp_path / "ms.toml"
    config.write_text('language = "ms"\n')
    said = run("sale", "--config", str(config))
    assert "ralat: salah satu daripada --code --order-code" in said.stderr and not english(said.stderr), said.stderr
    shown = run("--help", POS_SIM_LANGUAGE="ja")
    assert shown.returncode == 0 and shown.stdout.startswith("使い方：pos-sim [-h] [--version] COMMAND ..."), shown.stdout
    assert "売上を登録して決済" in shown.stdout and "このヘルプを表示して終了" in shown.stdout and "オプション" in shown.stdout
    assert not english(shown.stdout), shown.stdout
    assert run("--help").stdout.startswith("usage: pos-sim")  # English unless told otherwise


def test_settings_from_a_toml_file_with_flags_over_them(backend, tmp_path):
    customer = open_wallet(backend.url)
    config = tmp_path / "terminal.toml"
    config.write_text(f'terminal_id = "T09"\nstore_id = "S123"\njournal_dir = "terminal"\nreceipt_width = 48\n'
                      f'[gateway]\nurl = "{backend.url}"\nsimulator_data_dir = "data"\n[polling]\ndeadline_s = 2\n')
    run = pos_sim("sale", "--config", str(config), "--terminal-id", "T10", "--amount", "3.20", "--code", code_of(backend.url, customer))
    assert run.returncode == 0, run.stderr
    assert "receipt T10-000001" in run.stdout and "S123" in run.stdout and (tmp_path / "terminal" / "sales.db").is_file()
    config.write_text('colour = "blue"\n' + config.read_text())
    run = pos_sim("sale", "--config", str(config), "--amount", "3.20", "--code", code_of(backend.url, customer))
    assert run.returncode == 2 and "unknown setting 'colour'" in run.stderr and str(config) in run.stderr


def test_an_order_code_is_shown_on_stderr_and_paid_by_the_customer(backend, tmp_path):
    customer = open_wallet(backend.url)
    child = subprocess.Popen([sys.executable, "-m", "pos_sim", "sale", *terminal(backend, tmp_path), "--amount", "8.80",
                              "--order-code", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = child.stderr.readline()
        match = re.fullmatch(r"Order code: (https://\S+)\n", line)
        assert match, line + (child.stderr.read() if child.poll() is not None else "")
        paid = requests.post(f"{backend.url}/sim/wallets/{customer}/scan", json={"codeValue": match[1]}, timeout=10)
        assert paid.json()["status"] == "SUCCESS"
        out, _err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 0
    said = json.loads(out)
    assert (said["status"], said["tender"]) == ("APPROVED", "Order code") and balance(backend.url, customer) == 10_000 - 880


def test_a_scanned_image_pays_a_customer_code_or_a_phone_token(backend, tmp_path):
    customer = open_wallet(backend.url)
    image = tmp_path / "code.png"
    qr.write_png(code_of(backend.url, customer), image)
    run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "2.00", "--scan", str(image), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["tender"] == "Alipay+ (customer code)"
    token = requests.post(f"{backend.url}/sim/wallets/{customer}/device-token", timeout=10).json()
    qr.write_png(requests.post(f"{backend.url}/sim/device-tokens/{token['tokenId']}/tap", timeout=10).json()["payload"], image)
    run = pos_sim("sale", *terminal(backend, tmp_path), "--amount", "3.00", "--scan", str(image), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["tender"] == "Phone wallet tap" and balance(backend.url, customer) == 10_000 - 500


def test_refund_void_reprint_and_the_end_of_day_reports_as_one_shot_commands(backend, tmp_path):
    customer = open_wallet(backend.url)
    for amount in ("12.50", "4.00"):
        assert pos_sim("sale", *terminal(backend, tmp_path), "--amount", amount, "--code", code_of(backend.url, customer)).returncode == 0
    run = pos_sim("refund", "T01-000001", *terminal(backend, tmp_path), "--amount", "2.50", "--reason", "short one kopi", "--json")
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert (said["status"], said["receiptNumber"], said["originalReceipt"]) == ("DONE", "T01-000003", "T01-000001")
    run = pos_sim("refund", "T01-000001", *terminal(backend, tmp_path), "--amount", "10.01")
    assert run.returncode == 2 and "more than the 10.00 left" in run.stderr
    run = pos_sim("void", "T01-000002", *terminal(backend, tmp_path), "--receipt-escpos", str(tmp_path / "void.bin"))
    assert run.returncode == 0 and run.stdout.startswith("DONE  SUCCESS  4.00 SGD  receipt T01-000004"), run.stderr
    assert (tmp_path / "void.bin").read_bytes().startswith(b"\x1b@") and b"VOID" in (tmp_path / "void.bin").read_bytes()
    first = pos_sim("reprint", "T01-000003", *terminal(backend, tmp_path), "--copy", "merchant")
    assert first.returncode == 0 and "MERCHANT COPY" in first.stdout and "-$2.50" in first.stdout
    assert pos_sim("reprint", "T01-000003", *terminal(backend, tmp_path), "--copy", "merchant").stdout == first.stdout
    x = pos_sim("report", "x", *terminal(backend, tmp_path), "--json")
    assert x.returncode == 0, x.stderr
    totals = json.loads(x.stdout)["totals"]
    assert [(t["sales"], t["voids"], t["refunds"], t["net"]) for t in totals] == [(1650, 400, 250, 1000)]
    z = pos_sim("report", "Z", *terminal(backend, tmp_path))
    assert z.returncode == 0 and "Z REPORT - BATCH CLOSED" in z.stdout and "2 agree" not in z.stdout
    assert "Gateway check" in z.stdout and "3, all agree" in z.stdout
    after = json.loads(pos_sim("report", "x", *terminal(backend, tmp_path), "--json").stdout)
    assert (after["batch"], after["totals"]) == (2, [])
    assert balance(backend.url, customer) == 10_000 - 1000


def test_without_backend_an_embedded_simulator_serves_the_command(tmp_path):
    data = tmp_path / "data"
    running = server.start(server.open_gateway(data))  # a wallet in that data dir's ledger, then the backend stops
    customer = open_wallet(running.url)
    code = code_of(running.url, customer)
    running.stop()
    run = pos_sim("sale", "--backend-data-dir", str(data), "--journal-dir", str(tmp_path / "terminal"), "--amount", "6.50",
                  "--code", code, "--training")
    assert run.returncode == 0, run.stderr
    assert "TRAINING - NOT A PAYMENT" in run.stdout and "receipt TRN-T01-000001" in run.stdout
    running = server.start(server.open_gateway(data))
    try:
        assert balance(running.url, customer) == 10_000 - 650
    finally:
        running.stop()


def test_the_readme_sale_example_approves_on_the_embedded_simulator_with_a_demo_customer(tmp_path):
    run = pos_sim("sale", "--item", "8888012000124", "--amount", "3.40", "--customer", "--json",
                  "--backend-data-dir", str(tmp_path / "sim"), "--journal-dir", str(tmp_path / "terminal"))
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert (said["status"], said["resultCode"], said["amount"]) == ("APPROVED", "SUCCESS", {"currency": "SGD", "value": "450"})
    assert "Customer code          2510 **** **** " in said["receipt"]
