"""The register: a cart, its payment by one of four tenders, voids, refunds, reprints, and end of day.

A ``Register`` works over a ``GatewayClient`` (the gateway, reached over HTTP only), the payment
``Journal``, its ``SalesBook`` and the shop's ``Catalogue``. ``Register.open(settings)`` opens all
of them from ``TerminalSettings`` (a training register first checks that its gateway is the
simulator: ``training.require_simulator``) and runs ``recover`` before it takes a payment.

The cart: ``scan_item`` (a product barcode, GS1 variable-measure labels included), ``key_amount``,
``change_quantity``, ``remove_line``, ``clear_cart``. ``pay(tender, code, on_code)`` charges the
cart's total with ``authorize``:

- ``Tender.CUSTOMER_CODE``: the customer's scanned payment code (PaymentCode). A scanned code that
  starts "hQVDUFY" is an EMVCo consumer-presented payload, a phone wallet's token: recorded as a
  ``Tender.WALLET_TAP``, as a tap sends it;
- ``Tender.WALLET_TAP``: a phone tapped on the reader, its CPM payload as the code (PaymentCode);
- ``Tender.ORDER_CODE``: the terminal shows a dynamic code (``on_code`` gets it) and polls;
- ``Tender.ENTRY_CODE``: the customer scans the store's static code (``on_code`` is told to show it).

The sale is written to the sales book, with the next receipt number, before its payment request is
journalled and sent; the cart is cleared only when the payment is approved. ``void`` cancels a
payment of the open batch, the same day; ``refund`` gives back all or part of one, found by its
receipt number, never more than is left (refused before anything is sent); both get receipt numbers
of their own. ``receipt(sale, copy)`` builds a ``domain.receipt.Receipt``; ``reprint`` builds it
again from the book, the same receipt. ``x_report`` and ``z_report`` (which closes the batch) are
in ``reports``.

``recover`` (run by ``open``): ``authorize.recover`` resolves the journal's pending payments; then
every sale the book holds unsettled is settled from the journal (a sale whose payment request never
reached the journal was never sent: NOT_PROCESSED), and every pending void or refund is sent again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from pos_sim.domain import codes
from pos_sim.domain.cart import Cart, Line
from pos_sim.domain.catalogue import Catalogue
from pos_sim.domain.codes import emv_cpm
from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Copy, Kind, Outcome as ReceiptOutcome, Receipt, ReceiptLine, TaxLine, Tender, Weight, mask_code
from pos_sim.language import N_, Phrase, _
from pos_sim.terminal import reports
from pos_sim.terminal.authorize import MerchantCode, Outcome, Recovery, authorize, check_code, new_request_id, recover
from pos_sim.terminal.errors import JournalError, PaymentRequestError, RegisterError
from pos_sim.terminal.gateway import GatewayAnswer, GatewayClient, Reply, read_amount
from pos_sim.terminal.journal import Journal, State
from pos_sim.terminal.sales import Reversal, ReversalState, Sale, SalesBook
from pos_sim.terminal.settings import TerminalSettings, read_catalogue_file, setting
from pos_sim.terminal.training import require_simulator

SCENARIO = {Tender.CUSTOMER_CODE: "PaymentCode", Tender.WALLET_TAP: "PaymentCode",
            Tender.ORDER_CODE: "OrderCode", Tender.ENTRY_CODE: "EntryCode"}
NOT_CUSTOMER_CODES = {  # what a code scanned for the customer's may be instead, said in the merchant's language
    "emv-mpm": N_("code {code!r} is a merchant-presented QR, not a customer's payment code"),
    "url": N_("code {code!r} is a link, not a customer's payment code"),
    "gs1": N_("code {code!r} is a product barcode, not a customer's payment code"),
}
MAX_DESCRIPTION = 256
MAX_REASON = 256
_OUTCOME = {State.APPROVED: ReceiptOutcome.APPROVED, State.DECLINED: ReceiptOutcome.DECLINED,
            State.CANCELLED: ReceiptOutcome.CANCELLED, State.NOT_PROCESSED: ReceiptOutcome.CANCELLED,
            State.REVERSED: ReceiptOutcome.REVERSED}


@dataclass(frozen=True)
class RegisterRecovery:
    """What opening the register resolved of earlier runs: payments (``authorize.recover``'s), the sales
    settled from them, and the voids and refunds sent again."""

    payments: Recovery = field(default_factory=Recovery)
    sales: tuple[Sale, ...] = ()
    reversals: tuple[Reversal, ...] = ()


class Register:
    """A point-of-sale register: one cart, one gateway, one journal, one sales book. Not for
    concurrent calls: a UI calls it from one worker at a time."""

    def __init__(self, settings: TerminalSettings, gateway: GatewayClient, journal: Journal, book: SalesBook,
                 catalogue: Catalogue, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, _simulator_checked: bool = False) -> None:
        if settings.currency is not None and settings.currency != catalogue.currency.code:
            raise RegisterError(f"currency {settings.currency}: the catalogue {catalogue.name!r} prices in "
                                f"{catalogue.currency.code}; give {setting('catalogue')} one in {settings.currency} "
                                "(pos_sim/assets/ has SGD, THB and JPY ones)")
        if settings.training and not _simulator_checked:
            require_simulator(gateway.credentials.url, gateway.timeouts, settings.gateway.simulator_token)
        self.settings = settings
        self.gateway = gateway
        self.journal = journal
        self.book = book
        self.catalogue = catalogue
        self.cart = Cart.for_catalogue(catalogue)
        self.recovered = RegisterRecovery()
        self._clock = clock
        self._sleep = sleep
        self._owned: list[Any] = []

    @classmethod
    def open(cls, settings: TerminalSettings, *, catalogue: Catalogue | None = None) -> Register:
        """A register from settings: the gateway client, the journal and the sales book opened (and
        closed by ``close``), the catalogue read, earlier runs recovered."""
        catalogue = catalogue or read_catalogue_file(settings.catalogue)
        credentials = settings.gateway.credentials()
        if settings.training:  # before any file is made: a refused training register leaves nothing behind
            require_simulator(credentials.url, settings.gateway.timeouts, settings.gateway.simulator_token)
        owned: list[Any] = []
        try:
            owned.append(gateway := GatewayClient(credentials, settings.gateway.timeouts))
            owned.append(book := SalesBook.open(settings.sales_path, receipt_prefix(settings)))
            owned.append(journal := Journal.open(settings.journal_path))
            register = cls(settings, gateway, journal, book, catalogue, _simulator_checked=True)
            register._owned = owned
            register.recovered = register.recover()
        except BaseException:
            for thing in reversed(owned):
                thing.close()
            raise
        return register

    def close(self) -> None:
        """Close what ``open`` opened."""
        for thing in reversed(self._owned):
            thing.close()
        self._owned = []

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the cart -------------------------------------------------------------------------------

    def scan_item(self, text: str) -> Cart:
        """Add what a scanned product barcode stands for (CodeError, UnknownItemError, CatalogueError as the catalogue says)."""
        self.cart = self.cart.add_scan(self.catalogue.lookup(text.strip()))
        return self.cart

    def key_amount(self, amount: Money, description: str | None = None) -> Cart:
        """Add an amount keyed by hand, in the tax scheme's default category; its line says "Open item" in
        the merchant's language unless ``description`` says otherwise (what the receipt prints)."""
        if not isinstance(amount, Money) or amount.minor <= 0:
            raise RegisterError(f"keyed amount {amount!r}: must be Money above 0")
        self.cart = self.cart.add_keyed_amount(amount, _("Open item") if description is None else description)
        return self.cart

    def change_quantity(self, index: int, quantity: int) -> Cart:
        self.cart = self.cart.change_quantity(index, quantity)
        return self.cart

    def remove_line(self, index: int) -> Cart:
        self.cart = self.cart.remove_line(index)
        return self.cart

    def clear_cart(self) -> Cart:
        self.cart = self.cart.clear()
        return self.cart

    # --- paying ----------------------------------------------------------------------------------

    def pay(self, tender: Tender | str, code: str | None = None,
            on_code: Callable[[MerchantCode], None] | None = None, give_up: threading.Event | None = None,
            on_state: Callable[[State], None] | None = None) -> Sale:
        """Charge the cart's total by ``tender``; the sale, settled (or left pending when the gateway
        could not be brought to an answer: ``recover`` finishes it). The cart is cleared on approval.
        ``give_up``, set while it waits (the cashier's cancel), cancels the payment; ``on_state`` is told
        the states it moves to meanwhile (``authorize``)."""
        try:
            tender = Tender(tender)
        except ValueError:
            raise RegisterError(f"tender {tender!r}: one of {', '.join(t.value for t in Tender)}") from None
        if self.cart.is_empty:
            raise RegisterError("the cart is empty: scan an item or key an amount first")
        if tender is Tender.CUSTOMER_CODE and isinstance(code, str) and code.startswith(emv_cpm.PREFIX):
            tender = Tender.WALLET_TAP  # a phone wallet's token, scanned off its screen as a QR
        scenario = SCENARIO[tender]
        if scenario == "PaymentCode":
            if code is None:
                raise RegisterError(f"{tender.value}: scan the customer's code first")
            check_code(code)
            kind = codes.classify(code).kind
            if kind in NOT_CUSTOMER_CODES:
                raise PaymentRequestError(Phrase(NOT_CUSTOMER_CODES[kind], code=code[:40]))
            if tender is Tender.WALLET_TAP and kind != "emv-cpm":
                raise PaymentRequestError(Phrase(N_("code {code!r}...: a phone tap presents an EMVCo CPM payload (hQVDUFY...)"),
                                                 code=code[:24]))
        elif code is not None:
            raise RegisterError(f"{tender.value}: the customer scans the merchant's code; no customer code is taken")
        cart, total = self.cart, self.cart.total
        lines, taxes = receipt_lines(cart), tax_lines(cart)
        request_id = new_request_id()
        sale = self.book.open_sale(request_id, tender.value, total, lines, cart.subtotal, taxes,
                                   None if code is None else mask_code(code), self._now())
        try:
            outcome = authorize(self.gateway, self.journal, total, code, scenario=scenario, on_code=on_code,
                                store_id=self.settings.store_id if scenario == "EntryCode" else None,
                                code_lifetime_s=self.settings.code_lifetime_s, payment_request_id=request_id,
                                order_reference=sale.receipt_number, description=describe(cart),
                                terminal_id=self.settings.terminal_id, polling=self.settings.polling,
                                give_up=give_up, on_state=on_state, clock=self._clock, sleep=self._sleep)
        except PaymentRequestError as exc:
            self.book.settle_sale(sale.receipt_number, State.NOT_PROCESSED, result_message=f"not sent: {exc}")
            raise
        sale = self._settle(sale, outcome)
        if sale.approved:
            self.cart = cart.clear()
        return sale

    def _settle(self, sale: Sale, outcome: Outcome) -> Sale:
        """Record ``outcome`` on ``sale``, with what the gateway's answer adds (the wallet, its amount)."""
        answer = outcome.answer
        if outcome.state is State.APPROVED and answer is None:
            reply = self.gateway.inquire_payment(payment_request_id=sale.payment_request_id)  # settled by an earlier run
            answer = reply.body if isinstance(reply, GatewayAnswer) and reply.succeeded else None
        wallet, wallet_amount, rate = _wallet(answer, sale.amount) if outcome.state is State.APPROVED else (None, None, None)
        return self.book.settle_sale(sale.receipt_number, outcome.state, result_code=outcome.result_code,
                                     result_message=outcome.result_message, payment_id=outcome.payment_id,
                                     wallet=wallet, wallet_amount=wallet_amount, fx_rate=rate)

    def sale(self, receipt_number: str) -> Sale:
        return self.book.sale(receipt_number)

    # --- voids and refunds -----------------------------------------------------------------------

    def void(self, receipt_number: str) -> Reversal:
        """Cancel the payment of a sale of the open batch, made today: the customer gets it all back.
        Refused (RegisterError) before anything is sent when the sale cannot be voided."""
        sale = self.book.sale(receipt_number)
        self._reversible(sale, "void")
        if sale.reversals and any(r.kind is Kind.REFUND and r.state is ReversalState.DONE for r in sale.reversals):
            raise RegisterError(f"sale {receipt_number} was refunded in part already: refund the rest instead of voiding it")
        batch = self.book.batch()
        today = self._now().date()
        if sale.batch != batch.number or sale.created_at.astimezone(self.settings.zone()).date() != today:
            raise RegisterError(f"sale {receipt_number} is of batch {sale.batch}, {sale.created_at.date().isoformat()}: "
                                f"a void cancels a sale of the open batch ({batch.number}) made today; refund it instead")
        reversal = self.book.open_reversal(Kind.VOID, sale, sale.payment_request_id, sale.amount, None, self._now())
        return self._send(reversal, sale)

    def refund(self, receipt_number: str, amount: Money | None = None, reason: str | None = None) -> Reversal:
        """Give back ``amount`` of a sale (None: all that is left). Refused (RegisterError) before
        anything is sent for more than is left, or a sale not approved."""
        sale = self.book.sale(receipt_number)
        self._reversible(sale, "refund")
        left = sale.refundable
        if amount is None:
            amount = left
        if not isinstance(amount, Money):
            raise RegisterError(f"refund amount {amount!r}: must be Money")
        if amount.currency != sale.amount.currency:
            raise RegisterError(f"refund of {amount.major_str()} {amount.currency.code}: sale {receipt_number} was paid in "
                                f"{sale.amount.currency.code}")
        if left.minor <= 0:
            raise RegisterError(f"sale {receipt_number} is refunded in full already ({sale.refunded.major_str()} "
                                f"{sale.amount.currency.code})")
        if amount.minor <= 0:
            raise RegisterError(f"refund of {amount.major_str()} {amount.currency.code}: must be more than 0")
        if amount > left:
            raise RegisterError(f"refund of {amount.major_str()} {amount.currency.code} is more than the {left.major_str()} left "
                                f"to refund of sale {receipt_number} (paid {sale.amount.major_str()}, refunded "
                                f"{sale.refunded.major_str()})")
        if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON
                                   or not reason.isprintable()):
            raise RegisterError(f"refund reason {str(reason)[:40]!r}: one line of printable text, at most {MAX_REASON} characters")
        request_id = "RFD" + uuid.uuid4().hex.upper()
        reversal = self.book.open_reversal(Kind.REFUND, sale, request_id, amount, reason, self._now())
        return self._send(reversal, sale)

    def _reversible(self, sale: Sale, verb: str) -> None:
        if not sale.approved:
            said = "not resolved yet" if not sale.resolved else f"{sale.state.value.lower().replace('_', ' ')}"
            raise RegisterError(f"sale {sale.receipt_number} is {said}: no payment was taken to {verb}")
        if sale.voided:
            raise RegisterError(f"sale {sale.receipt_number} is voided already: its payment was cancelled")
        pending = sale.pending_reversal
        if pending is not None:
            raise RegisterError(f"sale {sale.receipt_number} has a {pending.kind.lower()} ({pending.receipt_number}) "
                                "still waiting for the gateway's answer; it is sent again when the register opens")

    def _send(self, reversal: Reversal, sale: Sale) -> Reversal:
        """Send a pending void (cancel) or refund until the gateway answers S or F, at most
        ``polling.cancel_attempts`` times ``polling.interval_s`` apart; else it stays PENDING."""
        attempts = self.settings.polling.cancel_attempts
        for attempt in range(1, attempts + 1):
            if reversal.kind is Kind.VOID:
                reply = self.gateway.cancel(payment_request_id=reversal.request_id)
            else:
                reply = self.gateway.refund(reversal.request_id, sale.payment_id, reversal.amount, reason=reversal.reason)
            settled = self._settle_reversal(reversal, reply)
            if settled is not None:
                return settled
            if attempt < attempts:
                self._sleep(self.settings.polling.interval_s)
        return reversal

    def _settle_reversal(self, reversal: Reversal, reply: Reply) -> Reversal | None:
        """Record a void's or refund's answer: DONE on S, REFUSED on F; None when it says nothing sure."""
        if not isinstance(reply, GatewayAnswer) or reply.status == "U":
            return None
        if reply.failed:
            return self.book.settle_reversal(reversal.receipt_number, ReversalState.REFUSED, result_code=reply.code,
                                             result_message=reply.message)
        wallet_amount = None
        if reversal.kind is Kind.REFUND:
            try:
                refunded = reply.amount("refundAmount")
                wallet_amount = reply.amount("customerRefundAmount")
            except AmountError:
                return None
            if refunded is not None and refunded != reversal.amount:
                return None  # an answer about another amount is no answer to this refund
        return self.book.settle_reversal(reversal.receipt_number, ReversalState.DONE, result_code=reply.code,
                                         result_message=reply.message, refund_id=reply.text("refundId"),
                                         wallet_amount=wallet_amount)

    # --- receipts --------------------------------------------------------------------------------

    def receipt(self, sale: Sale | Reversal, copy: Copy | str = Copy.CUSTOMER, customer_language: str | None = None) -> Receipt:
        """The receipt of a sale, a void or a refund; RegisterError while its outcome is not known. Its labels
        are in the merchant's language, and in ``customer_language`` (the customer's wallet's) beside them
        when the settings say so (``customer_language_on_receipt``)."""
        copy = Copy(copy)
        s = self.settings
        if isinstance(sale, Reversal):
            return replace(self._reversal_receipt(sale, copy), customer_language=self._customer_language(customer_language))
        if not sale.resolved:
            raise RegisterError(f"sale {sale.receipt_number}: its payment is not resolved yet, no receipt to print")
        outcome = _OUTCOME[sale.state]
        result_code = sale.result_code or ("DECLINED" if outcome is ReceiptOutcome.DECLINED else None)
        return Receipt(
            merchant_name=s.merchant_name or self.catalogue.name, merchant_id=self._merchant_id(),
            terminal_id=s.terminal_id, receipt_number=sale.receipt_number, time=sale.created_at, kind=Kind.SALE,
            lines=sale.lines, subtotal=sale.subtotal, total=sale.amount, tender=sale.tender, outcome=outcome, copy=copy,
            locale=s.locale or self.catalogue.locale, store_id=s.store_id, taxes=sale.taxes, result_code=result_code,
            payment_id=sale.payment_id, customer_code=sale.customer_code, wallet=sale.wallet,
            wallet_amount=sale.wallet_amount, fx_rate=sale.fx_rate if sale.wallet_amount is not None else None,
            training=s.training, footer=s.receipt_footer, language=s.language,
            customer_language=self._customer_language(customer_language),
        )

    def _customer_language(self, customer_language: str | None) -> str | None:
        return customer_language if self.settings.customer_language_on_receipt else None

    def _reversal_receipt(self, reversal: Reversal, copy: Copy) -> Receipt:
        if reversal.state is ReversalState.PENDING:
            raise RegisterError(f"{reversal.kind.lower()} {reversal.receipt_number}: the gateway's answer is not known yet, "
                                "no receipt to print")
        sale = self.book.sale(reversal.sale_receipt)
        s = self.settings
        whole = reversal.amount == sale.amount
        refund_id = (f"Refund ID {reversal.refund_id}",) if reversal.refund_id else ()
        wallet_amount = rate = None
        if reversal.state is ReversalState.DONE and sale.wallet_amount is not None:
            wallet_amount = reversal.wallet_amount or (sale.wallet_amount if whole else None)
            if wallet_amount is not None and wallet_amount.minor <= 0:
                wallet_amount = None  # a small refund's share of a cross-border payment may round to nothing
            rate = sale.fx_rate if wallet_amount == sale.wallet_amount else None if wallet_amount is None \
                else _rate(wallet_amount, reversal.amount)
        done = reversal.state is ReversalState.DONE
        return Receipt(
            merchant_name=s.merchant_name or self.catalogue.name, merchant_id=self._merchant_id(),
            terminal_id=s.terminal_id, receipt_number=reversal.receipt_number, time=reversal.created_at, kind=reversal.kind,
            lines=sale.lines if whole else (), subtotal=sale.subtotal if whole else reversal.amount, total=reversal.amount,
            tender=sale.tender, outcome=ReceiptOutcome.APPROVED if done else ReceiptOutcome.DECLINED, copy=copy,
            locale=s.locale or self.catalogue.locale, store_id=s.store_id, taxes=sale.taxes if whole else (),
            result_code=None if done else reversal.result_code or "DECLINED", payment_id=sale.payment_id,
            customer_code=sale.customer_code, wallet=sale.wallet, wallet_amount=wallet_amount, fx_rate=rate,
            original_receipt=sale.receipt_number, training=s.training, footer=refund_id + s.receipt_footer,
            language=s.language,
        )

    def reprint(self, receipt_number: str, copy: Copy | str = Copy.CUSTOMER, customer_language: str | None = None) -> Receipt:
        """The receipt ``receipt_number`` (a sale, a void or a refund) again, as first printed (``customer_language``:
        as ``receipt`` takes it)."""
        reversal = self.book.reversal(receipt_number, missing_ok=True)
        return self.receipt(reversal if reversal is not None else self.book.sale(receipt_number), copy, customer_language)

    def _merchant_id(self) -> str:
        return self.settings.merchant_id or self.gateway.credentials.client_id

    # --- end of day ------------------------------------------------------------------------------

    def x_report(self) -> reports.Report:
        """The open batch's running totals, reconciled with the gateway; the batch stays open."""
        return self._report("X")

    def z_report(self) -> reports.Report:
        """The open batch's totals, reconciled with the gateway, and the batch closed (the report kept
        with it). Refused while a payment, void or refund of the batch waits for the gateway's answer:
        earlier runs are recovered first, and what still cannot be resolved keeps the batch open."""
        self.recovered = self.recover()
        batch = self.book.batch()
        unresolved = [s.receipt_number for s in self.book.sales(batch=batch.number, pending=True)]
        unresolved += [r.receipt_number for r in self.book.reversals(batch=batch.number, pending=True)]
        if unresolved:
            raise RegisterError(f"batch {batch.number} cannot close: {', '.join(unresolved)} still wait for the gateway's "
                                "answer (is it reachable?); try the Z report again")
        report = self._report("Z")
        self.book.close_batch(batch.number, report.json(), report.printed_at)
        return report

    def _report(self, kind: str) -> reports.Report:
        batch = self.book.batch()
        sales = self.book.sales(batch=batch.number)
        reversals = self.book.reversals(batch=batch.number)
        sale_of = {sale.receipt_number: sale for sale in sales}
        for reversal in reversals:
            if reversal.sale_receipt not in sale_of:
                sale_of[reversal.sale_receipt] = self.book.sale(reversal.sale_receipt)
        checked, mismatches = reports.reconcile(self.gateway, sales, reversals)
        zone = self.settings.zone()
        return reports.Report(
            kind=kind, merchant_name=self.settings.merchant_name or self.catalogue.name, terminal_id=self.settings.terminal_id,
            batch=batch.number, opened_at=batch.opened_at.astimezone(zone), printed_at=self._now(),
            totals=reports.tally(sales, reversals, sale_of),
            declined_count=sum(1 for s in sales if s.resolved and not s.approved),
            unresolved=tuple(s.receipt_number for s in sales if not s.resolved), checked=checked,
            mismatches=mismatches, training=self.settings.training, closed=kind == "Z",
        )

    # --- recovery --------------------------------------------------------------------------------

    def recover(self) -> RegisterRecovery:
        """Finish what earlier runs left: pending payments (resolved with the gateway), the sales they
        were for (settled from the journal), pending voids and refunds (sent again)."""
        payments = recover(self.gateway, self.journal, polling=self.settings.polling, clock=self._clock, sleep=self._sleep)
        answers = {o.payment_request_id: o for o in payments.outcomes}
        settled = []
        for sale in self.book.sales(pending=True):
            try:
                entry = self.journal.entry(sale.payment_request_id)
            except JournalError:  # never journalled, so never sent
                entry = None
            if entry is None:
                settled.append(self.book.settle_sale(sale.receipt_number, State.NOT_PROCESSED,
                                                     result_message="never sent: the terminal stopped before sending it"))
            elif entry.state.final:
                outcome = answers.get(sale.payment_request_id) or Outcome.of(entry)
                settled.append(self._settle(sale, outcome))
        resent = []
        for reversal in self.book.reversals(pending=True):
            resent.append(self._send(reversal, self.book.sale(reversal.sale_receipt)))
        return RegisterRecovery(payments, tuple(settled), tuple(resent))

    def _now(self) -> datetime:
        return datetime.now(self.settings.zone())


