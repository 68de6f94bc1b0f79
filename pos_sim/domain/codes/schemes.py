"""National QR schemes built on EMVCo MPM: PromptPay (TH), PayNow/SGQR (SG), FPS (HK), DuitNow (MY),
QRIS (ID) and Pix (BR): builders that produce what each scheme's own apps read, and the GUIDs that
tell which scheme a merchant account belongs to.

Object layout follows each scheme's published generators: PromptPay as dtinth/promptpay-qr (no
52/59/60), PayNow and FPS as the SGQR and HKICL specifications (mcc 0000 for person-to-person),
Pix as the Banco Central do Brasil manual (62/05 txid, "***" when none).
"""

from __future__ import annotations

import re
from datetime import date

from pos_sim.domain.codes import emv_mpm
from pos_sim.domain.codes.emv_mpm import MerchantPresentedCode
from pos_sim.domain.errors import CodeError
from pos_sim.domain.money import Money
from pos_sim.domain.money import currency as iso_currency
from pos_sim.language import N_, Phrase

# GUID (sub-ID 00 of a merchant account template) -> scheme name; compared case-insensitively.
SCHEME_GUIDS = {
    "A000000677010111": "PromptPay",
    "A000000677010112": "PromptPay bill payment",
    "A000000677010114": "PromptPay e-wallet",
    "SG.PAYNOW": "PayNow",
    "SG.SGQR": "SGQR",
    "SG.COM.NETS": "NETS",
    "HK.COM.HKICL": "FPS",
    "A0000006150001": "DuitNow",
    "ID.CO.QRIS.WWW": "QRIS",
    "BR.GOV.BCB.PIX": "Pix",
    "BR.GOV.BCB.SPI": "Pix",
    "A000000727": "VietQR",
}
_PROXY_WORDS = {"phone": Phrase(N_("phone")), "national_id": Phrase(N_("national id")), "ewallet": Phrase(N_("ewallet"))}
"""How a PromptPay proxy is named in an error about its digits."""


def schemes_of(code: MerchantPresentedCode) -> list[str]:
    """The schemes whose merchant accounts the payload carries, in payload order."""
    names = []
    for account in code.objects:
        guid = account.get("00") if account.children else None
        name = guid and SCHEME_GUIDS.get(guid.value.upper())
        if name and name not in names:
            names.append(name)
    return names


def _amount(amount: Money | None, currency: str, scheme: str) -> str | None:
    if amount is None:
        return None
    if amount.currency.code != currency:
        raise CodeError(Phrase(N_("{scheme} takes amounts in {currency}, not {given}"), scheme=scheme, currency=currency,
                               given=amount.currency.code), tag="54")
    if amount.minor <= 0:
        raise CodeError(Phrase(N_("{scheme} amount must be positive, got {amount}"), scheme=scheme, amount=amount.major_str()),
                        tag="54")
    return amount.major_str()


