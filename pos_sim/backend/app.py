"""The HTTP edge of the simulated provider: AMS calls (signed both ways) and the /sim admin API.

AMS calls are answered with HTTP 200 and a ``result`` whatever the outcome, as the provider does,
and every answer is signed with the gateway's key (``client-id``, ``response-time`` and
``signature`` headers), failures included; only an ``error`` fault (faults.py) answers HTTP 500.
Bad input to the /sim admin API is answered HTTP 400 with an error saying what and where.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pos_sim.backend.clock import MAX_ADVANCE_S
from pos_sim.backend.faults import Faults, FaultSpec, trigger_amounts
from pos_sim.backend.notifications import Backoff, Notifier
from pos_sim.backend.merchants import MerchantExists, Merchants
from pos_sim.backend.payments import Payments
from pos_sim.backend.protocol import Refused, now, result, timestamp
from pos_sim.backend.store import Store
from pos_sim.backend.transit import Transit, routes as transit_routes
from pos_sim.backend.wallets import Wallets
from pos_sim.domain import ams_signature
from pos_sim.domain.errors import AmountError, DomainError
from pos_sim.domain.fx import RateTable

AMS_PREFIXES = ("/ams/api/v1/payments/", "/ams/sandbox/api/v1/payments/")


@dataclass(frozen=True)
class Answer:
    """The answer to one AMS call, and how long to hold it before sending (a timeout fault)."""

    body: bytes
    headers: dict[str, str]
    status: int = 200
    hold_s: float = 0.0


@dataclass
class Gateway:
    """What answers AMS calls: the store, the gateway's private key, and the services."""

    store: Store
    private_key: Any
    admin_token: str | None = None
    key_dir: Path | None = None  # where merchants added without a public key get their key pair
    notify_backoff: Backoff = Backoff()  # when unacknowledged payment result notifications are sent again

    def __post_init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self.notifier = Notifier(self.store, self.private_key, self.notify_backoff)  # started by server.start()
        self.payments = Payments(self.store, notify=self.notifier.wake)
        self.transit = Transit.of(self.store, self.key_dir)
        self.wallets = Wallets(self.store, self.transit)
        self.merchants = Merchants(self.store, self.key_dir)
        self.faults = Faults()

    def answer(self, path: str, client_id: str | None, request_time: str | None, signature: str | None, body: bytes) -> Answer:
        """The signed answer to one AMS call, or the one an armed fault or trigger amount makes of it."""
        client = client_id or ""
        fault = None
        try:
            call, parsed = self._request(path, client, request_time, signature, body)
            fault = self.faults.take(call, parsed)
            if fault is not None and fault.action == "error":
                error = {"error": {"code": "SIMULATED_ERROR", "message": f"fault {fault.id}: the gateway failed, nothing was done"}}
                return Answer(json.dumps(error).encode(), {}, status=500)
            response = self.payments.call(client, call, parsed, fault)
        except Refused as refused:
            response = {"result": result(refused.code, refused.detail)}
        data = json.dumps(response, ensure_ascii=False).encode("utf-8")
        response_time = timestamp(now())
        signed = ams_signature.sign(self.private_key, "POST", path, client, response_time, data)
        headers = {
            "client-id": client,
            "response-time": response_time,
            "signature": ams_signature.signature_header(signed),
        }
        hold_s = fault.delay_ms / 1000 if fault is not None and fault.action == "timeout" else 0.0
        return Answer(data, headers, hold_s=hold_s)

    def _merchant_key(self, client_id: str) -> Any:
        """The public key a merchant's requests are verified with, read once a merchant."""
        if client_id not in self._keys:
            with self.store.begin() as tx:
                merchant = tx.merchant(client_id)
            if merchant is None:
                raise Refused("INVALID_CLIENT", f"no merchant {client_id}")
            if not merchant.public_key:
                raise Refused("KEY_NOT_FOUND", f"no public key for {client_id}")
            try:
                self._keys[client_id] = ams_signature.load_public_key(merchant.public_key)
            except DomainError as exc:
                raise Refused("KEY_NOT_FOUND", f"the public key of {client_id} does not load: {exc}") from None
        return self._keys[client_id]

    def _request(self, path: str, client_id: str, request_time: str | None, signature: str | None, body: bytes) -> tuple[str, dict[str, Any]]:
        """The call named by ``path`` and its body, once the merchant and its signature are verified."""
        call = next((path[len(p):] for p in AMS_PREFIXES if path.startswith(p)), "")
        self.verify_request("POST", path, client_id, request_time, signature, body)
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused("PARAM_ILLEGAL", "the body is not JSON") from None
        if not isinstance(parsed, dict):
            raise Refused("PARAM_ILLEGAL", "the body must be a JSON object")
        return call, parsed

    def verify_request(self, method: str, path: str, client_id: str, request_time: str | None, signature: str | None,
                       body: bytes) -> None:
        """Refused unless the merchant ``client_id`` signed this request (AMS calls, and transit.py's signed calls)."""
        if not client_id:
            raise Refused("INVALID_CLIENT", "the client-id header is missing")
        key = self._merchant_key(client_id)
        if not request_time or not signature:
            raise Refused("INVALID_SIGNATURE", "the request-time and signature headers are required")
        try:
            _algorithm, _version, value = ams_signature.parse_signature_header(signature)
            good = ams_signature.verify(key, method, path, client_id, request_time, body, value)
        except DomainError as exc:
            raise Refused("INVALID_SIGNATURE", str(exc)) from None
        if not good:
            raise Refused("INVALID_SIGNATURE", "the signature does not match the request")