def receipt_prefix(settings: TerminalSettings) -> str:
    """What receipt numbers start with: the terminal id ("T01-000123"); "TRN-T01-..." in training."""
    return ("TRN-" if settings.training else "") + settings.terminal_id + "-"


def receipt_lines(cart: Cart) -> tuple[ReceiptLine, ...]:
    """The cart's lines as a receipt prints them (with the tax category's mark, like Japan's ※)."""
    marks = {category.code: category.mark for category in cart.tax_scheme.categories}
    return tuple(_receipt_line(line, marks.get(line.tax, "")) for line in cart.lines)


def _receipt_line(line: Line, mark: str) -> ReceiptLine:
    description = f"{line.description} {mark}" if mark else line.description
    if line.kind == "weight":
        return ReceiptLine(description, Weight(line.grams), line.price_per_kg, line.amount)  # type: ignore[arg-type]
    if line.kind == "label":
        return ReceiptLine(description, 1, line.amount, line.amount)
    return ReceiptLine(description, line.quantity, line.unit_price, line.amount)  # type: ignore[arg-type]


def tax_lines(cart: Cart) -> tuple[TaxLine, ...]:
    """The cart's tax at each rate that has one, as a receipt prints it."""
    scheme = cart.tax_scheme
    return tuple(TaxLine(scheme.name, f"{group.rate.normalize():f}%", group.tax, scheme.included)
                 for group in cart.taxes if group.rate > 0)


