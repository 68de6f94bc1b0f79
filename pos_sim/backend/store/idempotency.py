"""Idempotency records: the answer to each call under its idempotency key, so a call sent again is answered
as it was first, the money moved once."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from pos_sim.backend.store.ledger import Ledger
from pos_sim.backend.store.statements import Statement
from pos_sim.backend.store.tables import requests

_REMEMBERED = Statement(select(requests.c.request_hash, requests.c.response_json).where(
    requests.c.client_id == bindparam("client_id"), requests.c.call == bindparam("call"), requests.c.key == bindparam("key")
))


class Idempotency(Ledger):
    """A transaction's idempotency records (a part of the store's ``Tx``)."""

    def remembered(self, client_id: str, call: str, key: str) -> tuple[str, str] | None:
        """The (request hash, response JSON) recorded for this call and idempotency key, or None."""
        row = _REMEMBERED.first(self._driver, {"client_id": client_id, "call": call, "key": key})
        return None if row is None else (row[0], row[1])

    def remember(self, client_id: str, call: str, key: str, request_hash: str, response_json: str) -> None:
        """Record the answer to a call under its idempotency key; Duplicate if one is recorded already."""
        row = {"client_id": client_id, "call": call, "key": key, "request_hash": request_hash,
               "response_json": response_json, "created_at": self._now()}
        self._insert(requests, row, f"{call} {key} of {client_id}")