def _digits(value: str, what: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if not digits.isascii() or not digits.isdigit():
        raise CodeError(Phrase(N_("{name} {value!r} must be digits"), name=what, value=value))
    return digits


def _one_of(**proxies: str | None) -> tuple[str, str]:
    given = [(name, value) for name, value in proxies.items() if value]
    if len(given) != 1:
        raise CodeError(Phrase(N_("give exactly one of {names}"), names=", ".join(proxies)))
    return given[0]


def promptpay(
    *,
    phone: str | None = None,
    national_id: str | None = None,
    ewallet: str | None = None,
    amount: Money | None = None,
) -> str:
    """A PromptPay credit-transfer QR to a phone number, a national/tax id or an e-wallet id."""
    kind, value = _one_of(phone=phone, national_id=national_id, ewallet=ewallet)
    digits = _digits(value, _PROXY_WORDS[kind])
    if kind == "phone":
        if not 9 <= len(digits) <= 10:
            raise CodeError(Phrase(N_("Thai phone number {value!r} must have 9 or 10 digits"), value=value))
        proxy = ("01", ("0066" + digits.lstrip("0")).rjust(13, "0"))
    elif kind == "national_id":
        if len(digits) != 13:
            raise CodeError(Phrase(N_("national or tax id {value!r} must have 13 digits"), value=value))
        proxy = ("02", digits)
    else:
        if len(digits) != 15:
            raise CodeError(Phrase(N_("e-wallet id {value!r} must have 15 digits"), value=value))
        proxy = ("03", digits)
    objects = [
        ("00", "01"),
        ("01", "12" if amount else "11"),
        ("29", [("00", "A000000677010111"), proxy]),
        ("58", "TH"),
        ("53", "764"),
    ]
    total = _amount(amount, "THB", "PromptPay")
    if total:
        objects.append(("54", total))
    return _finish(objects)


def promptpay_bill(*, biller_id: str, ref1: str, ref2: str | None = None, amount: Money | None = None) -> str:
    """A PromptPay bill-payment QR (template 30): biller id and one or two references."""
    biller = _digits(biller_id, Phrase(N_("biller id")))
    if len(biller) != 15 and len(biller) != 13:
        raise CodeError(Phrase(N_("biller id {value!r} must have 13 or 15 digits"), value=biller_id))
    account = [("00", "A000000677010112"), ("01", biller), ("02", ref1)] + ([("03", ref2)] if ref2 else [])
    objects = [("00", "01"), ("01", "12" if amount else "11"), ("30", account), ("53", "764"), ("58", "TH")]
    total = _amount(amount, "THB", "PromptPay")
    if total:
        objects.append(("54", total))
    return _finish(sorted(objects, key=lambda pair: pair[0]))


def paynow(
    *,
    mobile: str | None = None,
    uen: str | None = None,
    amount: Money | None = None,
    editable: bool = True,
    expiry: date | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "Singapore",
    reference: str | None = None,
) -> str:
    """A PayNow QR (SGQR layout) to a mobile number (+65...) or a company UEN."""
    kind, value = _one_of(mobile=mobile, uen=uen)
    if kind == "mobile":
        digits = _digits(value.lstrip("+"), Phrase(N_("mobile number")))
        proxy = ("0", "+" + (digits if digits.startswith("65") and len(digits) == 10 else "65" + digits))
    else:
        proxy = ("2", value.strip().upper())
    account = [("00", "SG.PAYNOW"), ("01", proxy[0]), ("02", proxy[1]), ("03", "1" if editable else "0")]
    if expiry:
        account.append(("04", expiry.strftime("%Y%m%d")))
    return _merchant(
        amount, "SGD", "PayNow", ("26", account), "SG", merchant_name, merchant_city, [("01", reference)] if reference else []
    )


def fps(
    *,
    fps_id: str | None = None,
    mobile: str | None = None,
    email: str | None = None,
    amount: Money | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "HK",
    reference: str | None = None,
) -> str:
    """A Hong Kong FPS QR (HKICL) to an FPS id, a mobile number (+852-...) or an email address."""
    kind, value = _one_of(fps_id=fps_id, mobile=mobile, email=email)
    sub = {"fps_id": "02", "mobile": "03", "email": "04"}[kind]
    if kind == "fps_id":
        value = _digits(value, Phrase(N_("FPS id")))
    account = [("00", "hk.com.hkicl"), (sub, value.strip())]
    currency = amount.currency.code if amount else "HKD"
    if currency not in ("HKD", "CNY"):
        raise CodeError(Phrase(N_("FPS takes HKD or CNY, not {currency}"), currency=currency), tag="53")
    return _merchant(
        amount, currency, "FPS", ("26", account), "HK", merchant_name, merchant_city, [("05", reference)] if reference else []
    )


def duitnow(
    *,
    acquirer_id: str,
    account: str,
    merchant_name: str,
    merchant_city: str,
    amount: Money | None = None,
    mcc: str = "0000",
    reference: str | None = None,
) -> str:
    """A DuitNow QR (PayNet, MY): acquirer id and merchant account in template 26."""
    template = [("00", "A0000006150001"), ("01", _digits(acquirer_id, Phrase(N_("acquirer id")))), ("02", account.strip())]
    return _merchant(
        amount, "MYR", "DuitNow", ("26", template), "MY", merchant_name, merchant_city,
        [("01", reference)] if reference else [], mcc=mcc,
    )


def qris(
    *,
    nmid: str,
    merchant_name: str,
    merchant_city: str,
    mcc: str,
    amount: Money | None = None,
    criteria: str = "UMI",
    postal_code: str | None = None,
    terminal_label: str | None = None,
) -> str:
    """A QRIS QR (Bank Indonesia): the national merchant id (NMID) in template 51."""
    if not re.fullmatch(r"ID[0-9]{10,13}", nmid):
        raise CodeError(Phrase(N_("QRIS NMID {nmid!r} must be 'ID' and 10-13 digits"), nmid=nmid))
    if criteria not in ("UMI", "UKE", "UME", "UBE", "URE"):
        raise CodeError(Phrase(N_("QRIS merchant criteria {criteria!r} is not UMI, UKE, UME, UBE or URE"), criteria=criteria))
    template = [("00", "ID.CO.QRIS.WWW"), ("02", nmid), ("03", criteria)]
    extra = [("61", postal_code)] if postal_code else []
    return _merchant(
        amount, "IDR", "QRIS", ("51", template), "ID", merchant_name, merchant_city,
        [("07", terminal_label)] if terminal_label else [], mcc=mcc, extra=extra,
    )


def pix(
    *,
    key: str | None = None,
    url: str | None = None,
    merchant_name: str,
    merchant_city: str,
    amount: Money | None = None,
    txid: str = "***",
    description: str | None = None,
) -> str:
    """A Pix BR Code: static to a Pix key, or dynamic with the PSP's payload URL (no scheme)."""
    kind, value = _one_of(key=key, url=url)
    if not re.fullmatch(r"\*\*\*|[A-Za-z0-9]{1,25}", txid):
        raise CodeError(Phrase(N_("Pix txid {txid!r} must be '***' or 1-25 letters and digits"), txid=txid), tag="62.05")
    account = [("00", "br.gov.bcb.pix")]
    if kind == "key":
        account.append(("01", value.strip()))
        if description:
            account.append(("02", description))
    else:
        account.append(("25", re.sub(r"^https?://", "", value.strip())))
    objects = [("00", "01")] + ([("01", "12")] if kind == "url" else [])
    objects += [("26", account), ("52", "0000"), ("53", "986")]
    total = _amount(amount, "BRL", "Pix")
    if total:
        objects.append(("54", total))
    objects += [("58", "BR"), ("59", merchant_name[:25]), ("60", merchant_city[:15]), ("62", [("05", txid)])]
    return _finish(objects)


def _merchant(
    amount: Money | None,
    currency: str,
    scheme: str,
    account: tuple[str, list],
    country: str,
    name: str,
    city: str,
    additional: list[tuple[str, str]],
    mcc: str = "0000",
    extra: list[tuple[str, str]] | None = None,
) -> str:
    total = _amount(amount, currency, scheme)
    objects = [("00", "01"), ("01", "12" if total else "11"), account, ("52", mcc), ("53", iso_currency(currency).numeric)]
    if total:
        objects.append(("54", total))
    objects += [("58", country), ("59", name), ("60", city)] + (extra or [])
    if additional:
        objects.append(("62", additional))
    return _finish(sorted(objects, key=lambda pair: pair[0]))


def _finish(objects: list[tuple[str, str | list]]) -> str:
    payload = emv_mpm.with_crc(emv_mpm.encode(objects))
    emv_mpm.decode(payload).validate()
    return payload
