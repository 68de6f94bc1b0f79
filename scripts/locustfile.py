"""A fleet of pos-sim terminals for Locust: shop tills selling by every tender, and metro gates, against a
`pos-sim backend` (issue 8).

Every AMS call is signed as the terminal's GatewayClient signs it (pos_sim/terminal/gateway.py, with
pos_sim.domain.ams_signature) with the demo merchant's key, and every answer is verified with the gateway's
key before it is read. Every request goes through Locust's own client, so Locust's table lists them all,
by call: "pay PaymentCode", "inquiryPayment", "refund", "transit taps", ... and the customer's side,
which the wallet drives over /sim: "sim payment-code", "sim scan", "sim ride-code"...

Two kinds of user, four tills to a gate:

- ``Till``, a shop's terminal; a day's mix of tasks: PaymentCode sales (the customer's one-time code
  from ``POST /sim/wallets/{id}/payment-code``, then pay), OrderCode sales (pay -> the order code ->
  inquiryPayment while the customer gets the phone out -> the wallet scans the code over /sim ->
  inquiryPayment until SUCCESS), EntryCode sales (the same on the store's static code), refunds of an
  earlier sale (half or all of it), cancels (a void of an earlier sale, or an order code the customer
  walked away from) and declined pays (an amount ending in 51: F USER_BALANCE_NOT_ENOUGH, see
  pos_sim/backend/services/faults.py). An outcome the terminal did not get (U, HTTP 500, a dropped connection) is
  chased with inquiryPayment and cancelled, as pos_sim/terminal/authorize.py does.
- ``Gate``, the gates of two metro stations: each rider shows a fresh ride code
  (``POST /sim/wallets/{id}/ride-code``), the gate checks it offline against the issuer key ring it
  fetched (signed ``GET /transit/keyring``) and opens, and the gates upload their taps in signed
  ``POST /transit/taps`` batches as pos_sim/terminal/gate.py's TransitClient does. Fares are charged only
  when someone runs clearing (``POST /sim/transit/clear``); the fleet does not.

Each user opens its own funded wallets on start (/sim answers on loopback, so run Locust on the backend's
machine). An answer the task expects is a success in Locust's table, declines included; anything else
fails the request with its result code ("F INVALID_CODE, expected S SUCCESS").

Options (after Locust's own; the master hands them to its workers):

  --backend-data-dir DIR   the backend's data dir (env POS_SIM_FLEET_DATA_DIR): its
                           keys/SIM_DEMO_private.pem signs, keys/gateway_public.pem verifies
  --merchant-key FILE      the demo merchant's private key instead (env POS_SIM_FLEET_MERCHANT_KEY)
  --gateway-key FILE       the gateway's public key instead (env POS_SIM_FLEET_GATEWAY_KEY)
  --think SECONDS          each terminal's pause between tasks: "0" (default, back to back) or "1-3"
  --first-round            each terminal runs every kind of task once first, then the day's mix
  --fleet-report DIR       each Locust process that runs users writes DIR/fleet-<host>-<pid>.json when it
                           quits: tasks done, sales, and per wallet its opening balance and what the
                           terminals saw paid, refunded and voided (tests/e2e/test_fleet.py checks the
                           backend's ledger against it; scripts/bench_fleet.py counts sales with it)

Run it (a backend first: pos-sim backend --data-dir DATA, or --db postgresql://... for several workers):

  locust -f scripts/locustfile.py --headless -u 20 -r 5 -t 30s --host http://127.0.0.1:8360 \\
      --backend-data-dir DATA --stop-timeout 10
  # distributed: a master, then workers (as many as cores to spare)
  locust -f scripts/locustfile.py --master --headless --expect-workers 2 -u 20 -r 5 -t 30s \\
      --host http://127.0.0.1:8360 --backend-data-dir DATA --stop-timeout 10
  locust -f scripts/locustfile.py --worker --master-host 127.0.0.1

``--stop-timeout`` lets each terminal finish the sale it is in when the time is up; without it Locust
stops them mid-sale and each resolves what it left open (inquiry, then cancel) as it stops.
The users are FastHttpUsers (geventhttpclient): a request costs the load generator several times less
CPU than HttpUser's ``requests``, which matters when Locust shares two cores with the backend.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import FastHttpUser, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner

from pos_sim.domain import ams_signature
from pos_sim.domain.codes import ride

CLIENT_ID = "SIM_DEMO"
CURRENCY = "SGD"
AMS = "/ams/api/v1/payments/"
TRIGGER_ENDINGS = {51, 52, 53, 54, 55, 59}
"""Amount endings (minor units) the simulator answers with a fault of its own (pos_sim/backend/services/faults.py)."""
DECLINE_ENDING = 51  # F USER_BALANCE_NOT_ENOUGH
STATIONS = [f"M{n:02d}" for n in range(1, 13)]  # pos_sim/assets/transit/metro, the backend's default network
GATE_TIME = timezone(timedelta(hours=8))  # the gates' local time (Singapore): the fare's time of day is the tap's
UPLOAD_EVERY = 4
"""A gate uploads its taps once it holds this many (a real gate syncs every few seconds)."""
POLL_S = 0.2
POLL_DEADLINE_S = 10.0
RECENT_SALES = 20


# --- options and keys, once a process -------------------------------------------------------


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--backend-data-dir", env_var="POS_SIM_FLEET_DATA_DIR", default="",
                        help="the backend's data dir: keys/SIM_DEMO_private.pem signs, keys/gateway_public.pem verifies")
    parser.add_argument("--merchant-key", env_var="POS_SIM_FLEET_MERCHANT_KEY", default="",
                        help="the demo merchant's private key file (default: in --backend-data-dir)")
    parser.add_argument("--gateway-key", env_var="POS_SIM_FLEET_GATEWAY_KEY", default="",
                        help="the gateway's public key file (default: in --backend-data-dir)")
    parser.add_argument("--think", default="0", help='pause between a terminal\'s tasks, seconds: "0" or "1-3"')
    parser.add_argument("--first-round", action="store_true", default=False,
                        help="each terminal runs every kind of task once before the day's mix")
    parser.add_argument("--fleet-report", env_var="POS_SIM_FLEET_REPORT", default="",
                        help="a folder: each process that runs users writes what its terminals saw there as it quits")


@dataclass(frozen=True)
class Keys:
    merchant: Any  # RSA private key: signs the requests
    gateway: Any   # RSA public key: verifies the answers


_keys: Keys | None = None


def keys_of(options: Any) -> Keys:
    """The keys the options name, read once a process."""
    global _keys
    if _keys is None:
        data_dir = Path(options.backend_data_dir) if options.backend_data_dir else None
        merchant = Path(options.merchant_key) if options.merchant_key else data_dir and data_dir / "keys" / f"{CLIENT_ID}_private.pem"
        gateway = Path(options.gateway_key) if options.gateway_key else data_dir and data_dir / "keys" / "gateway_public.pem"
        if merchant is None or gateway is None:
            raise SystemExit("locustfile: say where the keys are: --backend-data-dir DIR (or POS_SIM_FLEET_DATA_DIR), "
                             "or --merchant-key FILE and --gateway-key FILE")
        try:
            _keys = Keys(ams_signature.load_private_key(merchant.read_text()), ams_signature.load_public_key(gateway.read_text()))
        except (OSError, ams_signature.SignatureError) as exc:
            raise SystemExit(f"locustfile: cannot use the keys {merchant} and {gateway}: {exc}") from None
    return _keys


def think_time(options: Any) -> tuple[float, float]:
    low, _, high = str(options.think).partition("-")
    try:
        low_s = float(low)
        high_s = float(high) if high else low_s
    except ValueError:
        raise SystemExit(f'locustfile: --think {options.think!r}: seconds, "0" or "1-3"') from None
    return low_s, max(low_s, high_s)


# --- what this process's terminals saw ------------------------------------------------------


class Tally:
    """What the terminals of this process did and saw: counts, and what moved in each of their wallets."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.wallets: dict[str, dict[str, int]] = {}
        self.unresolved: list[dict[str, Any]] = []

    def opened(self, wallet_id: str, opening: int, kind: str) -> None:
        self.wallets[wallet_id] = {"opening": opening, "paid": 0, "refunded": 0, "voided": 0, "kind": kind}

    def moved(self, wallet_id: str, what: str, amount: int) -> None:
        self.wallets[wallet_id][what] += amount

    def json(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "counts": dict(self.counts),
                "wallets": self.wallets, "unresolved": self.unresolved}


