"""The register commands: ``sale``, ``refund``, ``void``, ``reprint`` and ``report``, each on a register
opened on the terminal settings (``cli.settings``) and, without ``--backend``, an embedded simulator
for the one command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pos_sim.cli.backend import reach_gateway
from pos_sim.cli.errors import EXIT_DECLINED, EXIT_OK, EXIT_UNRESOLVED, UsageError
from pos_sim.cli.settings import merchant_language, terminal_options, terminal_values
from pos_sim.domain import codes
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money, parse_money
from pos_sim.domain.receipt import Copy, Receipt, Tender
from pos_sim.language import N_, Phrase, _, message_of
from pos_sim.render import qr
from pos_sim.scan import scanner

if TYPE_CHECKING:
    from pos_sim.terminal.authorize import MerchantCode
    from pos_sim.terminal.register import Register
    from pos_sim.terminal.sales import Reversal


def add_register_commands(commands: argparse._SubParsersAction) -> None:
    terminal = terminal_options()
    receipts = argparse.ArgumentParser(add_help=False)
    paper = receipts.add_argument_group(N_("receipt"))
    paper.add_argument("--copy", choices=("customer", "merchant"), default="customer", help="which copy to print (default customer)")
    paper.add_argument("--receipt-png", type=Path, metavar="FILE", help="also write the receipt as a PNG")
    paper.add_argument("--receipt-escpos", type=Path, metavar="FILE", help="also write the receipt's ESC/POS printer bytes")
    both = [terminal, receipts]
    outcome_codes = "Exit 0 approved, 1 declined or cancelled, 2 bad input, 3 outcome not known yet."

    sale = commands.add_parser("sale", parents=both, help=N_("ring up a sale and take its payment"),
                               description=f"Ring up a sale (items or an amount) and take its payment. {outcome_codes}")
    sale.add_argument("--amount", help="a keyed amount in major units, e.g. 12.50")
    sale.add_argument("--item", action="append", default=[], metavar="BARCODE", help="a product barcode of the catalogue (repeat it)")
    tender = sale.add_mutually_exclusive_group(required=True)
    tender.add_argument("--code", metavar="CODE", help="the customer's payment code, or a phone wallet's CPM payload")
    tender.add_argument("--order-code", action="store_true", help="show a dynamic order code and wait for the customer to pay it")
    tender.add_argument("--entry-code", action="store_true", help="the customer scans the store's static entry code")
    tender.add_argument("--scan", type=Path, metavar="IMAGE", help="read the customer's code from an image")
    tender.add_argument("--customer", action="store_true",
                        help="a demo customer pays: the simulator opens a funded wallet, which presents a fresh payment code")
    sale.set_defaults(run=run_sale)

    refund = commands.add_parser("refund", parents=both, help=N_("refund all or part of a sale, by its receipt number"),
                                 description=f"Refund a sale, all that is left of it or --amount. {outcome_codes}")
    refund.add_argument("receipt_number", metavar="RECEIPT", help="the sale's receipt number, e.g. T01-000123")
    refund.add_argument("--amount", help="the amount to refund in major units (default: all that is left)")
    refund.add_argument("--reason", help="why, sent to the gateway")
    refund.set_defaults(run=run_refund)

    void = commands.add_parser("void", parents=both, help=N_("cancel a sale of today's open batch"),
                               description=f"Cancel a sale of the open batch made today. {outcome_codes}")
    void.add_argument("receipt_number", metavar="RECEIPT", help="the sale's receipt number")
    void.set_defaults(run=run_void)

    reprint = commands.add_parser("reprint", parents=both, help=N_("print a sale's, void's or refund's receipt again"))
    reprint.add_argument("receipt_number", metavar="RECEIPT")
    reprint.set_defaults(run=run_reprint)

    report = commands.add_parser("report", parents=[terminal], help=N_("end of day: X (running totals) or Z (closes the batch)"),
                                 description="Totals by tender and currency, reconciled with the gateway. Exit 0 when the "
                                             "gateway agrees, 1 when mismatches are listed, 2 bad input.")
    report.add_argument("kind", choices=("x", "z"), type=str.lower, help="x: running totals; z: totals, and the batch closed")
    report.set_defaults(run=run_report)


@contextmanager
def opened_register(args: argparse.Namespace) -> Iterator[Register]:
    """The register of the command's settings, recovered, with an embedded backend when no --backend is given."""
    from pos_sim.terminal.register import Register  # here, not at the top: the other commands start without requests
    from pos_sim import language
    from pos_sim.terminal.settings import TerminalSettings

    values, origins = terminal_values(args)
    with ExitStack() as stack:
        reach_gateway(values, stack, origins)
        settings = TerminalSettings.build(values, origins)
        language.use(settings.language)  # reports and messages in the merchant's language (receipts carry theirs)
        register = stack.enter_context(Register.open(settings))
        for sale in register.recovered.sales:
            print(_("recovered: sale {receipt} {state} (left unsettled by an earlier run)").format(
                receipt=sale.receipt_number, state=sale.state.value), file=sys.stderr)
        for reversal in register.recovered.reversals:
            print(_("recovered: {kind} {receipt} {state}").format(kind=reversal.kind.lower(), receipt=reversal.receipt_number,
                                                                 state=reversal.state.value), file=sys.stderr)
        yield register


