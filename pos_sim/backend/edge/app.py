"""The HTTP edge of the simulated provider: AMS calls (signed both ways) and the /sim admin API.

AMS calls are answered with HTTP 200 and a ``result`` whatever the outcome, as the provider does,
and every answer is signed with the gateway's key (``client-id``, ``response-time`` and
``signature`` headers), failures included; only an ``error`` fault (services/faults.py) answers HTTP 500.
Bad input to the /sim admin API is answered HTTP 400 with an error saying what and where.

Bad input, and what answers it (nothing is written for any of these):

- A body over the limit (``AMS_MAX_BODY`` 64 KiB for AMS calls, ``ADMIN_MAX_BODY`` 64 KiB for /sim,
  ``transit.MAX_BODY_BYTES`` for /transit), by its Content-Length before a byte is read, or counted as a
  chunked body streams in: an AMS or /transit call is answered signed, HTTP 200, ``PARAM_ILLEGAL``
  saying the limit (a client takes any other status for a transport failure and chases an outcome
  it could know), anything else HTTP 413 ``{"error": {"code": "PARAM_ILLEGAL", "message"}}``.
- A signed call (AMS, and the /transit calls of edge/transit.py) is checked by ``Gateway.verify_request``: the
  merchant, then the signature over the exact bytes received, then the ``Request-Time``: more than
  ``protocol.REQUEST_TIME_WINDOW_S`` (5 minutes) from the real time either way, or not a time, is
  ``INVALID_SIGNATURE`` saying how far off it is. The signature is checked first, so a forged request
  learns only that its signature does not match. A request sent again within the window is answered
  by the calls' idempotency (the same answer; the money moved once).
- AMS bodies are read as JSON whatever the Content-Type says (the signature covers the body, not
  the header): not JSON (NaN included), not a JSON object, or nested deeper than
  ``protocol.MAX_JSON_DEPTH``, is ``PARAM_ILLEGAL``. Unknown members are ignored, as the provider
  ignores them (the official SDK sends members the simulator has no use for); /transit taps are
  stricter (services/transit.py refuses an unknown member, so that a misspelt one is never lost).
- /sim bodies must be JSON sent as such: a body with another Content-Type (text/plain, a form) is
  HTTP 415 ``PARAM_ILLEGAL``; the admin API's models refuse a member they do not know (HTTP 400
  naming it and the members the body takes). FastAPI's own refusals (no such route: 404
  ``NO_INTERFACE_DEF``; JSON too deep to parse: 400) take the same ``{"error"}`` shape, and the
  OpenAPI document declares each error status in place of FastAPI's 422, which is never answered.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Sequence
from typing import Any, get_args

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pos_sim.backend.edge.bodies import ClockMove, NewMerchant, NewWallet, RateTableIn, Scan
from pos_sim.backend.edge.transit import routes as transit_routes
from pos_sim.backend.protocol import RESULTS, Refused, result, timestamp
from pos_sim.backend.services.faults import FaultSpec, trigger_amounts
from pos_sim.backend.services.gateway import AMS_PREFIXES, Answer, Gateway
from pos_sim.backend.services.merchants import MerchantExists
from pos_sim.backend.services.transit import MAX_BODY_BYTES as TRANSIT_MAX_BODY
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.errors import StoreError
from pos_sim.domain.errors import AmountError
from pos_sim.domain.fx import RateTable

AMS_MAX_BODY = 64 * 1024
"""The longest AMS request body taken: a pay is 1-2 KB (the official SDK's, indented); this leaves room for
an order of a couple of hundred goods lines."""
ADMIN_MAX_BODY = 64 * 1024
"""The longest /sim request body taken: the largest, a full rate table or an RSA-8192 public key, is a few KB."""
GROUP_TURNS = 8
"""The most turns of the event loop a group of AMS calls waits for more calls to join it before it is committed."""


def _loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _problem(error: dict[str, Any], members: Sequence[str] = ()) -> tuple[str, str]:
    """Where a validation error is (``body.count``) and what it is, in words; ``members``: what the body takes."""
    kind, loc = error["type"], tuple(error["loc"])
    where = ".".join(map(str, loc))
    if kind == "json_invalid":
        return "body", f"not JSON: {error['ctx']['error']} at character {loc[-1]}"
    if kind == "extra_forbidden":
        takes = f" (the body takes {', '.join(members)})" if members and len(loc) == 2 else ""
        return where, f"unknown member {loc[-1]!r}{takes}"
    if loc == ("body",) and kind in ("model_attributes_type", "model_type", "dict_type"):
        return where, f"must be a JSON object, not {_json_kind(error.get('input'))}"
    if loc == ("body",) and kind == "missing":
        return where, "a JSON object is required"
    return where, error["msg"].removeprefix("Value error, ")


def _json_kind(value: object) -> str:
    kinds = {bool: "true or false", int: "a number", float: "a number", str: "a string", list: "an array"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _body_members(request: Request) -> list[str]:
    """The members of the body model of the route a request reached, if it takes one."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    for model in (annotation, *get_args(annotation)):
        if isinstance(model, type) and issubclass(model, BaseModel):
            return list(model.model_fields)
    return []


def _size(limit: int) -> str:
    return f"{limit // 1048576} MiB" if limit % 1048576 == 0 else f"{limit // 1024} KiB"


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON: application/json, or application/...+json, any parameters."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _holds_nul(body: bytes) -> bool:
    """Whether a JSON body holds a NUL character in a string (which PostgreSQL cannot keep, and no field takes)."""
    if b"\\u0000" not in body:
        return False
    try:
        pending = [json.loads(body)]
    except (ValueError, RecursionError):
        return False  # not JSON: refused as such by the admin API
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            pending += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            pending += value
    return False


class _TooLong(Exception):
    """A request body over the limit: by its Content-Length, or counted as it streamed in."""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body of a request, at most ``limit`` bytes (else ``_TooLong``, the rest unread); None if the
    client left before sending it all."""
    declared = next((value for name, value in scope["headers"] if name == b"content-length"), b"")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLong
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLong
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _settle(done: asyncio.Future[None], failed: StoreError | None) -> None:
    if done.cancelled():
        return
    if failed is None:
        done.set_result(None)
    else:
        done.set_exception(failed)


class Edge:
    """The server's front door, a plain ASGI app: AMS calls are answered here, the rest by the admin API.

    An AMS call skips FastAPI's middleware, routing and request objects (about 0.05 ms of CPU a
    call). ``Gateway.answer`` runs where the database makes it fastest. On SQLite
    (``Store.one_writer``) it runs in the event loop itself: the store runs one transaction at a
    time there anyway, so a worker thread would add only its hand-offs (about 0.14 ms of CPU a
    call, and the GIL passed back and forth while the store's lock is held; the figures are in
    docs/benchmarks.md). Its transactions there join one group (``Store.grouping``): the calls read
    meanwhile are answered, then committed together, one fsync for all, and only then is any of them
    sent (``_committed``); what waits in the loop is that commit, and the lock while another
    thread's transaction holds it. On PostgreSQL it runs in a worker thread, so a call waiting on a
    row lock or on the network holds up no other.

    A /sim/ request reaches the admin API only from loopback, or with the admin token when the
    gateway has one. Every request's body is read here first, up to its limit (see the module's
    docstring), and handed on whole.
    """

    def __init__(self, admin: ASGIApp, gateway: Gateway) -> None:
        self.admin = admin
        self.gateway = gateway
        self._committing = False  # a commit of the open group is coming (_commit_when_read)

    async def _committed(self) -> None:
        """Once the transactions of the store's open group are committed (``Store.grouping``); a StoreError if
        they were undone."""
        store = self.gateway.store
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle(failed: StoreError | None) -> None:
            if not loop.is_closed():  # else the server stopped: no one is left to answer
                loop.call_soon_threadsafe(_settle, done, failed)

        if store.on_commit(settle):
            if not self._committing:
                self._committing = True
                loop.call_soon(self._commit_when_read, loop, 0, 0)
            await done

    def _commit_when_read(self, loop: asyncio.AbstractEventLoop, joined: int, turns: int) -> None:
        """Commit the open group once a turn of the loop added no call to it (the calls already received have
        joined it), or after ``GROUP_TURNS`` turns: one fsync for all of them."""
        store = self.gateway.store
        now_joined = store.joined()
        if now_joined and now_joined != joined and turns < GROUP_TURNS:
            loop.call_soon(self._commit_when_read, loop, now_joined, turns + 1)
            return
        self._committing = False
        store.commit_group()

    async def _answer(self, *args: Any) -> Answer:
        """``Gateway.answer``, where the store runs it fastest (see the class's docstring)."""
        store = self.gateway.store
        if not store.one_writer:
            return await run_in_threadpool(self.gateway.answer, *args)
        try:
            with store.grouping():
                return self.gateway.answer(*args)
        finally:  # a call that failed may have done some of its work in the group (a fault spent)
            await self._committed()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.admin(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(AMS_PREFIXES):  # the controls are read by its first transaction (Faults.take)
            await self._ams(scope, receive, send)
            return
        if not self.gateway.store.one_writer:  # other worker processes may have moved the clock or the rates
            await run_in_threadpool(self.gateway.store.refresh)
        request = Request(scope)
        admin = path.startswith("/sim/")
        if admin:
            token = self.gateway.admin_token
            given = request.headers.get("authorization", "")
            allowed = hmac.compare_digest(given.encode(), f"Bearer {token}".encode()) if token else _loopback(request)
            if not allowed:
                denied = {"error": {"code": "ACCESS_DENIED", "message": "the admin API answers on loopback, or with its token"}}
                await JSONResponse(denied, 403)(scope, receive, send)
                return
        signed = path.startswith("/transit/")
        limit = TRANSIT_MAX_BODY if signed else ADMIN_MAX_BODY
        try:
            body = await _read_body(scope, receive, limit)
        except _TooLong:
            detail = f"the body is over {_size(limit)} ({limit} bytes), the most this call takes; nothing was done"
            if signed:
                client = request.headers.get("client-id") or ""
                refusal = await run_in_threadpool(self.gateway.refusal, scope["method"], path, client, "PARAM_ILLEGAL", detail)
                await _send(send, refusal)
            else:
                await JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": detail}}, 413)(scope, receive, send)
            return
        if body is None:
            return  # the client left before sending the whole request: nothing to answer
        if "\x00" in path or b"%00" in scope["query_string"] or (admin and _holds_nul(body)):
            message = "a NUL character (\\u0000) in the path, query or body: no name, id or text takes one; nothing was done"
            await JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": message}}, 400)(scope, receive, send)
            return
        if admin and body and not _is_json(request.headers.get("content-type")):
            said = request.headers.get("content-type")
            message = (f"the body must be JSON, sent with content-type: application/json "
                       f"({f'not {said}' if said else 'no content-type was sent'}); nothing was done")
            await JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": message}}, 415)(scope, receive, send)
            return
        await self.admin(scope, _replay(body, receive), send)

    async def _ams(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await JSONResponse({"detail": "Method Not Allowed"}, 405, {"allow": "POST"})(scope, receive, send)
            return
        found: dict[bytes, str] = {}
        for name, value in scope["headers"]:  # names come lowercase; the first of a repeated header counts
            if name in (b"client-id", b"request-time", b"signature") and name not in found:
                found[name] = value.decode("latin-1")
        try:
            body = await _read_body(scope, receive, AMS_MAX_BODY)
        except _TooLong:
            detail = (f"the body is over {_size(AMS_MAX_BODY)} ({AMS_MAX_BODY} bytes), the most an AMS request may carry;"
                      " nothing was done")
            await _send(send, self.gateway.refusal("POST", scope["path"], found.get(b"client-id") or "", "PARAM_ILLEGAL", detail))
            return
        if body is None:
            return  # the client left before sending the whole request: nothing to answer
        answer = await self._answer(scope["path"], found.get(b"client-id"), found.get(b"request-time"), found.get(b"signature"), body)
        if answer.hold_s:  # a timeout fault: held, or less if the client hangs up (its body read, all that comes next)
            with anyio.move_on_after(answer.hold_s):
                await receive()
        await _send(send, answer)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an app handed a body already read: the body whole, then what the client does next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return replay


async def _send(send: Send, answer: Answer) -> None:
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

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """FastAPI's own refusals in the admin API's error shape: no such route or method, a body it cannot parse."""
        if exc.status_code in (404, 405):
            code, message = "NO_INTERFACE_DEF", f"no call {request.method} {request.url.path} (see /sim/openapi.json)"
        elif exc.detail == "There was an error parsing the body":  # not a JSONDecodeError: nested too deep
            code, message = "PARAM_ILLEGAL", "body: the JSON could not be read (nested too deep?)"
        else:
            code, message = "PARAM_ILLEGAL", str(exc.detail)
        return JSONResponse({"error": {"code": code, "message": message}}, exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        members = _body_members(request)
        problems = [_problem(error, members) for error in exc.errors()]
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
    def add_merchant(merchant: NewMerchant, request: Request) -> dict[str, Any]:
        return gateway.merchants.add(merchant.clientId, merchant.name, merchant.settlementCurrency, merchant.publicKey,
                                     answer_private_key=_loopback(request))

    @app.get("/sim/merchants", summary="Every merchant")
    def list_merchants() -> dict[str, Any]:
        return {"merchants": gateway.merchants.list()}

    @app.get("/sim/merchants/{client_id}/entry-code", summary="The static entry code of a merchant's store")
    def merchant_entry_code(client_id: str, storeId: str | None = Query(default=None, max_length=64)) -> dict[str, Any]:
        return gateway.merchants.entry_code(client_id, storeId)

    @app.get("/sim/fx-rates", summary="The exchange rates cross-border payments are quoted at")
    def fx_rates() -> dict[str, Any]:
        return gateway.store.rates.as_json()

    @app.put("/sim/fx-rates", summary="Replace the exchange rates")
    def set_fx_rates(table: RateTableIn) -> dict[str, Any]:
        try:
            rates = RateTable(table.base, table.rates)
        except AmountError as exc:
            raise Refused("PARAM_ILLEGAL", f"rates: {exc}") from None
        gateway.store.set_rates(rates)
        return rates.as_json()

    def clock_json() -> dict[str, Any]:
        return {"now": timestamp(gateway.store.clock.now()), "offsetSeconds": gateway.store.clock.offset_s}

    @app.get("/sim/clock", summary="The simulator's time, and how far it has been moved on")
    def show_clock() -> dict[str, Any]:
        return clock_json()

    @app.post("/sim/clock", summary="Move the simulator's clock on: payment codes, order codes and device tokens expire")
    def advance_clock(move: ClockMove) -> dict[str, Any]:
        gateway.store.advance_clock(move.advanceSeconds)
        return clock_json()

    app.include_router(transit_routes(gateway))
    document = app.openapi
    app.openapi = lambda: _with_errors(document())  # type: ignore[method-assign]
    return Edge(app, gateway)


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": sorted(RESULTS), "description": "a result code of the AMS API"},
            "message": {"type": "string", "description": "what was wrong, and where, in words"},
            "where": {"type": "array", "items": {"type": "string"}, "description": "where each problem is, like body.balance"},
        },
    }},
}
_ERRORS = {
    "400": "Bad input: the message says what and where (PARAM_ILLEGAL), or the call was refused (its result code)",
    "403": "Not from loopback, and without the admin token (ACCESS_DENIED)",
    "413": f"The body is over {ADMIN_MAX_BODY // 1024} KiB (PARAM_ILLEGAL); nothing was done",
    "415": "The body is not sent as JSON (content-type: application/json) (PARAM_ILLEGAL); nothing was done",
}


def _with_errors(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the errors the admin API answers in place of FastAPI's 422 (never answered):
    400, 403, 413 and 415 on every /sim call, 404 on those naming a thing in their path, 409 on adding a merchant.
    The signed /transit calls answer 200 whatever happens, as AMS does. Changes ``document`` in place, once."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "Error" in schemas:
        return document
    schemas["Error"] = _ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if not path.startswith("/sim/"):
                continue
            statuses = dict(_ERRORS)
            if "{" in path:
                statuses["404"] = "No such wallet, device token, payment, merchant or key (USER_NOT_EXIST, ORDER_NOT_EXIST, ...)"
            if (path, method) == ("/sim/merchants", "post"):
                statuses["409"] = "The client id is taken"
            for status, description in statuses.items():
                responses.setdefault(status, {"description": description, "content": error})
    return document
