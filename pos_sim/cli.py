"""The ``pos-sim`` command: the composition root (settings -> backend -> terminal -> UI).

Exit codes: 0 done / valid, 1 some images not read (scan), 2 invalid input or bad usage, 70 an
internal fault (reported, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import date
from pathlib import Path
from typing import Any

import platformdirs

from pos_sim import __version__
from pos_sim.domain import codes
from pos_sim.domain.codes import emv_cpm, emv_mpm, schemes, wallet
from pos_sim.domain.errors import CodeError, DomainError
from pos_sim.domain.money import Money, currency, parse_money
from pos_sim.render import qr
from pos_sim.scan import damage, frames, scanner
from pos_sim.scan.frames import SourceError
from pos_sim.scan.scanner import ScannerError

EXIT_OK, EXIT_UNREAD, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 70


class UsageError(Exception):
    """Bad command-line input: reported as ``error: ...`` with exit 2."""


class ServiceError(Exception):
    """A service that cannot start (data dir, keys, database, port): reported with exit 2."""


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DomainError, UsageError, ScannerError, SourceError, ServiceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: a fault, said in one line, never a traceback
        print(f"error: internal fault {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pos-sim", description="A point-of-sale terminal simulator.")
    parser.add_argument("--version", action="version", version=f"pos-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    code = commands.add_parser("code", help="build and read payment codes (EMV QR, wallet codes, barcodes)")
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
    scan = commands.add_parser(
        "scan",
        help="read codes from images, folders, a camera or a video, or a virtual scan",
        description="Read payment codes and barcodes. Exit 0 when every image was read, 1 when some were not.",
    )
    scan.add_argument("paths", nargs="*", metavar="PATH", help="image files and folders")
    scan.add_argument("--json", action="store_true", help="one JSON object per line per code found")
    scan.add_argument("--decoder", choices=scanner.DECODERS, default="auto", help="auto is the cascade (default)")
    scan.add_argument("--expect", choices=codes.KINDS[:-1], help="only accept codes of this kind")
    live = scan.add_mutually_exclusive_group()
    live.add_argument("--camera", metavar="SOURCE", help="camera index, stream URL or video file: print each new code once")
    live.add_argument("--damage", metavar="PROFILE", choices=damage.PROFILES, help="virtual scan of --text damaged by PROFILE")
    scan.add_argument("--frames", type=int, metavar="N", help="with --camera: stop after N frames")
    scan.add_argument("--text", help="with --damage: the payload to render and read")
    scan.add_argument("--strength", type=float, default=0.5, help="with --damage: 0 (none) to 1 (hardest)")
    scan.add_argument("--symbology", choices=["qr", "ean13", "ean8", "upca", "code128"], help="with --damage: how to draw --text")
    scan.add_argument("--seed", type=int, default=0, help="with --damage: the random seed of the damage")
    scan.add_argument("--save", type=Path, metavar="FILE", help="with --damage: write the damaged image")
    scan.set_defaults(run=run_scan)
    backend = commands.add_parser("backend", help="run the simulated wallet provider (Alipay+/Antom in-store API)")
    backend.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    backend.add_argument("--port", type=int, default=8360, help="default %(default)s; 0 takes a free port")
    backend.add_argument("--data-dir", type=Path, default=default_data_dir(), help="keys and ledger (default: %(default)s)")
    backend.add_argument("--db", metavar="URL", help="a database URL, e.g. postgresql://user@127.0.0.1/db (default: SQLite in the data dir)")
    backend.add_argument("--admin-token", help="the token the /sim admin API asks for off loopback")
    backend.set_defaults(run=run_backend)
    return parser


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pos-sim"))


# --- backend ---------------------------------------------------------------------------------


def run_backend(args: argparse.Namespace) -> int:
    from pos_sim.backend import server  # here, not at the top: the other commands start without the web stack

    from pos_sim.backend.store import StoreError

    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.admin_token:
        raise UsageError(f"--host {args.host} serves beyond this machine: give --admin-token to guard the /sim admin API")

    def ready(url: str) -> None:
        print(f"pos-sim backend on {url} (data in {args.data_dir})", flush=True)

    try:
        server.serve_forever(server.open_gateway(args.data_dir, args.db, args.admin_token), args.host, args.port, ready)
    except (server.BackendError, StoreError) as exc:
        raise ServiceError(exc) from None
    return EXIT_OK


# --- scan ------------------------------------------------------------------------------------


def run_scan(args: argparse.Namespace) -> int:
    modes = [bool(args.paths), args.camera is not None, args.damage is not None]
    if sum(modes) != 1:
        raise UsageError("give image PATHs, or --camera SOURCE, or --damage PROFILE --text TEXT (one of them)")
    if args.damage is not None and not args.text:
        raise UsageError("--damage needs --text, the payload to render")
    decoder = scanner.decoder_named(args.decoder, args.expect)
    if args.camera is not None:
        if Path(args.camera).is_file():
            source = frames.video(args.camera)
        else:
            source = frames.camera(int(args.camera) if args.camera.isdigit() else args.camera, max_frames=args.frames)
        for origin, read in scanner.read_live(source, decoder):
            print_read(args, origin, read)
        return EXIT_OK
    if args.damage is not None:
        image, reads = scanner.virtual_scan(
            args.text, decoder, profile=args.damage, strength=args.strength, symbology=args.symbology, seed=args.seed
        )
        if args.save:
            save_image(image, args.save)
        results = [scanner.ImageResult(f"virtual:{args.damage}@{args.strength}", reads, None if reads else "no code read")]
    else:
        missing = [p for p in args.paths if not Path(p).exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or folder")
        results = scanner.read_images(args.paths, decoder)
    unread = 0
    for result in results:
        for read in result.reads:
            print_read(args, result.origin, read)
        if result.error:
            unread += 1
            if args.json:
                print(json.dumps({"path": result.origin, "text": None, "error": result.error}), flush=True)
            else:
                print(f"{result.origin}: {result.error}", file=sys.stderr)
    return EXIT_OK if unread == 0 else EXIT_UNREAD


def print_read(args: argparse.Namespace, origin: str, read) -> None:
    kind = codes.classify(read.text).kind
    if args.json:
        line = {
            "path": origin, "symbology": read.symbology, "text": read.text, "kind": kind,
            "decoder": read.decoder, "ms": round(read.ms, 2), "corners": [list(p) for p in read.corners],
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(f"{origin}: {read.symbology} {kind} {read.text}  ({read.decoder}, {read.ms:.1f} ms)", flush=True)


def save_image(image, path: Path) -> None:
    import cv2

    if not cv2.imwrite(str(path), image):
        raise UsageError(f"cannot write {path}: unknown image format or unwritable folder")


# --- code parse ------------------------------------------------------------------------------


def read_text(arg: str) -> str:
    if arg != "-":
        return arg
    limit = emv_mpm.MAX_QR_BYTES + 2  # the most any QR code holds, and a line break
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise CodeError(f"input is longer than any QR code holds ({emv_mpm.MAX_QR_BYTES} bytes)", offset=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodeError("input is not UTF-8 text", offset=exc.start) from None
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
        error = str(exc)
    if args.json:
        report = {"kind": kind, "valid": error is None, "error": error, "fields": fields, "objects": objects}
        print(json.dumps(report, ensure_ascii=False))
    elif error is None:
        print(f"{kind}: valid{' (strict)' if args.strict else ''}")
        for line in flatten(fields):
            print(f"  {line}")
    if error is not None:
        print(f"error: {kind}: {error}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def describe(code: codes.Code) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fields = code.fields()
    if isinstance(code, emv_mpm.MerchantPresentedCode):
        fields["schemes"] = schemes.schemes_of(code)
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
            raise UsageError(f"cannot write {args.png}: {exc.strerror or exc}") from None
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
    p.add_argument("--language", help="ISO 639 language of the alternate name, e.g. ZH")
    p.add_argument("--alt-name", help="merchant name in that language")
    p.add_argument("--alt-city", help="merchant city in that language")


def build_mpm(args: argparse.Namespace) -> str:
    if not ("26" <= args.account_id <= "51" and len(args.account_id) == 2):
        raise UsageError(f"--account-id {args.account_id!r} is not a template ID 26-51")
    amount = amount_in(args, args.currency)
    extra = {"01": args.bill, "05": args.reference, "07": args.terminal_label}
    language = {"00": args.language, "01": args.alt_name, "02": args.alt_city}
    if bool(args.language) != bool(args.alt_name):
        raise UsageError("--language and --alt-name go together")
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
