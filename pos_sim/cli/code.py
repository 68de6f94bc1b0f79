"""``pos-sim code``: build the codes a terminal shows (``make``), and tell what a scanned text is (``parse``)."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from babel import Locale

from pos_sim.cli.errors import EXIT_INVALID, EXIT_OK, UsageError
from pos_sim.domain import codes
from pos_sim.domain.codes import emv_cpm, emv_mpm, ride, schemes, wallet
from pos_sim.domain.errors import CodeError
from pos_sim.domain.money import Money, currency, parse_money
from pos_sim.language import N_, Phrase, _, message_of
from pos_sim.render import qr


COUNTRIES = frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha()) - {
    "AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "TA", "UN",  # ISO 3166-1 only reserves them
    "QO", "XA", "XB", "XK", "ZZ"}  # ISO 3166-1 leaves them to users
"""The ISO 3166-1 alpha-2 country codes: CLDR's two-letter regions, less those not assigned to a country."""


def add_code_commands(commands: argparse._SubParsersAction) -> None:
    code = commands.add_parser("code", help=N_("build and read payment codes (EMV QR, wallet codes, barcodes)"))
    code_commands = code.add_subparsers(dest="code_command", required=True, metavar="ACTION")

    parse = code_commands.add_parser("parse", help="tell what a scanned text is and whether it is valid")
    parse.add_argument("text", metavar="TEXT", help="the text, or - to read it from standard input")
    parse.add_argument("--strict", action="store_true", help="EMVCo v1.0 to the letter, no real-world deviations")
    parse.add_argument("--json", action="store_true", help="print one JSON object")
    parse.set_defaults(run=run_parse)

    make = code_commands.add_parser("make", help="build a payload and print it (optionally as a QR)")
    formats = make.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, (help_text, add_options, _build) in MAKERS.items():
        sub = formats.add_parser(name, help=help_text)
        add_options(sub)
        sub.add_argument("--png", type=Path, metavar="FILE", help="also write the QR code as a PNG image")
        sub.add_argument("--terminal", action="store_true", help="also draw the QR code here with half-blocks")
        sub.set_defaults(run=run_make)


# --- code parse ------------------------------------------------------------------------------


