"""Scripted runs of the terminal for QA, demos and training: YAML scenarios, a headless runner, reports.

A scenario file holds one scenario, or several under ``scenarios:``. A scenario opens wallets at
the simulator, opens a register (a fresh journal of its own), and takes steps in order; each step
is one action and may say what it expects. ``pos-sim scenario run FILE...`` runs them against an
embedded simulator (or ``--backend URL``) and exits non-zero if any expectation is not met::

    name: Kopi and toast, paid by customer code
    description: The cashier scans two items; the customer shows the wallet's payment code.
    training: false                 # true: a training register (receipts stamped), the score shown
    terminal:                       # optional, over the runner's script settings
      store_id: S001
      deadline_s: 1                 # also: terminal_id, merchant_name, catalogue (a path relative to
                                    # this file), time_zone, receipt_width, poll_interval_s,
                                    # cancel_attempts, connect_timeout_s, read_timeout_s, code_lifetime_s
    wallets:
      alice: {currency: SGD, balance: "50.00"}
    steps:
      - scan_item: "21000010"                   # a product barcode of the catalogue
      - scan_item: "21000119"
        expect: {cart_total: "6.50"}
      - pay: {tender: customer-code, wallet: alice, label: breakfast}
        score: 2                                # points when the step passes (training)
        note: Ask for the customer's payment code  # shown with the step
        expect:
          state: APPROVED
          result_code: SUCCESS
          balance: {alice: "43.50"}
          receipt_contains: ["Kopi", "TOTAL", "APPROVED"]
          within_s: 5

Money is written in major units as text or a plain number ("12.50", 12.50, "12.50 SGD"), and read
exactly into minor units (never through a float); amounts of the cart, sales and reports are in
the catalogue's currency, a wallet's balance in its own.

Actions (``parse.EXPECTATIONS`` lists what each may expect):

- ``scan_item: BARCODE``; ``key_amount: "12.50"`` or ``{amount, description}``.
- ``pay: {tender, wallet, code, reuse_code, confirm_ms, advance_clock, label}``. ``customer-code``: the wallet's
  fresh payment code (or ``code:`` as written, or ``reuse_code: true``: its last code again);
  ``order-code`` / ``entry-code``: the terminal shows its code and the wallet scans it, taking
  ``confirm_ms`` to confirm (no wallet: nobody scans, the code expires); ``phone-tap``: the
  wallet's phone token tapped on the reader. ``advance_clock: N``: the simulator's clock moves on
  N s while the code is shown, before it is scanned (a stale code: EXPIRED_CODE, ORDER_IS_CLOSED).
- ``scan: {file | virtual | wedge, use, label}``: a code through a scanner source, then paid with
  (``use: pay``, the default) or put in the cart (``use: item``). ``file: images/code.png`` (beside
  the scenario file); ``virtual: {text | wallet | phone, symbology, damage, strength, seed}``
  rendered, damaged by a ``scan.damage`` profile and read by the scanner's decoders; ``wedge:
  "KEYS"`` or ``{keys | wallet, gap_ms, prefix, suffix}`` typed into the keyboard-wedge scanner's
  burst detection (a wallet's code is typed then Enter).
- ``fault: {call, action, result_code, count, delay_ms, match}``: armed at the simulator
  (``decline``, ``unknown``, ``late-success``, ``timeout``, ``error``). A scenario that arms
  faults disarms all of the simulator's before its first step and after its last.
- ``void: SALE``, ``refund: {sale, amount, reason, label}``, ``reprint: {receipt, copy}``: a sale
  or receipt by ``label``, by receipt number, or ``last`` (the default).
- ``report: x`` or ``report: z``; ``wait: SECONDS``; ``advance_clock: {seconds: N}`` (the
  simulator's ``POST /sim/clock``; a backend without one fails the step saying so).
- ``restart_terminal:``: the register closed and opened again on its journal; recovery runs.
- ``kill_terminal: {wallet, amount | items, when: paid | polling, label}``: a real ``pos-sim sale``
  process killed with SIGKILL mid-payment, then the register opened again: recovery finishes it.

Expectations: ``state`` (a sale's APPROVED, DECLINED, CANCELLED, REVERSED, NOT_PROCESSED,
CANCELLING...; a void's or refund's DONE, REFUSED, PENDING), ``outcome`` (the receipt's),
``result_code`` (null: none), ``balance: {wallet: amount}``, ``receipt_contains: [text, ...]`` (the
receipt, or a report's printout), ``report: {totals: {TENDER: {sales, sales_count, voids,
voids_count, refunds, refunds_count, net}}, net, declined_count, unresolved, checked, mismatches,
closed}``, ``within_s``, ``error`` (the step is refused, saying this), ``scanned`` (the text read;
false: nothing), ``cart_total``, ``recovered`` (the states of the sales a restart recovered).

A malformed file, an unknown action or field, or a value of the wrong kind is a ``ScenarioError``
naming ``file:line:column`` and what is wrong (``parse``). ``runner`` runs scenarios and collects
``results``, which write JUnit XML and JSON. The simulator's ``/sim`` admin API is reached over
HTTP (``simulator``): this package never imports the backend.
"""

from pos_sim.scenarios.model import Scenario, ScenarioError, ScenarioFile
from pos_sim.scenarios.parse import parse_file, parse_text

__all__ = ["Scenario", "ScenarioError", "ScenarioFile", "parse_file", "parse_text"]
