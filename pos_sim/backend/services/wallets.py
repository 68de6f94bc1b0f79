"""The customer's side of the simulated provider: wallets, their balances and one-time payment codes."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from pos_sim.backend.protocol import Refused, timestamp
from pos_sim.backend.store.database import Store
from pos_sim.backend.services.clearing import FARE_KINDS
from pos_sim.backend.services.transit import Transit
from pos_sim.domain.codes.wallet import make_alipay_plus_code
from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import currency

CODE_ISSUER = "251001"  # the Code Issuer Identifier of the simulated wallet's Alipay+ codes
CODE_LIFETIME = timedelta(seconds=60)


class Wallets:
    def __init__(self, store: Store, transit: Transit | None = None) -> None:
        self.store = store
        self.transit = transit  # shows a wallet's ride account, debts and deny list standing

    def open(self, currency_code: str, balance: int, name: str) -> dict[str, Any]:
        try:
            code = currency(currency_code).code
        except AmountError as exc:
            raise Refused("PARAM_ILLEGAL", str(exc)) from None
        if isinstance(balance, bool) or not isinstance(balance, int) or not 0 <= balance < 10**15:
            raise Refused("PARAM_ILLEGAL", "balance must be a whole number of minor units, 0 or more")
        with self.store.begin() as tx:
            wallet_id = tx.add_wallet(code, balance, name)
        return {"walletId": wallet_id}

    def show(self, wallet_id: str) -> dict[str, Any]:
        with self.store.begin() as tx:
            account = tx.account(wallet_id)
            if account is None or account.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            history = tx.history(wallet_id)
            journeys = self.transit.fare_lines(tx, history) if self.transit is not None else {}
            free = self.transit.free_fares(tx, wallet_id) if self.transit is not None else []
            transit = self.transit.wallet_summary(tx, wallet_id) if self.transit is not None else None
        posted = [(h.created_at, {"kind": h.kind, "ref": h.ref, "amount": h.amount, "memo": h.memo}
                   | ({"journeys": journeys.get(h.posting_id, [])} if h.kind in FARE_KINDS else {})) for h in history]
        lines = sorted([*posted, *free], key=lambda line: line[0], reverse=True)  # newest first, a posting before a free fare
        shown = {
            "walletId": account.id,
            "name": account.name,
            "currency": account.currency,
            "balance": account.balance,
            "history": [line | {"time": timestamp(at)} for at, line in lines],
        }
        return shown | ({"transit": transit} if transit is not None else {})

    def top_up(self, wallet_id: str, amount: int) -> dict[str, Any]:
        """Add ``amount`` minor units to a wallet, from the "funding:{CUR}" account."""
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount < 10**15:
            raise Refused("PARAM_ILLEGAL", "amount must be a whole number of minor units, more than 0")
        with self.store.begin() as tx:
            account = tx.account(wallet_id)
            if account is None or account.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            tx.post("fund", wallet_id, [(tx.system_account("funding", account.currency), -amount), (wallet_id, amount)],
                    memo="top-up")
            balance = tx.account(wallet_id).balance
        return {"walletId": wallet_id, "currency": account.currency, "balance": balance}

    def payment_code(self, wallet_id: str) -> dict[str, Any]:
        """A one-time Alipay+ payment code for the wallet, valid about a minute."""
        expires = self.store.clock.now() + CODE_LIFETIME
        with self.store.begin() as tx:
            account = tx.account(wallet_id)
            if account is None or account.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            code = make_alipay_plus_code(CODE_ISSUER, f"{secrets.randbelow(10**16):016d}")
            tx.add_code(code, wallet_id, expires)
        return {"code": code, "expiresAt": timestamp(self.store.clock.real(expires))}
