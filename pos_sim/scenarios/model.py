"""What a scenario file says, once read: scenarios, their wallets and terminal, steps and expectations.

Every value here has been checked by ``parse``; every step and expectation knows where it was
written (``Where``: file, line, column), so a failure can point at the line that expected it.
Money is ``Money`` (integer minor units and a currency), read exactly from the text written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Tender

TENDERS: dict[str, Tender] = {
    "customer-code": Tender.CUSTOMER_CODE,
    "order-code": Tender.ORDER_CODE,
    "entry-code": Tender.ENTRY_CODE,
    "phone-tap": Tender.WALLET_TAP,
}
"""A scenario's names of the four tenders, and the register's."""

LAST = "last"
"""The sale (``void``, ``refund``) or receipt (``reprint``) a step refers to when it names none."""


@dataclass(frozen=True)
class Where:
    """A place in a scenario file, lines and columns counted from 1."""

    path: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class ScenarioError(Exception):
    """A scenario file that cannot be run as written: said with the file, line and column, and what is wrong."""

    def __init__(self, message: str, where: Where | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where is not None else message)


# --- the people and the terminal -----------------------------------------------------------------


@dataclass(frozen=True)
class WalletSpec:
    """A customer's wallet the scenario opens at the simulator before its first step."""

    name: str
    balance: Money
    where: Where

    @property
    def currency(self) -> str:
        return self.balance.currency.code


@dataclass(frozen=True)
class TerminalSetup:
    """The register's settings for one scenario, as ``TerminalSettings.build`` names them
    (``"polling.deadline_s"``, ``"store_id"``...), over the runner's script defaults."""

    values: dict[str, Any] = field(default_factory=dict)
    currency: str = "SGD"   # the catalogue's: every amount of the cart, sale and reports is in it


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanItem:
    """Scan a product barcode into the cart."""

    barcode: str


@dataclass(frozen=True)
class KeyAmount:
    """Key an amount by hand into the cart."""

    amount: Money
    description: str = "Open item"


@dataclass(frozen=True)
class Pay:
    """Charge the cart by a tender: ``customer-code`` (the wallet's fresh payment code, the ``code``
    given, or the wallet's last code again with ``reuse_code``), ``order-code`` and ``entry-code``
    (the wallet scans the merchant's code, taking ``confirm_ms`` to confirm; no wallet: nobody
    scans), ``phone-tap`` (the wallet's phone token tapped). ``advance_clock``: the seconds the
    simulator's clock moves on while the code is shown, before it is scanned (codes go stale)."""

    tender: str
    wallet: str | None = None
    code: str | None = None
    reuse_code: bool = False
    confirm_ms: int = 0
    advance_clock: int = 0
    label: str | None = None


@dataclass(frozen=True)
class FileSource:
    """An image file the scanner reads."""

    path: Path


@dataclass(frozen=True)
class VirtualSource:
    """A code the simulator renders, damages by ``damage`` at ``strength`` (seeded), and the scanner
    reads: ``text`` as written, the ``wallet``'s fresh payment code, or its ``phone``'s tap payload."""

    text: str | None = None
    wallet: str | None = None
    phone: str | None = None
    symbology: str | None = None
    damage: str = "none"
    strength: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class WedgeSource:
    """A keyboard-wedge scanner's burst: ``keys`` as written, or the ``wallet``'s fresh payment code
    then ``suffix``, one key every ``gap_ms``, through the wedge scanner's burst detection."""

    keys: str | None = None
    wallet: str | None = None
    gap_ms: float = 8.0
    prefix: str = ""
    suffix: str = "\r"


ScanSource = FileSource | VirtualSource | WedgeSource


@dataclass(frozen=True)
class Scan:
    """Read a code from a scanner source, then pay the cart with it (``use: pay``) or put the item
    it stands for in the cart (``use: item``)."""

    source: ScanSource
    use: str = "pay"
    label: str | None = None


@dataclass(frozen=True)
class Fault:
    """Arm a fault of the simulator (``POST /sim/faults``) for the next ``count`` matching calls."""

    call: str
    action: str
    result_code: str | None = None
    count: int = 1
    delay_ms: int | None = None
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Void:
    """Void a sale: its label, its receipt number, or the last sale."""

    sale: str = LAST
    label: str | None = None


