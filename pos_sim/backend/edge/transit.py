"""The transit routes (docs/transit-api.md): the gates' signed calls (/transit), answered as AMS calls are, and
their admin API (/sim); what they do is pos_sim/backend/services/transit.py's."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path as FastApiPath, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from pos_sim.backend.edge.bodies import DenyIn, RideCodeIn, RotationIn, TopUpIn
from pos_sim.backend.protocol import Refused, json_object, result, stamp
from pos_sim.backend.services.gateway import Gateway
from pos_sim.backend.services.transit import Transit
from pos_sim.domain import ams_signature
from pos_sim.domain.codes import ride


def routes(gateway: Gateway) -> APIRouter:
    """The transit routes: the signed calls of the gates, and their /sim admin API."""
    router = APIRouter()
    transit: Transit = gateway.transit

    async def signed(request: Request, answer: Any) -> Response:
        """A /transit/ call, verified as an AMS call is (``Gateway.verify_request``), answered signed; a
        refusal is answered HTTP 200 with its ``result``, as AMS answers."""
        method, path = request.method, request.scope["path"]
        headers = request.headers
        client = headers.get("client-id") or ""
        body = await request.body()  # at most MAX_BODY_BYTES: the edge (app.py) refuses a longer one

        def work() -> bytes:
            try:
                gateway.verify_request(method, path, client, headers.get("request-time"), headers.get("signature"), body)
                return answer(client, body)
            except Refused as refused:
                return json.dumps({"result": result(refused.code, refused.detail)}).encode()

        data = await run_in_threadpool(work)
        response_time = stamp()
        signature = ams_signature.sign(gateway.private_key, method, path, client, response_time, data)
        return Response(data, 200, {"client-id": client, "response-time": response_time,
                                    "signature": ams_signature.signature_header(signature)},
                        media_type="application/json; charset=UTF-8")

    @router.get("/transit/keyring", summary="The issuer key ring gates cache (signed call)")
    async def keyring(request: Request) -> Response:
        return await signed(request, lambda _client, _body: transit.keyring().to_json().encode())

    @router.post("/transit/taps", summary="A gate uploads a batch of taps (signed call)")
    async def taps(request: Request) -> Response:
        def store(client: str, body: bytes) -> bytes:
            return json.dumps(transit.upload(client, json_object(body))).encode()

        return await signed(request, store)

    @router.post("/sim/wallets/{wallet_id}/ride-code", status_code=201,
                 summary="A ride code for the wallet, signed by the issuer's current key, valid 60 s")
    def ride_code(wallet_id: str, order: RideCodeIn | None = None) -> dict[str, Any]:
        return transit.ride_code(wallet_id, (order or RideCodeIn()).companions)

    @router.post("/sim/wallets/{wallet_id}/top-up", summary="Add money to a wallet (from the funding account)")
    def top_up(wallet_id: str, top_up: TopUpIn) -> dict[str, Any]:
        return gateway.wallets.top_up(wallet_id, top_up.amount)

    @router.get("/sim/transit/keys", summary="The issuer keys (public halves)")
    def list_keys() -> dict[str, Any]:
        return transit.keys()

    @router.post("/sim/transit/keys", status_code=201, summary="Rotate: a new issuer key, valid from now")
    def rotate(rotation: RotationIn | None = None) -> dict[str, Any]:
        return transit.rotate((rotation or RotationIn()).overlapSeconds)

    @router.post("/sim/transit/keys/{key_id}/revoke", summary="Revoke an issuer key")
    def revoke(key_id: int = FastApiPath(ge=0, le=ride.MAX_KEY_ID, description="an issuer key's id, 0-65535")) -> Any:
        done = transit.revoke(key_id)
        if done is None:
            return JSONResponse({"error": {"code": "PARAM_ILLEGAL", "message": f"no issuer key {key_id}"}}, 404)
        return done

    @router.post("/sim/transit/deny", summary="Put an account on the deny list")
    def deny(entry: DenyIn) -> dict[str, Any]:
        return transit.deny(entry.account)

    @router.delete("/sim/transit/deny/{account}", summary="Take an account off the deny list (not for an unpaid fare)")
    def allow(account: str) -> dict[str, Any]:
        return transit.allow(account)

    @router.post("/sim/transit/clear", summary="Clear now: uploaded taps -> journeys -> fares -> charges")
    def clear() -> dict[str, Any]:
        return transit.clear()

    return router