def keyed_money(text: str, register: Register, flag: str = "--amount") -> Money:
    try:
        money = parse_money(text, register.catalogue.currency, register.settings.locale or register.catalogue.locale)
    except DomainError as exc:
        raise UsageError(Phrase("{flag} {text!r}: {problem}", flag=flag, text=text, problem=message_of(exc))) from None
    if money.minor <= 0:
        raise UsageError(Phrase("{flag} {text!r}: {problem}", flag=flag, text=text, problem=_("give an amount above 0")))
    return money


def scanned_code(path: Path, language: str) -> str:
    """The one customer code an image holds (a wallet code or a phone's CPM payload), read as a terminal speaking
    ``language`` reads it."""
    if not path.is_file():
        raise UsageError(_("--scan {path}: no such image file").format(path=path))
    decoder = scanner.decoder_named("auto", language=language)
    texts = list(dict.fromkeys(read.text for result in scanner.read_images([path], decoder) for read in result.reads))
    if not texts:
        raise UsageError(_("--scan {path}: no code read in the image").format(path=path))
    payable = [text for text in texts if codes.classify(text).kind in ("wallet-paycode", "emv-cpm")] or texts
    if len(payable) > 1:
        raise UsageError(_("--scan {path}: {count} different codes in the image; show one").format(path=path, count=len(payable)))
    return payable[0]


def demo_customer_code(register: Register) -> str:
    """A fresh payment code of a new demo wallet at the simulator, funded for twice the cart's total."""
    from pos_sim.scenarios.simulator import Simulator, SimulatorError

    gateway = register.settings.gateway
    total = register.cart.total
    try:
        with Simulator(gateway.url, admin_token=gateway.simulator_token) as simulator:
            wallet = simulator.open_wallet(Money.of_minor(2 * total.minor, total.currency), "Demo customer")
            return simulator.payment_code(wallet).code
    except SimulatorError as exc:
        raise UsageError(_("--customer: the demo wallets are the pos-sim simulator's, and {url} gave none ({why})").format(
            url=gateway.url, why=exc)) from None


def show_merchant_code(code: MerchantCode) -> None:
    """Tell the cashier (on stderr) what the customer is to scan: the order code, with its QR on a terminal."""
    left = (code.expires_at - datetime.now(timezone.utc)).total_seconds() if code.expires_at else None
    until = " " + _("(the code expires in {seconds} s)").format(seconds=max(0, round(left))) if left is not None else ""
    if code.value is None:
        print(_("Entry code: ask the customer to scan the entry code of store {store}; waiting").format(store=code.store_id)
              + until, file=sys.stderr, flush=True)
        return
    print(_("Order code: {code}").format(code=code.value), file=sys.stderr, flush=True)
    if sys.stdout.isatty():
        print(qr.ansi_dark_on_light(qr.half_blocks(qr.matrix(code.value))), file=sys.stderr)
    print(_("waiting for the customer's wallet") + until, file=sys.stderr, flush=True)


def receipt_files_writable(args: argparse.Namespace) -> None:
    """The receipt files asked for can be written as far as is known without writing them (their folder is there,
    they are no folder, the file or its new folder may be written), checked before any money moves (a sale approved
    whose receipt then could not be written ended in "error:" and exit 2, the money taken) or the journal is opened."""
    for flag, path in (("--receipt-png", args.receipt_png), ("--receipt-escpos", args.receipt_escpos)):
        if path is None:
            continue
        if not path.parent.is_dir():
            raise UsageError(_("{flag} {path}: no folder {folder} to write the receipt in").format(
                flag=flag, path=path, folder=path.parent))
        if path.is_dir():
            raise UsageError(_("{flag} {path}: a folder, not a file to write the receipt in").format(flag=flag, path=path))
        if not os.access(path if path.exists() else path.parent, os.W_OK):
            raise UsageError(_("{flag} {path}: no permission to write the receipt there").format(flag=flag, path=path))


