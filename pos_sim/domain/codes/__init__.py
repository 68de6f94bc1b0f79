"""Payment code formats a terminal generates and reads, and ``classify`` to tell them apart.

Every format module offers ``decode(text)`` (structure; CodeError where it breaks) returning a
value with ``kind``, ``fields()``, ``as_objects()`` and ``validate(strict=False)`` (rules;
CodeError for the first one broken).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pos_sim.domain.codes import emv_cpm, emv_mpm, gs1, gs1_elements, ride, url, wallet
from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase

KINDS = ("emv-mpm", "emv-cpm", "wallet-paycode", "gs1", "url", "ride-code", "unknown")


class Code(Protocol):
    kind: str

    def fields(self) -> dict[str, Any]: ...

    def as_objects(self) -> list[dict[str, Any]]: ...

    def validate(self, strict: bool = False) -> None: ...


@dataclass(frozen=True)
class Classification:
    """What a scanned text is: ``kind`` one of KINDS; ``detail`` the wallet or symbology."""

    kind: str
    detail: str | None = None


def classify(text: str) -> Classification:
    """Tell what any scanned text is, by its shape (no CRC or check-digit verdict: see decode)."""
    if len(text) > emv_mpm.MAX_QR_BYTES:
        return Classification("unknown")
    if text.startswith(emv_cpm.PREFIX):
        return Classification("emv-cpm")
    if text.startswith(ride.PREFIX):
        return Classification("ride-code")
    if text.isascii() and text.isdigit():
        if len(text) in gs1.SYMBOLOGIES:
            return Classification("gs1", gs1.SYMBOLOGIES[len(text)])
        try:
            paycode: wallet.WalletPaymentCode | None = wallet.decode(text)
        except CodeError:
            paycode = None
        # a DataBar's "01" + GTIN (+ a weight, a price) read whole: only Alipay+'s rule of any 17-32 digits takes "01",
        # which gives way; a 24-digit Alipay+ code of business type 02 does not
        if gs1_elements.readable(text) and (paycode is None or "business_type_identifier" not in paycode.fields()):
            return Classification("gs1", gs1_elements.DETAIL)
        return Classification("unknown") if paycode is None else Classification("wallet-paycode", paycode.wallet)
    if gs1_elements.looks_like(text):  # a DataBar's, a GS1-128's, a GS1 Data Matrix's: "(01)...", "01" + GTIN + more AIs
        return Classification("gs1", gs1_elements.DETAIL)
    if text.startswith("00") and len(text) >= 4:
        return Classification("emv-mpm")
    if url.is_link(text):
        return Classification("url")
    return Classification("unknown")


_DECODERS = {
    "emv-mpm": emv_mpm.decode,
    "emv-cpm": emv_cpm.decode,
    "gs1": gs1.decode,
    "url": url.decode,
    "ride-code": ride.read,  # read, not verified: that needs the gate's keys and clock (ride.verify)
}


def decode(text: str) -> Code:
    """Decode ``text`` as whatever ``classify`` says it is; CodeError when it is none of them."""
    if len(text) > emv_mpm.MAX_QR_BYTES:
        raise CodeError(Phrase(N_("{count} characters: longer than any QR code holds ({most} bytes)"), count=len(text),
                               most=emv_mpm.MAX_QR_BYTES))
    classified = classify(text)
    kind = classified.kind
    if classified.detail == gs1_elements.DETAIL:
        return gs1_elements.parse(text)
    if kind in _DECODERS:
        return _DECODERS[kind](text)
    if text.isascii() and text.isdigit():
        return wallet.decode(text)  # its error says which wallet rules the digits miss
    raise CodeError(
        Phrase(N_("not a payment code: no EMV QR (00...), CPM (hQVDUFY...), wallet code (16-32 digits), "
                  "GS1 barcode (8, 12 or 13 digits), http(s) link or ride code (RC1:...)")),
        offset=0,
    )


def parse(text: str, strict: bool = False) -> Code:
    """Decode and validate in one step."""
    code = decode(text)
    code.validate(strict)
    return code
