"""Numeric payment codes a customer's wallet app shows at the till: WeChat Pay, Alipay, Alipay+, UnionPay.

A code is all digits; its length and first two digits tell the wallet. The published rules overlap,
so the first of these that matches wins:

1. 24 digits with "02" as digits 7-8: Alipay+ (UPM), read as a 6-digit Code Issuer Identifier,
   the Business Type Identifier "02" (payment code) and a 16-digit UIN;
2. 18 digits starting 10-15: WeChat Pay;
3. 16-24 digits starting 25-30: Alipay;
4. 19 digits starting 62: UnionPay;
5. any other 17-32 digits: Alipay+.

Sources: docs/emv-qr.md "Wallet barcodes", docs/ams-in-store-api.md "Customer payment codes".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pos_sim.domain.errors import CodeError
from pos_sim.language import N_, Phrase

_NON_DIGIT = re.compile(r"[^0-9]")
_PAYMENT_CODE_BUSINESS_TYPE = "02"
_WALLETS = (  # wallet, lengths, prefixes: rules 2-5 above, in order
    ("WeChat Pay", range(18, 19), range(10, 16)),
    ("Alipay", range(16, 25), range(25, 31)),
    ("UnionPay", range(19, 20), range(62, 63)),
    ("Alipay+", range(17, 33), range(100)),
)
_ALIPAY_PLUS_PARTS = (  # name, start, end of a 24-digit Alipay+ payment code
    ("code_issuer_identifier", 0, 6),
    ("business_type_identifier", 6, 8),
    ("uin", 8, 24),
)


def _is_structured(digits: str) -> bool:
    return len(digits) == 24 and digits[6:8] == _PAYMENT_CODE_BUSINESS_TYPE


@dataclass(frozen=True)
class WalletPaymentCode:
    """A customer-presented payment code and the wallet that issued it."""

    kind: ClassVar[str] = "wallet-paycode"
    digits: str
    wallet: str

    def fields(self) -> dict[str, Any]:
        found = {"wallet": self.wallet, "prefix": self.digits[:2], "length": len(self.digits)}
        if _is_structured(self.digits):
            found.update((name, self.digits[start:end]) for name, start, end in _ALIPAY_PLUS_PARTS)
        return found

    def as_objects(self) -> list[dict[str, Any]]:
        parts = _ALIPAY_PLUS_PARTS if _is_structured(self.digits) else (("prefix", 0, 2), ("number", 2, None))
        return [{"name": name, "offset": start, "value": self.digits[start:end]} for name, start, end in parts]

    def validate(self, strict: bool = False) -> None:
        """Lenient checks nothing beyond ``decode``: terminals accept any 17-32 digit Alipay+ code.

        Strict also rejects an Alipay+ code of a reserved length (20-23, 25-32) and one of 24 digits
        whose business type is not "02".
        """
        if strict and self.wallet == "Alipay+" and not (len(self.digits) < 20 or _is_structured(self.digits)):
            raise CodeError(Phrase(N_("{count}-digit Alipay+ code is reserved: in use are 17-19 digits and 24 digits "
                                      "with business type {business_type}"), count=len(self.digits),
                                   business_type=_PAYMENT_CODE_BUSINESS_TYPE))


def decode(text: str) -> WalletPaymentCode:
    """The wallet payment code in ``text``, classified by the rules of the module docstring."""
    if not text:
        raise CodeError(Phrase(N_("empty payment code")))
    if bad := _NON_DIGIT.search(text):
        raise CodeError(Phrase(N_("a wallet payment code has digits only, found {found!r}"), found=bad.group()),
                        offset=bad.start())
    if _is_structured(text):
        return WalletPaymentCode(text, "Alipay+")
    for wallet, lengths, prefixes in _WALLETS:
        if len(text) in lengths and int(text[:2]) in prefixes:
            return WalletPaymentCode(text, wallet)
    raise CodeError(Phrase(N_("{count} digits with prefix {prefix} match no wallet: WeChat Pay 18 digits 10-15, "
                              "Alipay 16-24 digits 25-30, UnionPay 19 digits 62, Alipay+ 17-32 digits"),
                           count=len(text), prefix=text[:2]))


def make_alipay_plus_code(issuer: str, uin: str) -> str:
    """A 24-digit Alipay+ payment code: 6-digit Code Issuer Identifier, "02", 16-digit UIN."""
    for message, part, length in ((N_("an Alipay+ code issuer identifier is {length} digits"), issuer, 6),
                                  (N_("an Alipay+ UIN is {length} digits"), uin, 16)):
        if len(part) != length or _NON_DIGIT.search(part):
            raise CodeError(Phrase(message, length=length))
    return issuer + _PAYMENT_CODE_BUSINESS_TYPE + uin