@dataclass(frozen=True)
class Refund:
    """Refund ``amount`` of a sale (all that is left when none is given)."""

    sale: str = LAST
    amount: Money | None = None
    reason: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Reprint:
    """Print a receipt again (a sale's, a void's or a refund's): its label, number, or the last receipt."""

    receipt: str = LAST
    copy: str = "customer"


@dataclass(frozen=True)
class Report:
    """The X report (running totals) or the Z report (totals, and the batch closed)."""

    kind: str


@dataclass(frozen=True)
class Wait:
    """Let ``seconds`` pass (a late success lands, a confirm finishes)."""

    seconds: float


MAX_ADVANCE_S = 366 * 86400
"""The most the simulator's clock moves on at once (a year and a day, as ``POST /sim/clock`` takes)."""


@dataclass(frozen=True)
class AdvanceClock:
    """Move the simulator's clock on by ``seconds`` (``POST /sim/clock``): codes and orders expire."""

    seconds: int


@dataclass(frozen=True)
class RestartTerminal:
    """Close the register and open it again on the same journal and sales book: recovery runs; the cart is empty."""


@dataclass(frozen=True)
class KillTerminal:
    """Ring up a sale in a real ``pos-sim sale`` process on the same journal, pay it with the wallet's
    fresh code, kill the process (SIGKILL) once the payment is ``when`` (``paid`` at the gateway, or
    ``polling`` for its outcome), then open the register again: recovery finishes the payment."""

    wallet: str
    when: str = "paid"
    amount: Money | None = None
    items: tuple[str, ...] = ()
    label: str | None = None


Action = (ScanItem | KeyAmount | Pay | Scan | Fault | Void | Refund | Reprint | Report | Wait | AdvanceClock
          | RestartTerminal | KillTerminal)


# --- expectations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenderTotalsExpected:
    """A report's expected totals of one tender (only the fields given are compared)."""

    tender: str
    sales: Money | None = None
    sales_count: int | None = None
    voids: Money | None = None
    voids_count: int | None = None
    refunds: Money | None = None
    refunds_count: int | None = None
    net: Money | None = None


@dataclass(frozen=True)
class ReportExpected:
    """A report's expected figures (only the fields given are compared)."""

    totals: tuple[TenderTotalsExpected, ...] = ()
    net: Money | None = None
    declined_count: int | None = None
    unresolved: int | None = None
    checked: int | None = None
    mismatches: int | None = None
    closed: bool | None = None


@dataclass(frozen=True)
class Expectation:
    """One thing a step expects, where it was written. ``name`` and its ``value``:

    ``state`` (str), ``outcome`` (str), ``result_code`` (str, or None: no result code),
    ``balance`` (dict wallet -> Money), ``receipt_contains`` (tuple of str), ``report``
    (ReportExpected), ``within_s`` (float), ``error`` (str), ``scanned`` (str, or False: nothing
    read), ``cart_total`` (Money), ``recovered`` (tuple of states).
    """

    name: str
    value: Any
    where: Where


@dataclass(frozen=True)
class Step:
    """One action, what it expects, and the points it scores when it passes."""

    number: int          # from 1, in its scenario
    keyword: str         # the action as written: "pay", "scan_item"...
    action: Action
    expect: tuple[Expectation, ...]
    where: Where
    score: int = 0
    note: str | None = None

    def expectation(self, name: str) -> Expectation | None:
        return next((e for e in self.expect if e.name == name), None)


@dataclass(frozen=True)
class Scenario:
    """A scripted run: wallets to open, a terminal to open, steps to take in order."""

    name: str
    steps: tuple[Step, ...]
    where: Where
    description: str | None = None
    training: bool = False
    wallets: dict[str, WalletSpec] = field(default_factory=dict)
    terminal: TerminalSetup = field(default_factory=TerminalSetup)

    @property
    def max_score(self) -> int:
        return sum(step.score for step in self.steps)

    @property
    def scored(self) -> bool:
        """A training exercise, or a scenario whose steps score points: its score is shown."""
        return self.training or self.max_score > 0


@dataclass(frozen=True)
class ScenarioFile:
    """One file of scenarios (a single scenario, or a ``scenarios:`` list)."""

    path: Path
    scenarios: tuple[Scenario, ...]
    description: str | None = None
