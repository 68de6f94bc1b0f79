"""The simulator's admin API (``/sim``) as a scenario uses it: the customer's side and the test bench.

Plain HTTP with ``requests``, as the terminal reaches the gateway: wallets opened and their
balances read, one-time payment codes, phone wallet taps, merchant codes scanned by a wallet,
faults armed and cleared, the clock moved on. The backend is never imported. Anything but a 2xx
answer is a ``SimulatorError`` saying which call, and what the simulator said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from pos_sim.domain.money import Money


class SimulatorError(Exception):
    """An admin call the simulator refused or did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class WalletCode:
    """A wallet's one-time payment code and the (real) time it expires."""

    code: str
    expires_at: datetime


class Simulator:
    """The ``/sim`` admin API of the simulator at ``url`` (loopback; ``admin_token`` beyond it)."""

    def __init__(self, url: str, *, admin_token: str | None = None, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies from the environment: the simulator is where we were told
        if admin_token:
            self._session.headers["Authorization"] = f"Bearer {admin_token}"
        self._tokens: dict[str, str] = {}   # wallet id -> its phone's device token id

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._session.request(method, self.url + path, timeout=self.timeout_s, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise SimulatorError(f"{method} {path}: no answer from the simulator at {self.url} ({type(exc).__name__})") from None
        if not 200 <= answer.status_code < 300:
            try:
                error = answer.json().get("error") or {}
                said = f"{error.get('code')}: {error.get('message')}" if error else answer.json().get("detail")
            except (ValueError, AttributeError):
                said = answer.text[:200]
            raise SimulatorError(f"{method} {path}: HTTP {answer.status_code} {said}", answer.status_code)
        try:
            return answer.json()
        except ValueError:
            raise SimulatorError(f"{method} {path}: the answer is not JSON") from None

    # --- the customer's wallet ---

    def open_wallet(self, balance: Money, name: str = "") -> str:
        """A new wallet holding ``balance``; its id."""
        said = self._call("POST", "/sim/wallets", json={"currency": balance.currency.code, "balance": balance.minor, "name": name})
        return said["walletId"]

    def balance(self, wallet_id: str) -> Money:
        said = self.wallet(wallet_id)
        return Money.of_minor(said["balance"], said["currency"])

    def wallet(self, wallet_id: str) -> dict[str, Any]:
        """The wallet as the simulator shows it: name, currency, balance (minor units) and history, newest first."""
        return self._call("GET", f"/sim/wallets/{quote(wallet_id, safe='')}")

    def payment_code(self, wallet_id: str) -> WalletCode:
        """A fresh one-time payment code of the wallet, as its app shows it, and when it goes stale."""
        said = self._call("POST", f"/sim/wallets/{quote(wallet_id, safe='')}/payment-code")
        try:
            return WalletCode(said["code"], datetime.fromisoformat(said["expiresAt"]))
        except (KeyError, TypeError, ValueError):
            raise SimulatorError(f"the payment code answer {said!r} lacks a code or an ISO 8601 expiresAt") from None

    def ride_code(self, wallet_id: str, companions: int = 0) -> WalletCode:
        """A fresh transit ride code of the wallet (``RC1:...``, signed by the issuer), as its app shows it at a gate."""
        said = self._call("POST", f"/sim/wallets/{quote(wallet_id, safe='')}/ride-code", json={"companions": companions})
        try:
            return WalletCode(said["code"], datetime.fromisoformat(said["expiresAt"]))
        except (KeyError, TypeError, ValueError):
            raise SimulatorError(f"the ride code answer {said!r} lacks a code or an ISO 8601 expiresAt") from None

    def tap(self, wallet_id: str) -> str:
        """The wallet's phone tapped on the reader: the CPM payload it presents (a token provisioned on first tap)."""
        if wallet_id not in self._tokens:
            token = self._call("POST", f"/sim/wallets/{quote(wallet_id, safe='')}/device-token")
            self._tokens[wallet_id] = token["tokenId"]
        return self._call("POST", f"/sim/device-tokens/{quote(self._tokens[wallet_id], safe='')}/tap")["payload"]

    def scan_merchant_code(self, wallet_id: str, code_value: str, confirm_ms: int = 0) -> dict[str, Any]:
        """The wallet scans a merchant's order or entry code and pays it (after ``confirm_ms``)."""
        return self._call("POST", f"/sim/wallets/{quote(wallet_id, safe='')}/scan",
                          json={"codeValue": code_value, "confirmMs": confirm_ms})

    def entry_code(self, client_id: str, store_id: str | None) -> str:
        """The static entry code printed at the till of a merchant's store."""
        params = {"storeId": store_id} if store_id else {}
        return self._call("GET", f"/sim/merchants/{quote(client_id, safe='')}/entry-code", params=params)["codeValue"]

    # --- the test bench ---

    def arm_fault(self, call: str, action: str, *, result_code: str | None = None, count: int = 1,
                  delay_ms: int | None = None, match: dict[str, str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"call": call, "action": action, "count": count, "match": match or {}}
        if result_code is not None:
            body["resultCode"] = result_code
        if delay_ms is not None:
            body["delayMs"] = delay_ms
        return self._call("POST", "/sim/faults", json=body)

    def clear_faults(self) -> int:
        return self._call("DELETE", "/sim/faults")["cleared"]

    def advance_clock(self, seconds: int) -> dict[str, Any]:
        """Move the simulator's clock on; SimulatorError (status 404) from a backend that has no clock to move."""
        return self._call("POST", "/sim/clock", json={"advanceSeconds": seconds})
