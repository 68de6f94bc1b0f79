"""The merchants (AMS clients) of the simulated provider, added through the admin API.

A merchant is a client id, the public key its requests are verified with, and the currency it is
settled in by default. Given no public key, the simulator makes the merchant a key pair in its data
dir (``keys/{clientId}_private.pem``, 0600, and ``keys/{clientId}_public.pem``), as it does for the
demo merchant, so a terminal on this machine can sign with it (``--backend-data-dir``); the answer
holds the private key itself only for a caller on loopback (on this machine), never over the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pos_sim.backend.store import keys
from pos_sim.backend.services.payments import entry_code
from pos_sim.backend.protocol import Refused, timestamp
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.errors import Duplicate
from pos_sim.backend.store.records import Merchant
from pos_sim.domain.ams_signature import SignatureError, load_public_key
from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import currency

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MerchantExists(Refused):
    """A client id that is taken (HTTP 409 at the edge)."""

    def __init__(self, client_id: str) -> None:
        super().__init__("PARAM_ILLEGAL", f"clientId: a merchant {client_id} exists already")


def _json(merchant: Merchant) -> dict[str, Any]:
    return {"clientId": merchant.client_id, "name": merchant.name, "settlementCurrency": merchant.settlement_currency,
            "publicKey": merchant.public_key, "createdAt": timestamp(merchant.created_at)}


class Merchants:
    def __init__(self, store: Store, key_dir: Path | None) -> None:
        self.store = store
        self.key_dir = key_dir

    def add(self, client_id: str, name: str, settlement_currency: str, public_key: str | None, *,
            answer_private_key: bool = False) -> dict[str, Any]:
        """A new merchant; without ``public_key``, with a key pair made in the data dir: its file named in the
        answer, and the private key itself with ``answer_private_key`` (asked on loopback: edge/app.py)."""
        if not CLIENT_ID.fullmatch(client_id):
            raise Refused("PARAM_ILLEGAL", "clientId: 1 to 64 letters, digits, '_' or '-'")
        try:
            settle_in = currency(settlement_currency).code
        except AmountError as exc:
            raise Refused("PARAM_ILLEGAL", f"settlementCurrency: {exc}") from None
        made: dict[str, str] = {}
        if public_key is not None:
            try:
                load_public_key(public_key)
            except SignatureError as exc:
                raise Refused("PARAM_ILLEGAL", f"publicKey: {exc}") from None
        else:
            if self.key_dir is None:
                raise Refused("PARAM_ILLEGAL", "publicKey is required: this backend has no data dir to make a key pair in")
            with self.store.begin() as tx:
                if tx.merchant(client_id) is not None:
                    raise MerchantExists(client_id)
            private_path = self.key_dir / f"{client_id}_private.pem"
            public_path = self.key_dir / f"{client_id}_public.pem"
            try:
                keys.ensure_key_pair(private_path, public_path)  # a pair left by an earlier merchant store is kept
            except keys.KeyFileError as exc:
                raise Refused("PROCESS_FAIL", str(exc)) from None
            public_key = public_path.read_text()
            made = {"privateKeyFile": str(private_path)}
            if answer_private_key:
                made["privateKey"] = private_path.read_text()
        try:
            with self.store.begin() as tx:
                merchant = tx.add_merchant(client_id, name, public_key, settle_in)
        except Duplicate:
            raise MerchantExists(client_id) from None
        return _json(merchant) | made

    def entry_code(self, client_id: str, store_id: str | None) -> dict[str, Any]:
        """The static entry code of the merchant's store ``store_id`` (or of the merchant, without one)."""
        with self.store.begin() as tx:
            if tx.merchant(client_id) is None:
                raise Refused("USER_NOT_EXIST", f"no merchant {client_id}")
        return {"clientId": client_id, "storeId": store_id, "codeValue": entry_code(client_id, store_id)}

    def list(self) -> list[dict[str, Any]]:
        with self.store.begin() as tx:
            return [_json(merchant) for merchant in tx.merchants()]
