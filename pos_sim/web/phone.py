"""The customer's phone as a page: a demo wallet's balance, its one-time payment code as a QR image,
its history, and its camera (or a picked photo) scanning the terminal's code.

A frame from the phone is read with the scanner's cascade (``pos_sim.scan``); what it reads is the
wallet's scan at the simulator (``/sim/wallets/{id}/scan``), which pays the payment waiting on that
order or entry code, or says why not. The simulator is reached over HTTP, through its admin API on
loopback: the phone never reaches the backend itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pos_sim.domain import codes
from pos_sim.domain.money import Money, format_money
from pos_sim.domain.fares import wording
from pos_sim.language import Phrase, in_language
from pos_sim.render import qr
from pos_sim.scan.cascade import Cascade
from pos_sim.scan.frames import image_bytes
from pos_sim.scenarios.simulator import Simulator, SimulatorError
from pos_sim.tui.app import Customer
from pos_sim.web.words import HISTORY

CUSTOMER_CODES = ("wallet-paycode", "emv-cpm")
"""What a wallet shows, not scans: the customer's own codes (on the terminal's wallet pane, say) are passed over."""

MOST_IMAGE_BYTES = 8 * 1024 * 1024
"""The largest frame or photo a phone may send (a 12-megapixel JPEG is about 4 MiB)."""


class UnknownWallet(Exception):
    """Not a demo wallet of this class."""


class Phone:
    """The demo wallets' phones, against ``simulator``; amounts written for ``locale``."""

    def __init__(self, simulator: Simulator, wallets: Sequence[Customer], locale: str) -> None:
        self.simulator = simulator
        self.wallets = tuple(wallets)
        self.locale = locale

    def wallet(self, wallet_id: str) -> Customer:
        for wallet in self.wallets:
            if wallet.wallet_id == wallet_id:
                return wallet
        raise UnknownWallet(f"no demo wallet {wallet_id!r} here: the phone page lists them")

    def show(self, wallet_id: str) -> dict[str, Any]:
        """The wallet's name, balance and history (newest first), amounts written out, each line's kind in the
        wallet's language; a fare line with the journeys it paid."""
        wallet = self.wallet(wallet_id)
        said = self.simulator.wallet(wallet.wallet_id)
        currency = said["currency"]
        history = [{"time": entry["time"], "what": self._what(entry, wallet.language), "ref": entry["ref"],
                    "amount": self._money(Money.of_minor(entry["amount"], currency)),
                    "journeys": [self._journey(line, wallet.language) for line in entry.get("journeys", [])]} for entry in said["history"]]
        return {"walletId": wallet_id, "name": said["name"], "balance": self._money(Money.of_minor(said["balance"], currency)),
                "history": history}

    @staticmethod
    def _what(entry: dict[str, Any], lang: str) -> str:
        """What a history line was (a payment, a refund, money added), as the customer reads it."""
        kind = entry["kind"]
        return in_language(lang, HISTORY[kind]) if kind in HISTORY else entry["memo"] or kind

    def _journey(self, line: dict[str, Any], lang: str) -> dict[str, str]:
        """A journey a fare posting paid: what it was and why it cost what it did, in ``lang``, and its amount written out."""
        capped = f" ({in_language(lang, Phrase(wording.CAPPED, cap=line['capName']))})" if line["cappedBy"] else ""
        return {"what": wording.said_in(line["summary"], lang) + capped, "amount": self._money(Money.of_minor(int(line["amount"]["value"]),
                                                                                        line["amount"]["currency"]))}

    def payment_code(self, wallet_id: str) -> dict[str, Any]:
        """A fresh one-time payment code: its text, when it goes stale, and its QR as a PNG data URI."""
        code = self.simulator.payment_code(self.wallet(wallet_id).wallet_id)
        return {"code": code.code, "expiresAt": code.expires_at.isoformat(),
                "qr": qr.make(code.code).png_data_uri(scale=8, border=qr.QUIET_ZONE)}

    def scan(self, wallet_id: str, image: bytes) -> dict[str, Any]:
        """The phone's camera frame (or photo) read; a merchant's code found is the wallet's scan, which
        pays the payment waiting on it. ``read`` None: no such code in the frame. SourceError: not an image."""
        wallet = self.wallet(wallet_id)
        reads = [read for read in Cascade().decode(image_bytes(image, "the phone's frame").image)
                 if codes.classify(read.text).kind not in CUSTOMER_CODES]
        if not reads:
            return {"read": None}
        text = reads[0].text
        try:
            answer = self.simulator.scan_merchant_code(wallet.wallet_id, text)
        except SimulatorError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            return {"read": text, "refused": str(exc)}  # not a code this wallet can pay, or no payment waits on it
        amount = answer["paymentAmount"]
        return {"read": text, "answer": answer, "amount": self._money(Money.of_minor(int(amount["value"]), amount["currency"]))}

    def _money(self, amount: Money) -> str:
        return format_money(amount, self.locale)