class NewWallet(BaseModel):
    currency: str = Field(examples=["SGD"], description="ISO 4217 code of the wallet's money")
    balance: int = Field(ge=0, examples=[10000], description="opening balance in minor units")
    name: str = Field(default="", max_length=64)


class Scan(BaseModel):
    codeValue: str = Field(max_length=512, description="the merchant's order or entry code, as scanned")
    confirmMs: int = Field(default=0, ge=0, le=600_000, description="how long the customer takes to confirm; "
                           "the payment stays PROCESSING meanwhile")


class NewMerchant(BaseModel):
    clientId: str = Field(examples=["SHOP_TH_01"], description="1 to 64 letters, digits, '_' or '-'")
    name: str = Field(min_length=1, max_length=128)
    settlementCurrency: str = Field(examples=["THB"], description="ISO 4217 code the merchant is settled in")
    publicKey: str | None = Field(default=None, description="RSA public key (PEM or bare base64); "
                                  "omitted: a key pair is made in the data dir and the private key answered")


class ClockMove(BaseModel):
    advanceSeconds: int = Field(ge=1, le=MAX_ADVANCE_S, examples=[120],
                                description="how far to move the simulator's clock on; it never goes back")


class RateTableIn(BaseModel):
    base: str = Field(examples=["USD"])
    rates: dict[str, str | int] = Field(examples=[{"USD": "1", "SGD": "1.34", "THB": "35.80"}],
                                        description="major units of each currency one base unit buys, as text")


def _loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _problem(error: dict[str, Any]) -> tuple[str, str]:
    """Where a validation error is (``body.count``) and what it is, in words."""
    if error["type"] == "json_invalid":
        return "body", f"not JSON: {error['ctx']['error']} at character {error['loc'][-1]}"
    return ".".join(map(str, error["loc"])), error["msg"].removeprefix("Value error, ")


async def _in_the_loop(answer: Callable[..., Answer], *args: Any) -> Answer:
    return answer(*args)


