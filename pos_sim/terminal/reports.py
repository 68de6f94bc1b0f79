"""End of day: the X report (running totals of the open batch) and the Z report (the same, closing it).

Totals are by tender and currency, over the batch: **sales** (payments approved, a sale voided later
included), **voids** (sales whose payment was cancelled), **refunds** (done in this batch, of a sale
of any batch), and **net** = sales - voids - refunds; each with its count. Sales declined or closed
unpaid are counted apart; a sale whose payment is not resolved yet is listed by receipt number.

Every report is reconciled against the gateway: an ``inquiryPayment`` for each payment approved in
the batch (expected SUCCESS for the amount sold, or CANCELLED once voided) and an ``inquiryRefund``
for each refund done in it (expected SUCCESS for the amount refunded). A **mismatch** is listed when
the gateway says another status or amount, or does not know the payment, or gives no answer (said
so: the books could not be checked). The gateway's word is reported, never written back: a
mismatch is for a person to look into.

``layout(report, width)`` prints it in the receipt printer's 32, 42 or 48 columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Currency, Money
from pos_sim.domain.receipt import TRAINING_STAMP, Kind, display_width, wrap
from pos_sim.language import _
from pos_sim.terminal.gateway import GatewayAnswer, GatewayClient
from pos_sim.terminal.journal import State
from pos_sim.terminal.sales import Reversal, ReversalState, Sale


@dataclass(frozen=True)
class TenderTotals:
    """One tender's totals in one currency over a batch."""

    tender: str
    currency: Currency
    sales_count: int = 0
    sales: Money | None = None
    voids_count: int = 0
    voids: Money | None = None
    refunds_count: int = 0
    refunds: Money | None = None

    def __post_init__(self) -> None:
        for name in ("sales", "voids", "refunds"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, Money(0, self.currency))

    @property
    def net(self) -> Money:
        return self.sales - self.voids - self.refunds  # type: ignore[operator]

    def json(self) -> dict[str, Any]:
        amounts = {name: getattr(self, name).minor for name in ("sales", "voids", "refunds", "net")}
        return {"tender": self.tender, "currency": self.currency.code, **amounts,
                "salesCount": self.sales_count, "voidsCount": self.voids_count, "refundsCount": self.refunds_count}


@dataclass(frozen=True)
class Mismatch:
    """A payment or refund the terminal and the gateway do not agree on: what each says."""

    receipt_number: str
    request_id: str
    terminal: str
    gateway: str

    def json(self) -> dict[str, str]:
        return {"receiptNumber": self.receipt_number, "requestId": self.request_id, "terminal": self.terminal, "gateway": self.gateway}


@dataclass(frozen=True)
class Report:
    """An X or Z report of one batch."""

    kind: str                      # "X" or "Z"
    merchant_name: str
    terminal_id: str
    batch: int
    opened_at: datetime
    printed_at: datetime
    totals: tuple[TenderTotals, ...]
    declined_count: int
    unresolved: tuple[str, ...]    # receipt numbers of sales not resolved yet
    checked: int                   # payments and refunds reconciled
    mismatches: tuple[Mismatch, ...] = ()
    training: bool = False
    closed: bool = field(default=False)  # a Z report that closed its batch

    def json(self) -> dict[str, Any]:
        return {
            "report": self.kind, "merchantName": self.merchant_name, "terminalId": self.terminal_id, "batch": self.batch,
            "openedAt": self.opened_at.isoformat(), "printedAt": self.printed_at.isoformat(), "closed": self.closed,
            "training": self.training, "totals": [t.json() for t in self.totals], "declinedCount": self.declined_count,
            "unresolved": list(self.unresolved), "checked": self.checked, "mismatches": [m.json() for m in self.mismatches],
        }