def read_text(arg: str) -> str:
    if arg != "-":
        return arg
    limit = emv_mpm.MAX_QR_BYTES + 2  # the most any QR code holds, and a line break
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise CodeError(Phrase(N_("input is longer than any QR code holds ({most} bytes)"), most=emv_mpm.MAX_QR_BYTES),
                        offset=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodeError(Phrase(N_("input is not UTF-8 text")), offset=exc.start) from None
    return text.rstrip("\r\n")  # scanners and echo end a read with a line break


def run_parse(args: argparse.Namespace) -> int:
    text = read_text(args.text)
    kind = codes.classify(text).kind
    code = fields = objects = error = None
    try:
        code = codes.decode(text)
        kind = code.kind
        fields, objects = describe(code)
        code.validate(args.strict)
    except CodeError as exc:
        error, said = str(exc), message_of(exc)  # JSON keeps the English; the terminal says it in its language
    if args.json:
        report = {"kind": kind, "valid": error is None, "error": error, "fields": fields, "objects": objects}
        print(json.dumps(report, ensure_ascii=False))
    elif error is None:
        print(f"{kind}: valid{' (strict)' if args.strict else ''}")
        for line in flatten(fields):
            print(f"  {line}")
    if error is not None:
        print(_("error: {message}").format(message=f"{kind}: {_(said)}"), file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def describe(code: codes.Code) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fields = code.fields()
    if isinstance(code, emv_mpm.MerchantPresentedCode):
        fields["schemes"] = schemes.schemes_of(code)
    if isinstance(code, ride.SignedRideCode):  # its age by this machine's clock: a gate refuses a stale one
        age = int((datetime.now(timezone.utc) - code.code.issued_at).total_seconds())
        fields["age_s"] = age
        fields["fresh"] = "no: expired" if age > code.code.valid_s else "no: issued in the future" if age < 0 else "yes"
    return fields, code.as_objects()


def flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in flatten(item, f"{prefix}{key}.")]
    if isinstance(value, list) and not all(isinstance(item, str) for item in value):
        return [line for i, item in enumerate(value) for line in flatten(item, f"{prefix}{i}.")]
    if isinstance(value, list):
        value = ", ".join(value)
    return [] if value in (None, {}, []) else [f"{prefix[:-1]}: {value}"]


# --- code make -------------------------------------------------------------------------------


def run_make(args: argparse.Namespace) -> int:
    _help, _options, build = MAKERS[args.format]
    payload = build(args)
    if args.png:
        try:
            qr.write_png(payload, args.png)
        except OSError as exc:
            raise UsageError(_("cannot write {path}: {why}").format(path=args.png, why=exc.strerror or exc)) from None
    print(payload)
    if args.terminal:
        lines = qr.half_blocks(qr.matrix(payload))
        print(qr.ansi_dark_on_light(lines) if sys.stdout.isatty() else "\n".join(lines))
    return EXIT_OK


def amount_in(args: argparse.Namespace, code: str) -> Money | None:
    return None if args.amount is None else parse_money(args.amount, code)


def expiry_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def sub_id(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not (key == "guid" or (len(key) == 2 and key.isdigit())):
        raise argparse.ArgumentTypeError(f"{text!r} is not SUBID=VALUE (SUBID two digits or guid)")
    return key, value


def options_mpm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account-id", default="26", help="merchant account template ID, 26-51 (default 26)")
    p.add_argument("--guid", required=True, help="the network's GUID for the merchant account template")
    p.add_argument("--account", type=sub_id, action="append", default=[], metavar="SUBID=VALUE")
    p.add_argument("--mcc", default="0000", help="merchant category code (ISO 18245)")
    p.add_argument("--currency", default="SGD", help="ISO 4217 code (default SGD)")
    p.add_argument("--amount", help="amount in major units, e.g. 12.50; makes the code dynamic")
    p.add_argument("--static", action="store_true", help="point of initiation 11 even with an amount")
    p.add_argument("--country", required=True, help="ISO 3166-1 alpha-2")
    p.add_argument("--name", required=True, help="merchant name (25 characters)")
    p.add_argument("--city", required=True, help="merchant city (15 characters)")
    p.add_argument("--postal-code")
    p.add_argument("--bill", help="additional data 01: bill number")
    p.add_argument("--reference", help="additional data 05: reference label")
    p.add_argument("--terminal-label", help="additional data 07: terminal label")
    p.add_argument("--language", dest="alt_language", help="ISO 639 language of the alternate name, e.g. ZH")
    p.add_argument("--alt-name", help="merchant name in that language")
    p.add_argument("--alt-city", help="merchant city in that language")


def build_mpm(args: argparse.Namespace) -> str:
    if not ("26" <= args.account_id <= "51" and len(args.account_id) == 2):
        raise UsageError(_("--account-id {id} is not a template ID 26-51").format(id=repr(args.account_id)))
    if args.country not in COUNTRIES:
        raise UsageError(_("--country {code} is not an ISO 3166-1 alpha-2 country code, e.g. SG").format(code=repr(args.country)))
    amount = amount_in(args, args.currency)
    extra = {"01": args.bill, "05": args.reference, "07": args.terminal_label}
    language = {"00": args.alt_language, "01": args.alt_name, "02": args.alt_city}
    if bool(args.alt_language) != bool(args.alt_name):
        raise UsageError(_("--language and --alt-name go together"))
    return emv_mpm.build(
        {
            "point_of_initiation": "11" if args.static or amount is None else "12",
            "merchant_accounts": {args.account_id: {"guid": args.guid, **dict(args.account)}},
            "mcc": args.mcc,
            "currency": currency(args.currency).numeric,
            "amount": None if amount is None else amount.major_str(),
            "country": args.country,
            "merchant_name": args.name,
            "merchant_city": args.city,
            "postal_code": args.postal_code,
            "additional_data": {k: v for k, v in extra.items() if v} or None,
            "language_template": {k: v for k, v in language.items() if v} or None,
        }
    )


def options_promptpay(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--phone", help="Thai mobile number, e.g. 081-234-5678")
    proxy.add_argument("--national-id", help="13-digit national or tax id")
    proxy.add_argument("--ewallet", help="15-digit e-wallet id")
    p.add_argument("--amount", help="THB, e.g. 150 or 20.15")


def build_promptpay(args: argparse.Namespace) -> str:
    return schemes.promptpay(
        phone=args.phone, national_id=args.national_id, ewallet=args.ewallet, amount=amount_in(args, "THB")
    )


def options_promptpay_bill(p: argparse.ArgumentParser) -> None:
    p.add_argument("--biller-id", required=True, help="13 or 15-digit biller id")
    p.add_argument("--ref1", required=True)
    p.add_argument("--ref2")
    p.add_argument("--amount", help="THB")


def build_promptpay_bill(args: argparse.Namespace) -> str:
    return schemes.promptpay_bill(biller_id=args.biller_id, ref1=args.ref1, ref2=args.ref2, amount=amount_in(args, "THB"))


def options_paynow(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--mobile", help="Singapore mobile number, e.g. +6591234567")
    proxy.add_argument("--uen", help="company UEN, e.g. 201403121W")
    p.add_argument("--amount", help="SGD, e.g. 12.50")
    p.add_argument("--fixed-amount", action="store_true", help="the payer may not change the amount")
    p.add_argument("--expiry", type=expiry_date, help="last day the code may be paid, YYYY-MM-DD")
    p.add_argument("--name", default="NA", help="merchant name")
    p.add_argument("--city", default="Singapore")
    p.add_argument("--reference", help="bill reference the payer's app sends back")


def build_paynow(args: argparse.Namespace) -> str:
    return schemes.paynow(
        mobile=args.mobile,
        uen=args.uen,
        amount=amount_in(args, "SGD"),
        editable=not args.fixed_amount,
        expiry=args.expiry,
        merchant_name=args.name,
        merchant_city=args.city,
        reference=args.reference,
    )


def options_fps(p: argparse.ArgumentParser) -> None:
    proxy = p.add_mutually_exclusive_group(required=True)
    proxy.add_argument("--fps-id", help="FPS identifier")
    proxy.add_argument("--mobile", help="e.g. +852-67891234")
    proxy.add_argument("--email")
    p.add_argument("--amount", help="amount in --currency")
    p.add_argument("--currency", default="HKD", choices=["HKD", "CNY"])
    p.add_argument("--name", default="NA")
    p.add_argument("--city", default="HK")
    p.add_argument("--reference")


def build_fps(args: argparse.Namespace) -> str:
    return schemes.fps(
        fps_id=args.fps_id,
        mobile=args.mobile,
        email=args.email,
        amount=amount_in(args, args.currency),
        merchant_name=args.name,
        merchant_city=args.city,
        reference=args.reference,
    )


def options_duitnow(p: argparse.ArgumentParser) -> None:
    p.add_argument("--acquirer", required=True, help="acquirer id (digits)")
    p.add_argument("--account", required=True, help="merchant account id")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--mcc", default="0000")
    p.add_argument("--amount", help="MYR")
    p.add_argument("--reference")


def build_duitnow(args: argparse.Namespace) -> str:
    return schemes.duitnow(
        acquirer_id=args.acquirer,
        account=args.account,
        merchant_name=args.name,
        merchant_city=args.city,
        amount=amount_in(args, "MYR"),
        mcc=args.mcc,
        reference=args.reference,
    )


def options_qris(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nmid", required=True, help="national merchant id, e.g. ID1026478871761")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--mcc", required=True)
    p.add_argument("--criteria", default="UMI", choices=["UMI", "UKE", "UME", "UBE", "URE"])
    p.add_argument("--postal-code")
    p.add_argument("--terminal-label")
    p.add_argument("--amount", help="IDR")


def build_qris(args: argparse.Namespace) -> str:
    return schemes.qris(
        nmid=args.nmid,
        merchant_name=args.name,
        merchant_city=args.city,
        mcc=args.mcc,
        amount=amount_in(args, "IDR"),
        criteria=args.criteria,
        postal_code=args.postal_code,
        terminal_label=args.terminal_label,
    )


def options_pix(p: argparse.ArgumentParser) -> None:
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--key", help="Pix key: e-mail, phone, CPF/CNPJ or random key")
    target.add_argument("--url", help="dynamic: the PSP's payload location")
    p.add_argument("--name", required=True)
    p.add_argument("--city", required=True)
    p.add_argument("--amount", help="BRL")
    p.add_argument("--txid", default="***")
    p.add_argument("--description")


def build_pix(args: argparse.Namespace) -> str:
    return schemes.pix(
        key=args.key,
        url=args.url,
        merchant_name=args.name,
        merchant_city=args.city,
        amount=amount_in(args, "BRL"),
        txid=args.txid,
        description=args.description,
    )


def options_cpm(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aid", default="A0000006022020", help="application id, hex (default QRIS CPM)")
    p.add_argument("--label", default="WALLET")
    card = p.add_mutually_exclusive_group(required=True)
    card.add_argument("--pan", help="token PAN, 12-19 digits")
    card.add_argument("--track2", help="track 2 equivalent data, hex with D separator")
    p.add_argument("--cardholder-name")


def build_cpm(args: argparse.Namespace) -> str:
    app = {"aid": args.aid, "label": args.label, "pan": args.pan, "track2": args.track2, "cardholder_name": args.cardholder_name}
    return emv_cpm.build([{k: v for k, v in app.items() if v}])


def options_paycode(p: argparse.ArgumentParser) -> None:
    p.add_argument("--issuer", default="251001", help="6-digit code issuer id (default 251001)")
    p.add_argument("--uin", help="16-digit user number (default: random)")


def build_paycode(args: argparse.Namespace) -> str:
    uin = args.uin or f"{secrets.randbelow(10**16):016d}"
    return wallet.make_alipay_plus_code(args.issuer, uin)


MAKERS = {
    "mpm": ("any EMVCo merchant-presented QR", options_mpm, build_mpm),
    "promptpay": ("PromptPay (TH) credit transfer", options_promptpay, build_promptpay),
    "promptpay-bill": ("PromptPay (TH) bill payment", options_promptpay_bill, build_promptpay_bill),
    "paynow": ("PayNow / SGQR (SG)", options_paynow, build_paynow),
    "fps": ("FPS (HK)", options_fps, build_fps),
    "duitnow": ("DuitNow (MY)", options_duitnow, build_duitnow),
    "qris": ("QRIS (ID)", options_qris, build_qris),
    "pix": ("Pix BR Code (BR)", options_pix, build_pix),
    "cpm": ("EMVCo consumer-presented QR: a phone wallet's tap token", options_cpm, build_cpm),
    "paycode": ("an Alipay+ customer payment code (24 digits)", options_paycode, build_paycode),
}