def run_sale(args: argparse.Namespace) -> int:
    if args.amount is None and not args.item:
        raise UsageError(_("give --amount AMOUNT or --item BARCODE (one or more), the sale to charge"))
    receipt_files_writable(args)
    code = scanned_code(args.scan, merchant_language(args)) if args.scan else args.code
    tender = Tender.ORDER_CODE if args.order_code else Tender.ENTRY_CODE if args.entry_code else Tender.CUSTOMER_CODE
    with opened_register(args) as register:
        for barcode in args.item:
            try:
                register.scan_item(barcode)
            except DomainError as exc:
                raise UsageError(Phrase("--item {barcode}: {problem}", barcode=barcode, problem=message_of(exc))) from None
        if args.amount is not None:
            register.key_amount(keyed_money(args.amount, register))
        if args.customer:
            code = demo_customer_code(register)
        sale = register.pay(tender, code, on_code=show_merchant_code)
        receipt = register.receipt(sale, copy_of(args)) if sale.resolved else None
        said = {"status": sale.state.value, "resolved": sale.resolved, "resultCode": sale.result_code,
                "resultMessage": sale.result_message, "paymentId": sale.payment_id, "paymentRequestId": sale.payment_request_id,
                "receiptNumber": sale.receipt_number, "tender": sale.tender, "amount": amount_json(sale.amount)}
        print_outcome(args, said, receipt, register)
    return EXIT_OK if sale.approved else EXIT_DECLINED if sale.resolved else EXIT_UNRESOLVED


def run_refund(args: argparse.Namespace) -> int:
    receipt_files_writable(args)
    with opened_register(args) as register:
        amount = None if args.amount is None else keyed_money(args.amount, register)
        return print_reversal(args, register, register.refund(args.receipt_number, amount, args.reason))


def run_void(args: argparse.Namespace) -> int:
    receipt_files_writable(args)
    with opened_register(args) as register:
        return print_reversal(args, register, register.void(args.receipt_number))


def run_reprint(args: argparse.Namespace) -> int:
    receipt_files_writable(args)
    with opened_register(args) as register:
        receipt = register.reprint(args.receipt_number, copy_of(args))
        said = {"status": receipt.outcome.value, "receiptNumber": receipt.receipt_number, "kind": receipt.kind.value,
                "paymentId": receipt.payment_id, "amount": amount_json(receipt.total)}
        print_outcome(args, said, receipt, register)
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from pos_sim.terminal import reports

    with opened_register(args) as register:
        report = register.z_report() if args.kind == "z" else register.x_report()
        if args.json:
            print(json.dumps(report.json(), ensure_ascii=False))
        else:
            print("\n".join(reports.layout(report, register.settings.receipt_width)))
    return EXIT_DECLINED if report.mismatches else EXIT_OK


def print_reversal(args: argparse.Namespace, register: Register, reversal: Reversal) -> int:
    from pos_sim.terminal.sales import ReversalState

    receipt = None if reversal.state is ReversalState.PENDING else register.receipt(reversal, copy_of(args))
    said = {"status": reversal.state.value, "kind": reversal.kind.value, "resolved": reversal.state is not ReversalState.PENDING,
            "resultCode": reversal.result_code, "resultMessage": reversal.result_message, "receiptNumber": reversal.receipt_number,
            "originalReceipt": reversal.sale_receipt, "refundId": reversal.refund_id, "amount": amount_json(reversal.amount)}
    print_outcome(args, said, receipt, register)
    return {ReversalState.DONE: EXIT_OK, ReversalState.REFUSED: EXIT_DECLINED}.get(reversal.state, EXIT_UNRESOLVED)


def copy_of(args: argparse.Namespace) -> Copy:
    return Copy.MERCHANT if args.copy == "merchant" else Copy.CUSTOMER


def amount_json(money: Money) -> dict[str, str]:
    return {"currency": money.currency.code, "value": str(money.minor)}


def print_outcome(args: argparse.Namespace, said: dict[str, Any], receipt: Receipt | None, register: Register) -> None:
    """The outcome (one JSON object with --json, else a line and the receipt), and the receipt files asked for."""
    from pos_sim.domain.receipt import layout
    from pos_sim.render.receipt import receipt_escpos, receipt_png

    width = register.settings.receipt_width
    text = "\n".join(layout(receipt, width)) if receipt is not None else None
    if receipt is not None:
        for path, write in ((args.receipt_png, lambda path: receipt_png(receipt, width, path)),
                            (args.receipt_escpos, lambda path: path.write_bytes(receipt_escpos(receipt, width)))):
            try:
                if path:
                    write(path)
            except (OSError, ValueError) as exc:
                raise UsageError(_("cannot write the receipt {path}: {why}").format(
                    path=path, why=getattr(exc, "strerror", None) or exc)) from None
    if args.json:
        print(json.dumps(said | {"receipt": text}, ensure_ascii=False))
        return
    money = said["amount"]
    amount = Money.of_minor(int(money["value"]), money["currency"])
    head = [_(said["status"]), said.get("resultCode"), f"{amount.major_str()} {amount.currency.code}",
            _("receipt {number}").format(number=said["receiptNumber"]),
            said.get("paymentId") and _("payment {id}").format(id=said["paymentId"])]
    print("  ".join(filter(None, head)))
    if said.get("resolved") is False:
        print(_("the outcome is not known yet: it is resolved when the terminal next opens (any register command)"))
    if said.get("resultMessage") and said["status"] not in ("APPROVED", "DONE"):
        print(said["resultMessage"])
    if text is not None:
        print()
        print(text)
