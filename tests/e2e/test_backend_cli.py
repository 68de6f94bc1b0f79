"""`pos-sim backend` as a user starts it: it prints its URL, serves, keeps its data, refuses bad setups, and
keeps its secrets: the data dir 0700, the ledger 0600, private keys (the transit issuer's too) 0600 in a
0700 folder and never in the ledger, never in its output nor in an answer but the new merchant's on
loopback, the admin API behind its token."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import requests

from pos_sim.backend import server
from pos_sim.backend.store import keys
from pos_sim.backend.edge.app import create_app
from pos_sim.domain import ams_signature


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "pos_sim", "backend", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("pos-sim backend on http://127.0.0.1:"), (line, process.stderr.read() if process.poll() is not None else "")
    return process, line.split()[3]


def test_backend_starts_prints_its_url_and_keeps_its_ledger(tmp_path):
    data = tmp_path / "data"
    process, url = start("--data-dir", str(data))
    try:
        wallet = requests.post(f"{url}/sim/wallets", json={"currency": "THB", "balance": 50_000, "name": "Somchai"}, timeout=10).json()
        code = requests.post(f"{url}/sim/wallets/{wallet['walletId']}/payment-code", timeout=10).json()
        assert len(code["code"]) == 24 and code["code"].startswith("25100102")
        assert requests.get(f"{url}/sim/openapi.json", timeout=10).json()["paths"]["/sim/wallets"]
    finally:
        process.send_signal(signal.SIGTERM)  # not SIGINT: a child of a pytest-xdist worker ignores it
        process.wait(timeout=15)
    for name, mode in [("gateway_private.pem", 0o600), ("SIM_DEMO_private.pem", 0o600), ("SIM_DEMO_public.pem", 0o644)]:
        assert os.stat(data / "keys" / name).st_mode & 0o777 == mode
    process, url = start("--data-dir", str(data))  # the same data dir: the wallet is still there
    try:
        assert requests.get(f"{url}/sim/wallets/{wallet['walletId']}", timeout=10).json()["balance"] == 50_000
    finally:
        process.send_signal(signal.SIGTERM)  # not SIGINT: a child of a pytest-xdist worker ignores it
        process.wait(timeout=15)


def test_backend_refuses_to_serve_the_admin_api_beyond_loopback_without_a_token(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--admin-token" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--db", "nosuchdb://x", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr


def test_backend_help_says_what_it_serves_and_names_its_folder_as_the_other_commands_do():
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    said = " ".join(run.stdout.split())
    assert "Alipay+/Antom in-store payments API" in said and "Stop it with ctrl+c" in said
    assert "--data-dir DIR" in said and "DATA_DIR" not in said


def test_a_port_beyond_0_to_65535_is_refused_not_served_on_another(tmp_path):
    # a socket takes the port modulo 65536: --port 99999 served on 34463, saying so only in the URL it printed
    for port in ("99999", "-5"):
        run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--port", port, "--data-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert (run.returncode, run.stdout, run.stderr) == (2, "", f"error: --port {port}: a port from 0 to 65535\n")


VERBOSE = "import logging, sys; logging.basicConfig(level=logging.DEBUG); from pos_sim.cli import main; sys.exit(main(sys.argv[1:]))"
"""`pos-sim backend` with every logger at DEBUG (the command has no log-level flag; this is the most a user can turn up)."""


def signed_call(url: str, key, path: str, body: bytes, *, at: str | None = None, client_id: str = "SIM_DEMO",
                signature: str | None = None) -> dict:
    at = at or datetime.now(UTC).isoformat()
    signature = signature or ams_signature.signature_header(ams_signature.sign(key, "POST", path, client_id, at, body))
    answer = requests.post(url + path, data=body, timeout=10,
                           headers={"client-id": client_id, "request-time": at, "signature": signature, "content-type": "application/json"})
    return answer.json()


def test_no_private_key_or_admin_token_reaches_the_output_even_with_every_logger_at_debug(tmp_path):
    data, token = tmp_path / "data", "tok-" + "7f3a9c" * 6
    process = subprocess.Popen([sys.executable, "-c", VERBOSE, "backend", "--port", "0", "--data-dir", str(data), "--admin-token", token],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("pos-sim backend on http://127.0.0.1:"), (line, process.stderr.read() if process.poll() is not None else "")
    url, admin = line.split()[3], {"authorization": f"Bearer {token}"}
    answers: list[str] = []
    try:
        wallet = requests.post(f"{url}/sim/wallets", json={"currency": "SGD", "balance": 5_000}, headers=admin, timeout=10).json()["walletId"]
        code = requests.post(f"{url}/sim/wallets/{wallet}/payment-code", headers=admin, timeout=10).json()["code"]
        for method, path in [("POST", f"/sim/wallets/{wallet}/ride-code"), ("POST", "/sim/transit/keys"),  # issuer keys are made
                             ("POST", f"/sim/wallets/{wallet}/ride-code"), ("GET", "/sim/transit/keys"), ("GET", f"/sim/wallets/{wallet}"),
                             ("POST", "/sim/transit/clear"), ("GET", "/sim/merchants"), ("GET", "/sim/openapi.json")]:
            answers.append(requests.request(method, url + path, json={} if method == "POST" else None, headers=admin, timeout=10).text)
        made = requests.post(f"{url}/sim/merchants", json={"clientId": "SHOP_9", "name": "Shop", "settlementCurrency": "SGD"},
                             headers=admin, timeout=10)
        shop = made.json()
        assert shop["privateKeyFile"].endswith("SHOP_9_private.pem")  # answered to the admin on loopback, never logged
        assert shop["privateKey"] == (data / "keys" / "SHOP_9_private.pem").read_text()
        key = keys.read_private_key(data / "keys" / "SIM_DEMO_private.pem")
        pay = json.dumps({"productCode": "IN_STORE_PAYMENT", "paymentRequestId": "R-1", "paymentNotifyUrl": "http://127.0.0.1:9/notify",
                          "paymentAmount": {"currency": "SGD", "value": "100"}, "paymentMethod": {"paymentMethodId": code},
                          "paymentFactor": {"inStorePaymentScenario": "PaymentCode"}}).encode()
        path = "/ams/api/v1/payments/pay"
        paid = signed_call(url, key, path, pay)
        assert paid["result"]["resultCode"] == "SUCCESS"  # its notification fails (nothing on port 9): logged
        failures = [
            signed_call(url, key, path, b"{not json"),
            signed_call(url, key, path, pay, at=(datetime.now(UTC) - timedelta(hours=1)).isoformat()),
            signed_call(url, key, path, pay, signature="algorithm=RSA256,keyVersion=1,signature=AAAA"),
            signed_call(url, key, path, pay + b" " * 70_000),
            signed_call(url, key, path, pay, client_id="NOBODY"),
        ]
        assert [said["result"]["resultCode"] for said in failures] == [
            "PARAM_ILLEGAL", "INVALID_SIGNATURE", "INVALID_SIGNATURE", "PARAM_ILLEGAL", "INVALID_CLIENT"]
        wrong = requests.post(f"{url}/sim/wallets", json={"currency": "SGD", "balance": 1}, timeout=10,
                              headers={"authorization": f"Bearer {token[:-1]}x"})
        assert wrong.status_code == 403
        deadline = time.monotonic() + 15
        while not any(note["attempts"] for note in requests.get(f"{url}/sim/payments/{paid['paymentId']}/notifications",
                                                                 headers=admin, timeout=10).json()["notifications"]):
            assert time.monotonic() < deadline, "the notifier never tried"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)  # not SIGINT: a child of a pytest-xdist worker ignores it
        out, err = process.communicate(timeout=20)
    said = out + err
    assert "DEBUG:" in err  # the loggers really were at their most verbose
    assert "PRIVATE KEY" not in said and token not in said
    assert not any("PRIVATE KEY" in answer for answer in answers)
    ledger = b"".join(path.read_bytes() for path in data.glob("ledger.db*"))
    issuer = sorted(path.name for path in (data / "keys").glob("transit_issuer_*.pem"))
    assert len(issuer) == 2 and b"PRIVATE KEY" not in ledger  # two issuer keys (the first, and the rotation's)
    for name in ("gateway_private.pem", "SIM_DEMO_private.pem", "SHOP_9_private.pem", *issuer):
        private = data / "keys" / name
        assert os.stat(private).st_mode & 0o777 == 0o600
        body = [line for line in private.read_text().splitlines() if line and not line.startswith("-----")]
        assert body and not any(line in said or line.encode() in ledger or any(line in a for a in answers) for line in body), name
    assert os.stat(data / "keys").st_mode & 0o777 == 0o700
    assert os.stat(data).st_mode & 0o777 == 0o700
    assert [os.stat(path).st_mode & 0o777 for path in data.glob("ledger.db*")] == [0o600] * len(list(data.glob("ledger.db*")))


def asgi_post(app, path: str, body: dict, headers: dict, client: tuple[str, int]) -> tuple[int, dict]:
    """POST to the backend's own ASGI app as a caller at ``client`` would (no socket: the address is the point)."""
    data = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "client": client,
             "server": ("192.0.2.1", 8360), "headers": [(name.encode(), value.encode()) for name, value in
                                                       {**headers, "content-type": "application/json",
                                                        "content-length": str(len(data))}.items()]}
    incoming = [{"type": "http.request", "body": data, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(message.get("body", b"") for message in sent[1:]))


def test_a_merchant_added_from_beyond_loopback_gets_its_key_file_named_not_its_private_key(tmp_path):
    token = "tok-" + "5e6f" * 8
    gateway = server.open_gateway(tmp_path / "data", admin_token=token)
    try:
        app = create_app(gateway)
        status, shop = asgi_post(app, "/sim/merchants", {"clientId": "SHOP_FAR", "name": "Far", "settlementCurrency": "SGD"},
                                 {"authorization": f"Bearer {token}"}, ("192.0.2.7", 50_000))
        assert status == 201 and shop["privateKeyFile"].endswith("SHOP_FAR_private.pem") and "privateKey" not in shop
        assert "PRIVATE KEY" not in json.dumps(shop)
        status, near = asgi_post(app, "/sim/merchants", {"clientId": "SHOP_NEAR", "name": "Near", "settlementCurrency": "SGD"},
                                 {"authorization": f"Bearer {token}"}, ("127.0.0.1", 50_000))
        assert status == 201 and near["privateKey"].startswith("-----BEGIN PRIVATE KEY-----")
    finally:
        gateway.store.close()


def test_with_an_admin_token_the_admin_api_wants_it_even_from_loopback_and_ams_does_not(tmp_path):
    token = "tok-" + "1b2c" * 8
    process, url = start("--data-dir", str(tmp_path / "data"), "--admin-token", token)
    try:
        body = {"currency": "SGD", "balance": 100}
        for headers in ({}, {"authorization": token}, {"authorization": f"Bearer {token}x"}, {"authorization": "Bearer "}):
            refused = requests.post(f"{url}/sim/wallets", json=body, headers=headers, timeout=10)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "ACCESS_DENIED"
        assert requests.get(f"{url}/sim/merchants", timeout=10).status_code == 403
        opened = requests.post(f"{url}/sim/wallets", json=body, headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert opened.status_code == 200
        said = signed_call(url, keys.read_private_key(tmp_path / "data" / "keys" / "SIM_DEMO_private.pem"),
                           "/ams/api/v1/payments/inquiryPayment", b'{"paymentId": "P1"}')
        assert said["result"]["resultCode"] == "ORDER_NOT_EXIST"  # AMS calls are signed, not guarded by the token
    finally:
        process.send_signal(signal.SIGTERM)  # not SIGINT: a child of a pytest-xdist worker ignores it
        process.wait(timeout=15)


def test_a_data_dir_that_cannot_be_written_is_one_line_for_every_command_that_keeps_data(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    runs = {
        "backend": ["backend", "--port", "0", "--data-dir", str(blocked / "sim")],
        "sale": ["sale", "--amount", "1.00", "--customer", "--backend-data-dir", str(blocked / "sim")],
        "journal": ["sale", "--amount", "1.00", "--customer", "--backend-data-dir", str(tmp_path / "sim"),
                    "--journal-dir", str(blocked / "terminal")],
    }
    home = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    for name, args in runs.items():
        run = subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=60, env=home)
        assert run.returncode == 2, (name, run.stderr)
        assert run.stderr.count("\n") == 1 and str(blocked) in run.stderr and ": cannot " in run.stderr, (name, run.stderr)


def test_a_data_or_journal_dir_that_is_a_file_is_named_as_a_file_not_a_folder(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    sale = ["sale", "--amount", "1.00", "--customer"]
    runs = {
        ("backend", "--port", "0", "--data-dir", str(file)): f"error: --data-dir {file} is a file, not a folder\n",
        (*sale, "--backend-data-dir", str(file)): f"error: --backend-data-dir {file} is a file, not a folder\n",
        (*sale, "--journal-dir", str(file)): f"error: --journal-dir {file} is a file, not a folder\n",
        (*sale, "--journal-dir", str(file), "--language", "th"): f"ข้อผิดพลาด: --journal-dir {file} เป็นไฟล์ ไม่ใช่โฟลเดอร์\n",
    }
    home = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    for args, said in runs.items():
        run = subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=60, env=home)
        assert (run.returncode, run.stderr) == (2, said), args
    run = subprocess.run([sys.executable, "-m", "pos_sim", *sale], capture_output=True, text=True, timeout=60,
                         env=home | {"POS_SIM_JOURNAL_DIR": str(file)})
    assert (run.returncode, run.stderr) == (2, f"error: POS_SIM_JOURNAL_DIR {file} is a file, not a folder\n")
    assert file.read_text() == "not a folder" and not (tmp_path / ".local").exists()  # nothing made, no money moved