tally = Tally()


@events.quitting.add_listener
def _write_report(environment: Any, **_kwargs: Any) -> None:
    options = environment.parsed_options
    if isinstance(environment.runner, MasterRunner) or options is None or not options.fleet_report:
        return
    folder = Path(options.fleet_report)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fleet-{socket.gethostname()}-{os.getpid()}.json"
    path.write_text(json.dumps(tally.json(), indent=1))


def fail_outside_http(environment: Any, name: str, error: str) -> None:
    """A failure that is no HTTP request's (a gate refusing a ride code), in Locust's table all the same."""
    environment.events.request.fire(request_type="GATE", name=name, response_time=0, response_length=0,
                                    exception=Exception(error), context={})


def sale_amount(rng: random.Random) -> int:
    """A basket's total in minor units, S$1.00 to S$300.00, never a trigger amount."""
    amount = rng.randint(100, 30_000)
    return amount + 10 if amount % 100 in TRIGGER_ENDINGS else amount


@dataclass
class Sale:
    request_id: str
    payment_id: str | None
    wallet_id: str
    amount: int
    scenario: str
    refunded: int = 0


class Answer(dict):
    """A verified AMS answer's body; ``status`` and ``code`` its result."""

    status: str = ""
    code: str = ""


# --- the terminal's signed calls ------------------------------------------------------------