def tally(sales: list[Sale], reversals: list[Reversal], sale_of: dict[str, Sale]) -> tuple[TenderTotals, ...]:
    """Totals by tender and currency of a batch's ``sales`` and ``reversals`` (``sale_of`` finds the
    sale a reversal of an earlier batch was of), in the order tenders were first used."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}

    def bucket(tender: str, cur: Currency) -> dict[str, Any]:
        return totals.setdefault((tender, cur.code), {"tender": tender, "currency": cur, "sales_count": 0, "sales": Money(0, cur),
                                                      "voids_count": 0, "voids": Money(0, cur), "refunds_count": 0,
                                                      "refunds": Money(0, cur)})

    for sale in sales:
        if sale.state is State.APPROVED:
            b = bucket(sale.tender, sale.amount.currency)
            b["sales_count"] += 1
            b["sales"] += sale.amount
    for reversal in reversals:
        if reversal.state is not ReversalState.DONE:
            continue
        b = bucket(sale_of[reversal.sale_receipt].tender, reversal.amount.currency)
        name = "voids" if reversal.kind is Kind.VOID else "refunds"
        b[f"{name}_count"] += 1
        b[name] += reversal.amount
    return tuple(TenderTotals(**b) for b in totals.values())


def _said(status: str | None, amount: Money | None) -> str:
    return " ".join(filter(None, (status or "no status", amount and f"{amount.major_str()} {amount.currency.code}")))


def reconcile(gateway: GatewayClient, sales: list[Sale], reversals: list[Reversal]) -> tuple[int, tuple[Mismatch, ...]]:
    """Ask the gateway about every approved payment and every refund done of a batch: how many were
    checked, and where it disagrees with the terminal."""
    mismatches: list[Mismatch] = []
    checked = 0
    for sale in sales:
        if sale.state is not State.APPROVED:
            continue
        checked += 1
        expected = _said("CANCELLED" if sale.voided else "SUCCESS", sale.amount)
        reply = gateway.inquire_payment(payment_request_id=sale.payment_request_id)
        found = _found(reply, "paymentStatus", "paymentAmount")
        if found != expected:
            mismatches.append(Mismatch(sale.receipt_number, sale.payment_request_id, expected, found))
    for reversal in reversals:
        if reversal.kind is not Kind.REFUND or reversal.state is not ReversalState.DONE:
            continue
        checked += 1
        expected = _said("SUCCESS", reversal.amount)
        found = _found(gateway.inquire_refund(refund_request_id=reversal.request_id), "refundStatus", "refundAmount")
        if found != expected:
            mismatches.append(Mismatch(reversal.receipt_number, reversal.request_id, f"refund {expected}", f"refund {found}"))
    return checked, tuple(mismatches)


def _found(reply: Any, status_name: str, amount_name: str) -> str:
    """What an inquiry's ``reply`` says, as ``_said`` words it; or why it says nothing."""
    if not isinstance(reply, GatewayAnswer):
        return f"no answer ({reply.failure.value}: {reply.detail})"
    if not reply.succeeded:
        return f"{reply.code} (the gateway holds no such record)" if reply.code == "ORDER_NOT_EXIST" else f"inquiry answered {reply.status} {reply.code}"
    try:
        amount = reply.amount(amount_name)
    except AmountError as exc:
        return f"{reply.text(status_name)} with an unreadable amount ({exc})"
    return _said(reply.text(status_name), amount)


# --- layout ------------------------------------------------------------------------------------


def _pair(label: str, value: str, width: int) -> list[str]:
    gap = width - display_width(label) - display_width(value)
    if gap >= 1:
        return [label + " " * gap + value]
    return wrap(label, width) + [" " * max(0, width - display_width(value)) + value]


def _centre(text: str, width: int) -> str:
    return " " * max(0, (width - display_width(text)) // 2) + text


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _count_amount(label: str, count: int, money: Money, width: int) -> list[str]:
    value = f"{count:>4}  {money.major_str():>12}"
    return _pair("  " + label, value.strip() if display_width(value) + 3 > width else value, width)


def unresolved_label() -> str:
    """The label of the unresolved sales' line, in the merchant's language (the UI colours from it on)."""
    return _("Unresolved")


def gateway_check_label() -> str:
    """The label of the gateway check's line, in the merchant's language (the UI colours from it on)."""
    return _("Gateway check")


def layout(report: Report, width: int) -> list[str]:
    """The report as lines of at most ``width`` columns, in the merchant's language."""
    rule = "-" * width
    title = (_("{kind} REPORT - BATCH CLOSED") if report.closed else _("{kind} REPORT - RUNNING TOTALS")).format(
        kind=report.kind)
    stamp = _(TRAINING_STAMP)
    out: list[str] = []
    if report.training:
        out += [_centre(stamp, width), ""]
    out += [_centre(piece, width) for piece in wrap(title, width)]
    out += [_centre(piece, width) for piece in wrap(report.merchant_name, width)]
    out += [""]
    out += _pair(_("Terminal"), report.terminal_id, width)
    out += _pair(_("Batch"), str(report.batch), width)
    out += _pair(_("Opened"), _when(report.opened_at), width)
    out += _pair(_("Closed") if report.closed else _("Printed"), _when(report.printed_at), width)
    out.append(rule)
    by_currency: dict[str, Money] = {}
    for totals in report.totals:
        out += _pair(_(totals.tender), totals.currency.code, width)
        out += _count_amount(_("Sales"), totals.sales_count, totals.sales, width)  # type: ignore[arg-type]
        out += _count_amount(_("Voids"), totals.voids_count, totals.voids, width)  # type: ignore[arg-type]
        out += _count_amount(_("Refunds"), totals.refunds_count, totals.refunds, width)  # type: ignore[arg-type]
        out += _pair("  " + _("Net"), totals.net.major_str(), width)
        code = totals.currency.code
        by_currency[code] = by_currency.get(code, Money(0, totals.currency)) + totals.net
    if not report.totals:
        out.append(_("No payments in this batch"))
    out.append(rule)
    for code, net in by_currency.items():
        out += _pair(_("NET {currency}").format(currency=code), net.major_str(), width)
    out += _pair(_("Declined or not paid"), str(report.declined_count), width)
    out += _pair(unresolved_label(), str(len(report.unresolved)), width)
    out += [f"  {number}" for number in report.unresolved]
    out.append(rule)
    count = len(report.mismatches)
    verdict = (_("{checked}, all agree") if not count else _("{checked}, {count} mismatch") if count == 1
               else _("{checked}, {count} mismatches")).format(checked=report.checked, count=count)
    out += _pair(gateway_check_label(), verdict, width)
    for mismatch in report.mismatches:
        out += _pair(f"  {mismatch.receipt_number}", mismatch.request_id[-12:], width)
        out += ["    " + piece for piece in wrap(_("terminal: {said}").format(said=mismatch.terminal), width - 4)]
        out += ["    " + piece for piece in wrap(_("gateway: {said}").format(said=mismatch.gateway), width - 4)]
    if report.training:
        out += ["", _centre(stamp, width)]
    return out