def describe(cart: Cart) -> str:
    """The order description sent with the payment: "2 x Kopi, Kaya Toast Set, ...", at most 256 characters."""
    parts = [f"{line.quantity} x {line.description}" if line.quantity != 1 else line.description for line in cart.lines]
    text = ", ".join(parts)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 3] + "..."


def _wallet(answer: Mapping[str, Any] | None, amount: Money) -> tuple[str | None, Money | None, Decimal | None]:
    """The wallet's name, and what it paid in its own currency at which rate, from the gateway's answer."""
    if not answer:
        return None, None, None
    info = answer.get("pspCustomerInfo")
    name = info.get("pspName") if isinstance(info, Mapping) else None
    name = name if isinstance(name, str) and name.strip() and len(name) <= 64 else None
    paid = answer.get("customerPayAmount")
    try:
        wallet_amount = read_amount(paid, "customerPayAmount") if paid is not None else None
    except AmountError:
        wallet_amount = None
    if wallet_amount is None or wallet_amount.currency == amount.currency or wallet_amount.minor <= 0:
        return name, None, None
    rate = _rate(wallet_amount, amount)
    quote = answer.get("paymentQuote")
    if isinstance(quote, Mapping):
        try:
            quoted = Decimal(str(quote.get("quotePrice")))
            # the quote's price, if it is the rate the wallet amount was worked out at (to a minor unit)
            if quoted.is_finite() and quoted > 0 and abs(amount.decimal() * quoted - wallet_amount.decimal()) \
                    <= Decimal(1).scaleb(-wallet_amount.currency.minor_units):
                rate = quoted
        except ArithmeticError:
            pass
    return name, wallet_amount, rate


def _rate(wallet_amount: Money, amount: Money) -> Decimal:
    """Wallet units per unit of ``amount``'s currency, to 8 places."""
    return (wallet_amount.decimal() / amount.decimal()).quantize(Decimal("0.00000001"))
