"""The HTTP edge of the simulated provider: AMS calls (signed both ways) and the /sim admin API.

AMS calls are answered with HTTP 200 and a ``result`` whatever the outcome, as the provider does,
and every answer is signed with the gateway's key (``client-id``, ``response-time`` and
``signature`` headers), failures included; only an ``error`` fault (faults.py) answers HTTP 500.
Bad input to the /sim admin API is answered HTTP 400 with an error saying what and where.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pos_sim.backend.faults import Faults, FaultSpec, trigger_amounts
from pos_sim.backend.payments import Payments
from pos_sim.backend.protocol import Refused, now, result, timestamp
from pos_sim.backend.store import Store
from pos_sim.backend.wallets import Wallets
from pos_sim.domain import ams_signature
from pos_sim.domain.errors import DomainError

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

    def __post_init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self.payments = Payments(self.store)
        self.wallets = Wallets(self.store)
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
        if not client_id:
            raise Refused("INVALID_CLIENT", "the client-id header is missing")
        key = self._merchant_key(client_id)
        if not request_time or not signature:
            raise Refused("INVALID_SIGNATURE", "the request-time and signature headers are required")
        try:
            _algorithm, _version, value = ams_signature.parse_signature_header(signature)
            good = ams_signature.verify(key, "POST", path, client_id, request_time, body, value)
        except DomainError as exc:
            raise Refused("INVALID_SIGNATURE", str(exc)) from None
        if not good:
            raise Refused("INVALID_SIGNATURE", "the signature does not match the request")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused("PARAM_ILLEGAL", "the body is not JSON") from None
        if not isinstance(parsed, dict):
            raise Refused("PARAM_ILLEGAL", "the body must be a JSON object")
        return call, parsed


class NewWallet(BaseModel):
    currency: str = Field(examples=["SGD"], description="ISO 4217 code of the wallet's money")
    balance: int = Field(ge=0, examples=[10000], description="opening balance in minor units")
    name: str = Field(default="", max_length=64)


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


async def _hold(request: Request, seconds: float) -> None:
    """Wait ``seconds`` before answering, or less if the client hangs up (its body read, all that comes next)."""
    with anyio.move_on_after(seconds):
        await request.receive()


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="pos-sim wallet simulator", openapi_url="/sim/openapi.json", docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def admin_guard(request: Request, call_next):
        if request.url.path.startswith("/sim/"):
            token = gateway.admin_token
            allowed = request.headers.get("authorization") == f"Bearer {token}" if token else _loopback(request)
            if not allowed:
                return JSONResponse({"error": {"code": "ACCESS_DENIED", "message": "the admin API answers on loopback, or with its token"}}, 403)
        return await call_next(request)

    @app.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        status = 404 if exc.code in ("USER_NOT_EXIST", "ORDER_NOT_EXIST") else 400
        return JSONResponse({"error": {"code": exc.code, "message": exc.detail or result(exc.code)["resultMessage"]}}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_problem(error) for error in exc.errors()]
        message = "; ".join(f"{where}: {what}" for where, what in problems)
        return JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": message, "where": [where for where, _ in problems]}}, 400)

    async def ams(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        answer = await run_in_threadpool(
            gateway.answer, request.url.path, headers.get("client-id"), headers.get("request-time"), headers.get("signature"), body
        )
        if answer.hold_s:
            await _hold(request, answer.hold_s)
        return Response(answer.body, answer.status, answer.headers, media_type="application/json; charset=UTF-8")

    for prefix in AMS_PREFIXES:
        app.add_api_route(prefix + "{call}", ams, methods=["POST"], include_in_schema=False)

    @app.post("/sim/wallets", summary="Open a funded wallet")
    def open_wallet(wallet: NewWallet) -> dict[str, Any]:
        return gateway.wallets.open(wallet.currency, wallet.balance, wallet.name)

    @app.get("/sim/wallets/{wallet_id}", summary="A wallet's balance and history")
    def show_wallet(wallet_id: str) -> dict[str, Any]:
        return gateway.wallets.show(wallet_id)

    @app.post("/sim/wallets/{wallet_id}/payment-code", summary="A one-time payment code, valid about a minute")
    def payment_code(wallet_id: str) -> dict[str, Any]:
        return gateway.wallets.payment_code(wallet_id)

    @app.post("/sim/faults", status_code=201, summary="Arm a fault: the next matching AMS calls fail as asked")
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        return gateway.faults.add(spec)

    @app.get("/sim/faults", summary="The armed faults, and the trigger amounts that need none")
    def list_faults() -> dict[str, Any]:
        return {"faults": gateway.faults.list(), "triggerAmounts": trigger_amounts()}

    @app.delete("/sim/faults", summary="Disarm every fault")
    def clear_faults() -> dict[str, Any]:
        return {"cleared": gateway.faults.clear()}

    return app
