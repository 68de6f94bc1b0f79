"""What answers a signed call: the merchant and its signature verified, the call done by its service (or by
an armed fault), the answer signed with the gateway's key; and the services of one backend, made together."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pos_sim.backend.protocol import Refused, check_fresh, json_object, now, result, stamp
from pos_sim.backend.services.faults import Faults
from pos_sim.backend.services.merchants import Merchants
from pos_sim.backend.services.notifications import Backoff, Notifier
from pos_sim.backend.services.payments import Payments
from pos_sim.backend.services.transit import Transit
from pos_sim.backend.services.wallets import Wallets
from pos_sim.backend.store.database import Store
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
    key_dir: Path | None = None  # where merchants added without a public key get their key pair
    notify_backoff: Backoff = Backoff()  # when unacknowledged payment result notifications are sent again

    def __post_init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self.notifier = Notifier(self.store, self.private_key, self.notify_backoff)  # started by server.start()
        self.payments = Payments(self.store, notify=self.notifier.wake)
        self.transit = Transit.of(self.store, self.key_dir)
        self.wallets = Wallets(self.store, self.transit)
        self.merchants = Merchants(self.store, self.key_dir)
        self.faults = Faults(self.store)

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
        data = orjson.dumps(response)
        response_time = stamp()
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
        return call, json_object(body)

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
        check_fresh(request_time, now())  # the real time, not the simulator's clock: the peer signs by its own

    def refusal(self, method: str, path: str, client_id: str, code: str, detail: str) -> Answer:
        """A signed answer refusing a call before it is read (a body over the limit), as AMS answers a refusal."""
        data = json.dumps({"result": result(code, detail)}, ensure_ascii=False).encode("utf-8")
        response_time = stamp()
        signed = ams_signature.sign(self.private_key, method, path, client_id, response_time, data)
        return Answer(data, {"client-id": client_id, "response-time": response_time,
                             "signature": ams_signature.signature_header(signed)})