class Terminal(FastHttpUser):
    """What a till and a gate share: signed calls, verified answers, wallets of their own."""

    abstract = True
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.keys = keys_of(options)
        self.think = think_time(options)
        self.base_path = urlsplit(self.host or "").path.rstrip("/")
        self.rng = random.Random()

    def wait_time(self) -> float:
        low, high = self.think
        return low if low == high else self.rng.uniform(low, high)

    def done(self, kind: str) -> None:
        tally.counts[f"task {kind}"] += 1

    # /sim: the customer's side, unsigned, loopback

    def sim(self, method: str, path: str, name: str, body: dict | None = None, expect: int = 200) -> dict | None:
        with self.client.request(method, path, name=name, json=body, catch_response=True) as response:
            if response.status_code != expect:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")
                return None
            try:
                return response.json()
            except ValueError:
                response.failure("not JSON")
                return None

    def open_wallet(self, balance: int, kind: str) -> str:
        wallet = self.sim("POST", "/sim/wallets", "sim open wallet", {"currency": CURRENCY, "balance": balance, "name": "fleet"})
        if wallet is None:
            raise StopUser()  # a terminal with no customers has nothing to do
        tally.opened(wallet["walletId"], balance, kind)
        return wallet["walletId"]

    # signed calls, as GatewayClient makes them

    def signed(self, method: str, path: str, body: dict | None, name: str, expect: set[tuple[str, str]] | None,
               check: Any = None) -> Answer | None:
        """One signed call; the answer once its signature checks, or None (the failure is in Locust's table).

        ``expect``: the (resultStatus, resultCode) pairs the task expects, any other fails the request
        (None: any result); ``check(answer)``: a further check, the failure's text or None.
        """
        full = self.base_path + path
        data = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        signature = ams_signature.sign(self.keys.merchant, method, full, CLIENT_ID, at, data)
        headers = {"client-id": CLIENT_ID, "Request-Time": at, "Signature": ams_signature.signature_header(signature)}
        if data:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        with self.client.request(method, path, name=name, data=data or None, headers=headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return None
            problem = self._unverified(method, full, response)
            if problem:
                response.failure(problem)
                return None
            try:
                answer = Answer(json.loads(response.content))
                result = answer.get("result") or {}
                answer.status, answer.code = result.get("resultStatus", ""), result.get("resultCode", "")
            except (ValueError, AttributeError, TypeError):
                response.failure("the answer is not a JSON object")
                return None
            if expect is not None and (answer.status not in ("S", "F", "U") or not answer.code):
                response.failure("no AMS result in the answer")
                return None
            if expect is not None and (answer.status, answer.code) not in expect:
                wanted = " or ".join(f"{s} {c}" for s, c in sorted(expect))
                response.failure(f"{answer.status} {answer.code}, expected {wanted}")
                return answer
            if check is not None and (problem := check(answer)):
                response.failure(problem)
            return answer

    def _unverified(self, method: str, path: str, response: Any) -> str | None:
        """Why the answer is not the gateway's for this client (None: it is)."""
        client_id, at, header = (response.headers.get(name) for name in ("client-id", "response-time", "signature"))
        if not client_id or not at or not header:
            return "unsigned answer"
        if client_id != CLIENT_ID:
            return f"answer signed for {client_id}"
        try:
            _algorithm, _version, value = ams_signature.parse_signature_header(header)
            good = ams_signature.verify(self.keys.gateway, method, path, client_id, at, response.content or b"", value)
        except ams_signature.SignatureError as exc:
            return f"bad signature header: {exc}"
        return None if good else "the answer's signature does not match the gateway's key"

    def ams(self, call: str, body: dict, name: str | None = None, expect: set[tuple[str, str]] | None = None,
            check: Any = None) -> Answer | None:
        return self.signed("POST", AMS + call, body, name or call, expect, check)


S_OK = {("S", "SUCCESS")}
IN_PROCESS = {("U", "PAYMENT_IN_PROCESS")}


def pay_body(request_id: str, amount: int, scenario: str, code: str | None = None, store_id: str | None = None,
             terminal_id: str = "") -> dict:
    """A pay as GatewayClient.pay builds it."""
    money = {"currency": CURRENCY, "value": str(amount)}
    order: dict[str, Any] = {"referenceOrderId": request_id, "orderDescription": "in-store sale", "orderAmount": money,
                             "env": {"storeTerminalId": terminal_id,
                                     "storeTerminalRequestTime": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
    if store_id:
        order["merchant"] = {"store": {"referenceStoreId": store_id}}
    method = {"paymentMethodType": "CONNECT_WALLET"} | ({"paymentMethodId": code} if code else {})
    return {"productCode": "IN_STORE_PAYMENT", "paymentRequestId": request_id, "order": order, "paymentAmount": money,
            "paymentMethod": method, "paymentFactor": {"inStorePaymentScenario": scenario}}


# --- a shop's till --------------------------------------------------------------------------


class Till(Terminal):
    """A shop's terminal and the customers at its counter, through a day's mix of tasks."""

    weight = 4
    CUSTOMERS = 3
    OPENING = 10**9  # S$10,000,000 a customer: never short for the fleet's sales

    def on_start(self) -> None:
        super().on_start()
        self.terminal_id = "T" + uuid.uuid4().hex[:8].upper()
        self.store_id = "S" + self.terminal_id  # a store of its own: an entry code pays the oldest payment waiting on it
        self.wallets = [self.open_wallet(self.OPENING, "customer") for _ in range(self.CUSTOMERS)]
        self.recent: deque[Sale] = deque(maxlen=RECENT_SALES)  # approved, not voided or wholly refunded
        self.open: dict[str, tuple[str, Any]] = {}  # calls sent whose outcome is not known yet, by request id
        entry = self.sim("GET", f"/sim/merchants/{CLIENT_ID}/entry-code?storeId={self.store_id}", "sim entry-code")
        if entry is None:
            raise StopUser()
        self.entry_code = entry["codeValue"]
        if self.environment.parsed_options.first_round:
            for kind in (self.payment_code_sale, self.order_code_sale, self.entry_code_sale, self.refund,
                         self.cancel, self.declined_pay):
                kind()

    def on_stop(self) -> None:
        """What the till left open when it stopped (cut short mid-sale), resolved as a terminal does when it
        starts again; what stays open goes into the report as unresolved."""
        for request_id in list(self.open):
            self.resolve(request_id)
        for request_id, (kind, what) in self.open.items():
            sale = what[0] if kind == "refund" else what
            tally.unresolved.append({"kind": kind, "requestId": request_id, "walletId": sale.wallet_id})

    # the day's mix

    @task(40)
    def payment_code_sale(self) -> None:
        """The customer shows the wallet's payment code; the till scans it and pays."""
        if self.sell_by_payment_code() is not None:
            self.done("PaymentCode sale")

    @task(15)
    def order_code_sale(self) -> None:
        """The till shows an order code; the customer's wallet scans it and pays; the till polls for the outcome."""
        if self.sell_by_merchant_code("OrderCode") is not None:
            self.done("OrderCode sale")

    @task(6)
    def entry_code_sale(self) -> None:
        """The customer scans the store's static entry code and pays the amount keyed on the till."""
        if self.sell_by_merchant_code("EntryCode") is not None:
            self.done("EntryCode sale")

    @task(8)
    def refund(self) -> None:
        """A customer brings something back: half or all of an earlier sale is refunded."""
        sale = self.earlier_sale()
        if sale is None:
            return
        left = sale.amount - sale.refunded
        amount = left if left < 200 or self.rng.random() < 0.5 else left // 2
        request_id = uuid.uuid4().hex
        body = {"refundRequestId": request_id, "paymentId": sale.payment_id,
                "refundAmount": {"currency": CURRENCY, "value": str(amount)}, "refundReason": "returned"}
        self.recent.remove(sale)  # until the refund's outcome is known: nothing else is done to it meanwhile
        self.open[request_id] = ("refund", (sale, amount))
        answer = self.ams("refund", body, expect=S_OK)
        if answer is None or answer.status == "U":
            self.resolve(request_id)
            return
        del self.open[request_id]
        if answer.status == "S":
            self.refunded(sale, amount)
            self.done("refund")
        elif sale.refunded < sale.amount:
            self.recent.append(sale)

    @task(6)
    def cancel(self) -> None:
        """The cashier voids an earlier sale (its money back to the customer), or cancels an order code the
        customer walked away from."""
        if self.rng.random() < 0.5 and (sale := self.earlier_sale(unrefunded=True)) is not None:
            self.recent.remove(sale)
            self.open[sale.request_id] = ("void", sale)
            if self.resolve(sale.request_id):
                self.done("cancel")
            return
        request_id = uuid.uuid4().hex
        amount = sale_amount(self.rng)
        self.open[request_id] = ("pay", Sale(request_id, None, self.rng.choice(self.wallets), amount, "OrderCode"))
        paid = self.ams("pay", pay_body(request_id, amount, "OrderCode", terminal_id=self.terminal_id), "pay OrderCode",
                        expect=IN_PROCESS)
        if paid is not None and paid.status == "F":
            del self.open[request_id]
            return
        answer = self.ams("cancel", {"paymentRequestId": request_id}, expect=S_OK)
        if answer is not None and answer.status == "S":
            del self.open[request_id]  # nothing was paid: nothing moves
            tally.counts["walked away"] += 1
            self.done("cancel")
        else:
            self.resolve(request_id)

    @task(4)
    def declined_pay(self) -> None:
        """A pay the wallet declines for balance (an amount ending in 51): an expected F, nothing moves."""
        wallet_id = self.rng.choice(self.wallets)
        code = self.sim("POST", f"/sim/wallets/{wallet_id}/payment-code", "sim payment-code")
        if code is None:
            return
        amount = self.rng.randint(1, 300) * 100 + DECLINE_ENDING
        request_id = uuid.uuid4().hex
        self.open[request_id] = ("pay", Sale(request_id, None, wallet_id, amount, "PaymentCode"))
        answer = self.ams("pay", pay_body(request_id, amount, "PaymentCode", code["code"], terminal_id=self.terminal_id),
                          "pay PaymentCode", expect={("F", "USER_BALANCE_NOT_ENOUGH")})
        if answer is None or answer.status != "F":
            self.resolve(request_id)  # charged after all, or not known: as any pay
            return
        del self.open[request_id]
        tally.counts["declined"] += 1
        self.done("declined pay")

    # the flows

    def sell_by_payment_code(self) -> Sale | None:
        wallet_id = self.rng.choice(self.wallets)
        code = self.sim("POST", f"/sim/wallets/{wallet_id}/payment-code", "sim payment-code")
        if code is None:
            return None
        amount = sale_amount(self.rng)
        request_id = uuid.uuid4().hex
        self.open[request_id] = ("pay", Sale(request_id, None, wallet_id, amount, "PaymentCode"))
        answer = self.ams("pay", pay_body(request_id, amount, "PaymentCode", code["code"], terminal_id=self.terminal_id),
                          "pay PaymentCode", expect=S_OK)
        if answer is None or answer.status == "U":
            sale = self.resolve(request_id, answered=answer is not None)
            return sale if isinstance(sale, Sale) else None
        del self.open[request_id]
        if answer.status != "S":
            return None
        return self.approved(Sale(request_id, answer.get("paymentId"), wallet_id, amount, "PaymentCode"))

    def sell_by_merchant_code(self, scenario: str) -> Sale | None:
        wallet_id = self.rng.choice(self.wallets)
        amount = sale_amount(self.rng)
        request_id = uuid.uuid4().hex
        self.open[request_id] = ("pay", Sale(request_id, None, wallet_id, amount, scenario))
        body = pay_body(request_id, amount, scenario, store_id=self.store_id if scenario == "EntryCode" else None,
                        terminal_id=self.terminal_id)
        paid = self.ams("pay", body, f"pay {scenario}", expect=IN_PROCESS,
                        check=self._has_order_code if scenario == "OrderCode" else None)
        if paid is not None and paid.status == "F":
            del self.open[request_id]
            return None
        code = self._order_code(paid) if scenario == "OrderCode" else self.entry_code
        if paid is None or paid.status != "U" or not code:
            self.resolve(request_id)
            return None
        # the till polls at once; the customer is still getting the phone out
        self.ams("inquiryPayment", {"paymentRequestId": request_id}, expect=S_OK,
                 check=lambda a: None if a.get("paymentStatus") == "PROCESSING" else f"paymentStatus {a.get('paymentStatus')}")
        scanned = self.sim("POST", f"/sim/wallets/{wallet_id}/scan", "sim scan", {"codeValue": code})
        if scanned is not None and scanned.get("status") != "SUCCESS":
            self.client_failure("sim scan", f"scan answered {scanned.get('status')} {scanned.get('resultCode')}")
        sale = self.resolve(request_id, answered=True)
        return sale if isinstance(sale, Sale) else None

    @staticmethod
    def _order_code(answer: Answer | None) -> str | None:
        details = ((answer or {}).get("orderCodeForm") or {}).get("codeDetails") or [{}]
        return details[0].get("codeValue") if isinstance(details[0], dict) else None

    def _has_order_code(self, answer: Answer) -> str | None:
        return None if self._order_code(answer) else "no orderCodeForm code in the answer"

    def client_failure(self, name: str, error: str) -> None:
        fail_outside_http(self.environment, name, error)

    def poll(self, request_id: str, answered: bool) -> Answer | None:
        """inquiryPayment until the payment is final; its last answer, or None when it is not final in time.
        ``answered``: the pay was answered, so the payment exists and is expected to succeed; else it is
        chased, and any outcome is one."""
        deadline = time.monotonic() + POLL_DEADLINE_S
        expect = S_OK if answered else S_OK | {("F", "ORDER_NOT_EXIST")}
        while True:
            answer = self.ams("inquiryPayment", {"paymentRequestId": request_id}, expect=expect,
                              check=None if not answered else lambda a: None if a.get("paymentStatus") in ("SUCCESS", "PROCESSING")
                              else f"paymentStatus {a.get('paymentStatus')} {a.get('paymentResultCode')}")
            if answer is not None and (answer.status == "F" or answer.get("paymentStatus") != "PROCESSING"):
                return answer
            if time.monotonic() > deadline:
                return None
            gevent.sleep(POLL_S)

    def approved(self, sale: Sale) -> Sale:
        tally.moved(sale.wallet_id, "paid", sale.amount)
        tally.counts[f"sale {sale.scenario}"] += 1
        if sale.payment_id:
            self.recent.append(sale)
        return sale

    def refunded(self, sale: Sale, amount: int) -> None:
        tally.moved(sale.wallet_id, "refunded", amount)
        tally.counts["refund"] += 1
        sale.refunded += amount
        if sale.refunded < sale.amount:
            self.recent.append(sale)  # the rest may be refunded later

    def earlier_sale(self, unrefunded: bool = False) -> Sale | None:
        """One of this till's recent approved sales (not refunded at all, for a void); a new PaymentCode sale
        when it has none."""
        choices = [s for s in self.recent if not (unrefunded and s.refunded)]
        if choices:
            return self.rng.choice(choices)
        return self.sell_by_payment_code() if not self.recent else None

    def resolve(self, request_id: str, answered: bool = False) -> Sale | bool:
        """Bring the open call ``request_id`` to one known outcome, as the terminal does (authorize.py): a pay
        is inquired until final, and cancelled if it is not (its charge, if any, reversed); a void is sent
        again; a refund is inquired. The sale, when a pay turned out paid; else whether it ended as meant.
        ``answered``: a pay's U answer came (the payment exists and should succeed), not a lost answer."""
        kind, what = self.open[request_id]
        if kind == "pay":
            status = self.poll(request_id, answered)
            if status is not None and (status.status == "F" or status.get("paymentStatus") in ("FAIL", "CANCELLED")):
                del self.open[request_id]  # closed without a charge
                return False
            if status is not None and status.get("paymentStatus") == "SUCCESS":
                del self.open[request_id]
                return self.approved(Sale(request_id, status.get("paymentId"), what.wallet_id, what.amount, what.scenario))
            answer = self.ams("cancel", {"paymentRequestId": request_id}, expect=S_OK)
            if answer is not None and answer.status == "S":
                del self.open[request_id]  # cancelled: nothing was charged, or the charge was reversed
            return False
        if kind == "void":
            answer = self.ams("cancel", {"paymentId": what.payment_id}, expect=S_OK)
            if answer is None or answer.status != "S":
                return False
            del self.open[request_id]
            tally.moved(what.wallet_id, "voided", what.amount)
            tally.counts["void"] += 1
            return True
        sale, amount = what
        answer = self.ams("inquiryRefund", {"refundRequestId": request_id}, expect=S_OK | {("F", "ORDER_NOT_EXIST")})
        if answer is None or answer.status not in ("S", "F"):
            return False
        del self.open[request_id]
        if answer.status == "S" and answer.get("refundStatus") == "SUCCESS":
            self.refunded(sale, amount)
            return True
        if sale.refunded < sale.amount:
            self.recent.append(sale)
        return False


# --- a metro's gates --------------------------------------------------------------------------


@dataclass
class GateLine:
    station_id: str
    gate_id: str
    waiting: list[dict[str, str]]


class Gate(Terminal):
    """The gates of two stations and their riders: a ride code shown, checked offline, the gate opens; taps
    uploaded in batches."""

    weight = 1
    RIDERS = 4
    OPENING = 10**7

    def on_start(self) -> None:
        super().on_start()
        a, b = self.rng.sample(STATIONS, 2)
        suffix = uuid.uuid4().hex[:6].upper()
        self.gates = [GateLine(a, f"{a}-G{suffix}", []), GateLine(b, f"{b}-G{suffix}", [])]
        self.riders = {self.open_wallet(self.OPENING, "rider"): False for _ in range(self.RIDERS)}  # wallet -> inside
        self.ring: ride.KeyRing | None = None
        self.fetch_keyring()
        if self.environment.parsed_options.first_round:
            for _ in range(UPLOAD_EVERY):
                self.rider_passes()

    def on_stop(self) -> None:
        for gate in self.gates:
            self.upload(gate)

    def fetch_keyring(self) -> None:
        answer = self.signed("GET", "/transit/keyring", None, "transit keyring", expect=None,
                             check=lambda a: None if "keys" in a else f"{a.status} {a.code}")
        if answer is not None and "keys" in answer:
            self.ring = ride.KeyRing.from_document(dict(answer))

    @task
    def rider_passes(self) -> None:
        """A rider shows a fresh ride code at the gate of the station where the journey starts or ends."""
        wallet_id = self.rng.choice(list(self.riders))
        inside = self.riders[wallet_id]
        gate = self.gates[1] if inside else self.gates[0]
        code = self.sim("POST", f"/sim/wallets/{wallet_id}/ride-code", "sim ride-code", {"companions": 0}, expect=201)
        if code is None:
            return
        verdict = self.decide(code["code"])
        if verdict is None:
            return
        if not verdict.ok:
            fail_outside_http(self.environment, "gate decision", f"{verdict.reason.value}: {verdict.message}")
            return
        self.riders[wallet_id] = not inside
        at = datetime.now(GATE_TIME).isoformat(timespec="milliseconds")
        gate.waiting.append({"tapId": str(uuid.uuid4()), "stationId": gate.station_id, "gateId": gate.gate_id,
                             "direction": "out" if inside else "in", "at": at, "code": code["code"],
                             "account": code["account"], "decision": "open", "reason": "ok"})
        tally.counts["tap opened"] += 1
        self.done("gate tap")
        if len(gate.waiting) >= UPLOAD_EVERY:
            self.upload(gate)

    def decide(self, text: str) -> ride.Verdict | None:
        """The gate's offline check: the code reads, its key is in the ring and signed it, it is fresh, its
        account is not denied. An unknown key makes the gate fetch the ring again, once."""
        try:
            signed = ride.read(text)
        except Exception as exc:  # noqa: BLE001 - a code that does not read is the gate's refusal, said in the table
            fail_outside_http(self.environment, "gate decision", f"unreadable ride code: {exc}")
            return None
        for attempt in range(2):
            if self.ring is None:
                self.fetch_keyring()
                if self.ring is None:
                    return None
            verdict = ride.verify(signed, self.ring.keys, datetime.now(timezone.utc))
            if verdict.reason is ride.Reason.UNKNOWN_KEY and attempt == 0:
                self.ring = None
                continue
            return verdict if not verdict.ok else self.ring.deny.check(signed)
        return None

    def upload(self, gate: GateLine) -> None:
        if not gate.waiting:
            return
        batch, gate.waiting = gate.waiting, []
        answer = self.signed("POST", "/transit/taps", {"gateId": gate.gate_id, "taps": batch}, "transit taps", expect=S_OK,
                             check=lambda a: None if a.get("accepted", 0) + a.get("duplicates", 0) == len(batch)
                             else f"{a.get('accepted')} accepted and {a.get('duplicates')} duplicates of {len(batch)}")
        if answer is not None and answer.status == "S":
            tally.counts["tap uploaded"] += len(batch)
        else:
            gate.waiting = batch + gate.waiting  # kept for the next upload, as the gate's journal keeps them