class Edge:
    """The server's front door, a plain ASGI app: AMS calls are answered here, the rest by the admin API.

    An AMS call skips FastAPI's middleware, routing and request objects (about 0.05 ms of CPU a
    call). ``Gateway.answer`` runs where the database makes it fastest. On SQLite
    (``Store.one_writer``) it runs in the event loop itself: the store runs one transaction at a
    time there anyway, so a worker thread would add only its hand-offs (about 0.14 ms of CPU a
    call, and the GIL passed back and forth while the store's lock is held; the figures are in
    docs/benchmarks.md). What then waits in the loop is the commit's fsync, and the lock while
    another thread's transaction holds it. On PostgreSQL it runs in a worker thread, so a call
    waiting on a row lock or on the network holds up no other.

    A /sim/ request reaches the admin API only from loopback, or with the admin token when the
    gateway has one.
    """

    def __init__(self, admin: ASGIApp, gateway: Gateway) -> None:
        self.admin = admin
        self.gateway = gateway
        self._run = _in_the_loop if gateway.store.one_writer else run_in_threadpool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(AMS_PREFIXES):
            await self._ams(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith("/sim/"):
            request = Request(scope)
            token = self.gateway.admin_token
            allowed = request.headers.get("authorization") == f"Bearer {token}" if token else _loopback(request)
            if not allowed:
                denied = {"error": {"code": "ACCESS_DENIED", "message": "the admin API answers on loopback, or with its token"}}
                await JSONResponse(denied, 403)(scope, receive, send)
                return
        await self.admin(scope, receive, send)

    async def _ams(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await JSONResponse({"detail": "Method Not Allowed"}, 405, {"allow": "POST"})(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending the whole request: nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:  # names come lowercase; the first of a repeated header counts
            if name in (b"client-id", b"request-time", b"signature") and name not in found:
                found[name] = value.decode("latin-1")
        answer = await self._run(self.gateway.answer, scope["path"], found.get(b"client-id"), found.get(b"request-time"),
                                 found.get(b"signature"), b"".join(chunks))
        if answer.hold_s:  # a timeout fault: held, or less if the client hangs up (its body read, all that comes next)
            with anyio.move_on_after(answer.hold_s):
                await receive()
        headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"content-length", str(len(answer.body)).encode())]
        headers += [(name.encode(), value.encode("latin-1")) for name, value in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def create_app(gateway: Gateway) -> Edge:
    """The ASGI app of the simulated provider: AMS calls, and the /sim admin API."""
    app = FastAPI(title="pos-sim wallet simulator", openapi_url="/sim/openapi.json", docs_url=None, redoc_url=None)

    @app.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        status = 404 if exc.code in ("USER_NOT_EXIST", "ORDER_NOT_EXIST") else 409 if isinstance(exc, MerchantExists) else 400
        return JSONResponse({"error": {"code": exc.code, "message": exc.detail or result(exc.code)["resultMessage"]}}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(error) for error in exc.errors()]
        message = "; ".join(f"{where}: {what}" for where, what in problems)
        return JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": message, "where": [where for where, _ in problems]}}, 400)

    @app.post("/sim/wallets", summary="Open a funded wallet")
    def open_wallet(wallet: NewWallet) -> dict[str, Any]:
        return gateway.wallets.open(wallet.currency, wallet.balance, wallet.name)

    @app.get("/sim/wallets/{wallet_id}", summary="A wallet's balance and history")
    def show_wallet(wallet_id: str) -> dict[str, Any]:
        return gateway.wallets.show(wallet_id)

    @app.post("/sim/wallets/{wallet_id}/payment-code", summary="A one-time payment code, valid about a minute")
    def payment_code(wallet_id: str) -> dict[str, Any]:
        return gateway.wallets.payment_code(wallet_id)

    @app.post("/sim/wallets/{wallet_id}/device-token", status_code=201,
              summary="Provision a phone wallet device token bound to the wallet (PAN, expiry, key)")
    def device_token(wallet_id: str) -> dict[str, Any]:
        return gateway.payments.tokens.provision(wallet_id)

    @app.post("/sim/device-tokens/{token_id}/tap",
              summary="Tap the phone: the token's next presentation, CPM text to pay with as a payment code")
    def tap_device_token(token_id: str) -> dict[str, Any]:
        return gateway.payments.tokens.tap(token_id)

    @app.get("/sim/payments/{payment_id}/notifications", summary="A payment's result notifications and their delivery")
    def payment_notifications(payment_id: str) -> dict[str, Any]:
        return gateway.notifier.show(payment_id)

    @app.post("/sim/faults", status_code=201, summary="Arm a fault: the next matching AMS calls fail as asked")
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        return gateway.faults.add(spec)

    @app.get("/sim/faults", summary="The armed faults, and the trigger amounts that need none")
    def list_faults() -> dict[str, Any]:
        return {"faults": gateway.faults.list(), "triggerAmounts": trigger_amounts()}

    @app.delete("/sim/faults", summary="Disarm every fault")
    def clear_faults() -> dict[str, Any]:
        return {"cleared": gateway.faults.clear()}

    @app.post("/sim/wallets/{wallet_id}/scan", summary="The wallet scans a merchant's order or entry code and pays it")
    def scan(wallet_id: str, request: Scan) -> dict[str, Any]:
        return gateway.payments.scan(wallet_id, request.codeValue, request.confirmMs)

    @app.post("/sim/merchants", status_code=201, summary="Add a merchant (an AMS client id and its key)")
    def add_merchant(merchant: NewMerchant) -> dict[str, Any]:
        return gateway.merchants.add(merchant.clientId, merchant.name, merchant.settlementCurrency, merchant.publicKey)

    @app.get("/sim/merchants", summary="Every merchant")
    def list_merchants() -> dict[str, Any]:
        return {"merchants": gateway.merchants.list()}

    @app.get("/sim/merchants/{client_id}/entry-code", summary="The static entry code of a merchant's store")
    def merchant_entry_code(client_id: str, storeId: str | None = Query(default=None, max_length=64)) -> dict[str, Any]:
        return gateway.merchants.entry_code(client_id, storeId)

    @app.get("/sim/fx-rates", summary="The exchange rates cross-border payments are quoted at")
    def fx_rates() -> dict[str, Any]:
        return gateway.payments.rates.as_json()

    @app.put("/sim/fx-rates", summary="Replace the exchange rates (until the backend restarts)")
    def set_fx_rates(table: RateTableIn) -> dict[str, Any]:
        try:
            gateway.payments.rates = RateTable(table.base, table.rates)
        except AmountError as exc:
            raise Refused("PARAM_ILLEGAL", f"rates: {exc}") from None
        return gateway.payments.rates.as_json()

    def clock_json() -> dict[str, Any]:
        return {"now": timestamp(gateway.store.clock.now()), "offsetSeconds": gateway.store.clock.offset_s}

    @app.get("/sim/clock", summary="The simulator's time, and how far it has been moved on")
    def show_clock() -> dict[str, Any]:
        return clock_json()

    @app.post("/sim/clock", summary="Move the simulator's clock on: payment codes, order codes and device tokens expire")
    def advance_clock(move: ClockMove) -> dict[str, Any]:
        gateway.store.clock.advance(move.advanceSeconds)
        return clock_json()

    app.include_router(transit_routes(gateway))
    return Edge(app, gateway)
