"""Reading scenario files: YAML nodes (``yaml.compose``, so every value knows its line) into the model.

``parse_file(path)`` and ``parse_text(text, path)`` return a ``ScenarioFile`` or raise a
``ScenarioError`` naming ``file:line:column`` and what is wrong there: YAML that does not parse,
a field or action that does not exist (with the nearest known name), a value of the wrong kind or
out of range, a wallet or sale label used before it is defined, an image file that is not there.
Nothing is run or sent while reading; the catalogue a scenario sells from is read, because its
currency is the one the scenario's amounts are written in.

Text values are taken as written: ``scan_item: 071823004513`` is that barcode, leading zero and all,
and ``key_amount: 12.50`` is exactly 1250 cents (the YAML number is never made a float).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money, currency as currency_of
from pos_sim.domain.receipt import Outcome
from pos_sim.scan import damage
from pos_sim.scenarios.model import (
    LAST, MAX_ADVANCE_S, TENDERS, AdvanceClock, Expectation, Fault, FileSource, KeyAmount, KillTerminal, Pay, Refund, Report,
    ReportExpected, Reprint, RestartTerminal, Scan, ScanItem, Scenario, ScenarioError, ScenarioFile, Step,
    TenderTotalsExpected, TerminalSetup, VirtualSource, Void, Wait, WalletSpec, WedgeSource, Where,
)
from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.gateway import CALLS
from pos_sim.terminal.journal import State
from pos_sim.terminal.sales import ReversalState
from pos_sim.terminal.settings import DEFAULT_CATALOGUE, TerminalSettings, read_catalogue_file

STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))
FAULT_ACTIONS = ("decline", "unknown", "late-success", "timeout", "error")
SYMBOLOGIES = ("qr", "ean13", "ean8", "upca", "code128")
KILL_WHEN = ("paid", "polling")
MAX_FILE_BYTES = 1_000_000

TERMINAL_KEYS = {
    "terminal_id": "terminal_id", "store_id": "store_id", "merchant_name": "merchant_name", "merchant_id": "merchant_id",
    "catalogue": "catalogue", "time_zone": "time_zone", "locale": "locale", "receipt_width": "receipt_width",
    "poll_interval_s": "polling.interval_s", "deadline_s": "polling.deadline_s", "cancel_attempts": "polling.cancel_attempts",
    "connect_timeout_s": "gateway.connect_timeout_s", "read_timeout_s": "gateway.read_timeout_s",
    "code_lifetime_s": "code_lifetime_s",
}
"""The ``terminal:`` block's fields, and the setting each one is (``TerminalSettings.build``'s names)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_RECEIPT_NUMBER = re.compile(r"[A-Za-z0-9_-]+-[0-9]{6}")
_RESULT_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_MONEY = re.compile(r"(?:(?P<pre>[A-Z]{3}) )?(?P<number>-?[0-9]+(?:\.[0-9]+)?)(?: (?P<post>[A-Z]{3}))?")

_SALE_STATES = tuple(state.value for state in State)
_REVERSAL_STATES = tuple(state.value for state in ReversalState)
_COMMON = ("within_s", "error", "balance", "cart_total")
_SALE = ("state", "outcome", "result_code", "receipt_contains")
EXPECTATIONS: dict[str, tuple[str, ...]] = {
    "scan_item": _COMMON,
    "key_amount": _COMMON,
    "pay": _COMMON + _SALE,
    "scan": _COMMON + _SALE + ("scanned",),
    "fault": _COMMON,
    "void": _COMMON + _SALE,
    "refund": _COMMON + _SALE,
    "reprint": _COMMON + ("outcome", "receipt_contains"),
    "report": _COMMON + ("report", "receipt_contains"),
    "wait": _COMMON,
    "advance_clock": _COMMON,
    "restart_terminal": _COMMON + _SALE + ("recovered",),
    "kill_terminal": _COMMON + _SALE + ("recovered",),
}
"""What each action may expect (``state`` of a void or refund is DONE, REFUSED or PENDING)."""
ACTIONS = tuple(EXPECTATIONS)
STEP_FIELDS = ("expect", "score", "note")
SCENARIO_FIELDS = ("name", "description", "training", "terminal", "wallets", "steps")
REPORT_FIELDS = ("totals", "net", "declined_count", "unresolved", "checked", "mismatches", "closed")
TOTALS_FIELDS = ("sales", "sales_count", "voids", "voids_count", "refunds", "refunds_count", "net")


def parse_file(path: Path | str) -> ScenarioFile:
    """The scenarios of the YAML file at ``path``; ScenarioError naming the place of anything wrong."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_FILE_BYTES // 1000} kB; is it a scenario file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: a directory, not a scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return parse_text(text, path)


def parse_text(text: str, path: Path | str = Path("<scenario>")) -> ScenarioFile:
    """The scenarios of YAML ``text``, as if read from ``path`` (image files are found beside it)."""
    return _Reader(Path(path)).file(text)


@lru_cache(maxsize=16)
def _catalogue_currency(path: Path) -> str:
    return read_catalogue_file(path).currency.code


class _Reader:
    """Reads one file's nodes; knows the file, and, while reading a scenario, its wallets and labels."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wallets: dict[str, WalletSpec] = {}
        self.labels: dict[str, str] = {}     # label -> "sale", "void" or "refund"
        self.sales = 0                      # steps so far that ring up a sale
        self.receipts = 0                   # steps so far that print a receipt
        self.currency = "SGD"

    # --- places and errors ---

    def where(self, node: Node) -> Where:
        return Where(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node: Node, message: str) -> NoReturn:
        raise ScenarioError(message, self.where(node))

    # --- the file ---

    def file(self, text: str) -> ScenarioFile:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = " ".join(filter(None, (exc.context, exc.problem)))
            where = Where(self.path, mark.line + 1, mark.column + 1) if mark else None
            raise ScenarioError(f"not valid YAML: {problem}", where) from None
        except yaml.YAMLError as exc:  # a reader error: a character YAML does not allow
            position = getattr(exc, "position", 0) or 0
            line = text.count("\n", 0, position) + 1
            column = position - (text.rfind("\n", 0, position) + 1) + 1
            raise ScenarioError(f"not valid YAML: {getattr(exc, 'reason', exc)}", Where(self.path, line, column)) from None
        if root is None:
            raise ScenarioError("empty: a scenario file holds a scenario (name, steps) or a list of them (scenarios:)",
                                Where(self.path, 1, 1))
        fields = self.fields(root, "the file", (), ("scenarios", "description", *SCENARIO_FIELDS))
        if "scenarios" in fields:
            extra = [key for key in fields if key not in ("scenarios", "description")]
            if extra:
                self.fail(fields[extra[0]], f"{extra[0]}: a file with a scenarios: list holds its scenarios there, "
                                            "each with its own name and steps")
            items = self.sequence(fields["scenarios"], "scenarios")
            if not items:
                self.fail(fields["scenarios"], "scenarios: the list is empty")
            scenarios = tuple(self.scenario(item) for item in items)
        else:
            scenarios = (self.scenario(root),)
        names: dict[str, Scenario] = {}
        for scenario in scenarios:
            if scenario.name in names:
                raise ScenarioError(f"scenario {scenario.name!r} is named twice in this file (first at line "
                                    f"{names[scenario.name].where.line}); give each its own name", scenario.where)
            names[scenario.name] = scenario
        description = self.prose(fields["description"], "description") \
            if "scenarios" in fields and "description" in fields else None
        return ScenarioFile(self.path, scenarios, description)

    def scenario(self, node: Node) -> Scenario:
        fields = self.fields(node, "a scenario", ("name", "steps"), SCENARIO_FIELDS)
        self.wallets, self.labels, self.sales, self.receipts = {}, {}, 0, 0
        name = self.text(fields["name"], "name", most=120)
        training = self.boolean(fields["training"], "training") if "training" in fields else False
        terminal = self.terminal(fields.get("terminal"), training)
        self.currency = terminal.currency
        if "wallets" in fields:
            for key, (key_node, value) in self.mapping(fields["wallets"], "wallets").items():
                self.wallets[key] = self.wallet(key, key_node, value)
        items = self.sequence(fields["steps"], "steps")
        if not items:
            self.fail(fields["steps"], "steps: a scenario needs at least one step")
        steps = tuple(self.step(number, item) for number, item in enumerate(items, 1))
        description = self.prose(fields["description"], "description") if "description" in fields else None
        return Scenario(name, steps, self.where(node), description, training, dict(self.wallets), terminal)

    def terminal(self, node: Node | None, training: bool) -> TerminalSetup:
        values: dict[str, Any] = {"training": True} if training else {}
        catalogue = DEFAULT_CATALOGUE
        if node is not None:
            for key, value in self.fields(node, "terminal", (), tuple(TERMINAL_KEYS)).items():
                name = TERMINAL_KEYS[key]
                if key == "catalogue":
                    catalogue = (self.path.parent / self.text(value, "terminal.catalogue", most=500)).resolve()
                    given: Any = catalogue
                elif key in ("receipt_width", "cancel_attempts", "code_lifetime_s"):
                    given = self.integer(value, f"terminal.{key}", 1, 3600)
                elif key.endswith("_s"):
                    given = self.number(value, f"terminal.{key}", 0.0, 600.0)
                else:
                    given = self.text(value, f"terminal.{key}", most=64)
                try:  # each setting checked on its own, so an error points at its line
                    TerminalSettings.build({"gateway.url": "http://127.0.0.1", "gateway.simulator_data_dir": ".",
                                            "journal_dir": ".", name: given})
                except SettingsError as exc:
                    self.fail(value, f"terminal.{key}: {exc}")
                values[name] = given
                if key == "catalogue":
                    try:
                        _catalogue_currency(catalogue)
                    except SettingsError as exc:
                        self.fail(value, f"terminal.catalogue: {exc}")
        return TerminalSetup(values, _catalogue_currency(catalogue))

    def wallet(self, name: str, key_node: Node, node: Node) -> WalletSpec:
        if not _NAME.fullmatch(name):
            self.fail(key_node, f"wallet name {name!r}: a letter, then up to 31 letters, digits, '-' or '_'")
        fields = self.fields(node, f"wallet {name}", ("currency", "balance"), ("currency", "balance"))
        code = self.text(fields["currency"], f"wallets.{name}.currency", most=3)
        try:
            code = currency_of(code).code
        except AmountError as exc:
            self.fail(fields["currency"], f"wallets.{name}.currency: {exc}")
        return WalletSpec(name, self.money(fields["balance"], f"wallets.{name}.balance", code), self.where(key_node))

    # --- steps ---

    def step(self, number: int, node: Node) -> Step:
        fields = self.fields(node, f"step {number}", (), ACTIONS + STEP_FIELDS)
        actions = [key for key in fields if key in ACTIONS]
        if not actions:
            self.fail(node, f"step {number}: no action; a step is one of {', '.join(ACTIONS)} (with expect:, score:, note:)")
        if len(actions) > 1:
            self.fail(fields[actions[1]], f"step {number}: one action a step, and this one has {' and '.join(actions)}; "
                                          "make them two steps")
        keyword = actions[0]
        action = getattr(self, f"action_{keyword}")(fields[keyword])
        expect = self.expect(fields["expect"], keyword) if "expect" in fields else ()
        score = self.integer(fields["score"], "score", 0, 1000) if "score" in fields else 0
        note = self.prose(fields["note"], "note", most=500) if "note" in fields else None
        where = self.where(self.key_node(node, keyword))
        return Step(number, keyword, action, expect, where, score, note)

    def action_scan_item(self, node: Node) -> ScanItem:
        if isinstance(node, MappingNode):
            node = self.fields(node, "scan_item", ("barcode",), ("barcode",))["barcode"]
        return ScanItem(self.raw(node, "scan_item: the barcode", most=64))

    def action_key_amount(self, node: Node) -> KeyAmount:
        if not isinstance(node, MappingNode):
            return KeyAmount(self.money(node, "key_amount", self.currency, positive=True))
        fields = self.fields(node, "key_amount", ("amount",), ("amount", "description"))
        description = self.text(fields["description"], "key_amount.description", most=64) if "description" in fields else "Open item"
        return KeyAmount(self.money(fields["amount"], "key_amount.amount", self.currency, positive=True), description)

    def action_pay(self, node: Node) -> Pay:
        fields = self.fields(node, "pay", ("tender",), ("tender", "wallet", "code", "reuse_code", "confirm_ms",
                                                              "advance_clock", "label"))
        tender = self.choice(fields["tender"], "pay.tender", tuple(TENDERS))
        wallet = self.wallet_name(fields["wallet"], "pay.wallet") if "wallet" in fields else None
        code = self.raw(fields["code"], "pay.code", most=512) if "code" in fields else None
        reuse = self.boolean(fields["reuse_code"], "pay.reuse_code") if "reuse_code" in fields else False
        confirm_ms = self.integer(fields["confirm_ms"], "pay.confirm_ms", 0, 600_000) if "confirm_ms" in fields else 0
        if tender == "customer-code":
            if (wallet is None) == (code is None):
                self.fail(node, "pay: a customer-code payment takes the code of a wallet (wallet: NAME) or one "
                                "written out (code: ...), one of the two")
            if reuse and wallet is None:
                self.fail(fields["reuse_code"], "pay.reuse_code: shows the wallet's last code again; give the wallet:")
        else:
            for key in ("code", "reuse_code"):
                if key in fields:
                    self.fail(fields[key], f"pay.{key}: only a customer-code payment takes the customer's code; "
                                           f"{tender} does not")
            if tender == "phone-tap" and wallet is None:
                self.fail(node, "pay: a phone-tap payment needs the wallet whose phone is tapped (wallet: NAME)")
        if "confirm_ms" in fields and tender not in ("order-code", "entry-code"):
            self.fail(fields["confirm_ms"], "pay.confirm_ms: how long the customer takes to confirm a scanned "
                                            "order or entry code; not for " + tender)
        advance = self.integer(fields["advance_clock"], "pay.advance_clock", 1, MAX_ADVANCE_S) if "advance_clock" in fields else 0
        if advance and tender == "phone-tap":
            self.fail(fields["advance_clock"], "pay.advance_clock: the seconds that pass while a code is shown, before it is "
                                               "scanned; a phone tap shows none")
        label = self.label(fields["label"], "sale") if "label" in fields else None
        self.sales += 1
        self.receipts += 1
        return Pay(tender, wallet, code, reuse, confirm_ms, advance, label)

    def action_scan(self, node: Node) -> Scan:
        fields = self.fields(node, "scan", (), ("file", "virtual", "wedge", "use", "label"))
        sources = [key for key in ("file", "virtual", "wedge") if key in fields]
        if len(sources) != 1:
            self.fail(node, "scan: one scanner source: file: IMAGE, virtual: {...} or wedge: KEYS"
                            + (f" (this one has {' and '.join(sources)})" if sources else ""))
        kind = sources[0]
        source = getattr(self, f"source_{kind}")(fields[kind])
        use = self.choice(fields["use"], "scan.use", ("pay", "item")) if "use" in fields else "pay"
        if use == "item" and (getattr(source, "wallet", None) or getattr(source, "phone", None)):
            self.fail(fields["use"], "scan.use: item puts a product in the cart; a wallet's code is paid with (use: pay)")
        if "label" in fields and use != "pay":
            self.fail(fields["label"], "scan.label: names the sale a scan pays for; this scan puts an item in the cart")
        label = self.label(fields["label"], "sale") if "label" in fields else None
        if use == "pay":
            self.sales += 1
            self.receipts += 1
        return Scan(source, use, label)

    def source_file(self, node: Node) -> FileSource:
        written = self.text(node, "scan.file", most=500)
        path = self.path.parent / written
        if not path.is_file():
            self.fail(node, f"scan.file: no image {written!r} beside this file (looked for {path})")
        return FileSource(path)

    def source_virtual(self, node: Node) -> VirtualSource:
        fields = self.fields(node, "scan.virtual", (), ("text", "wallet", "phone", "symbology", "damage", "strength", "seed"))
        given = [key for key in ("text", "wallet", "phone") if key in fields]
        if len(given) != 1:
            self.fail(node, "scan.virtual: what the code holds: text: ..., wallet: NAME (its payment code) or phone: NAME "
                            "(its phone's tap), one of them" + (f"; this has {' and '.join(given)}" if given else ""))
        text = self.raw(fields["text"], "scan.virtual.text", most=512) if "text" in fields else None
        wallet = self.wallet_name(fields["wallet"], "scan.virtual.wallet") if "wallet" in fields else None
        phone = self.wallet_name(fields["phone"], "scan.virtual.phone") if "phone" in fields else None
        symbology = self.choice(fields["symbology"], "scan.virtual.symbology", SYMBOLOGIES) if "symbology" in fields else None
        profile = self.choice(fields["damage"], "scan.virtual.damage", damage.PROFILES) if "damage" in fields else "none"
        strength = self.number(fields["strength"], "scan.virtual.strength", 0.0, 1.0, low_ok=True) if "strength" in fields else 0.5
        seed = self.integer(fields["seed"], "scan.virtual.seed", 0, 2**31) if "seed" in fields else 0
        return VirtualSource(text, wallet, phone, symbology, profile, strength, seed)

    def source_wedge(self, node: Node) -> WedgeSource:
        if not isinstance(node, MappingNode):
            return WedgeSource(keys=self.raw(node, "scan.wedge", most=512, strip=False))
        fields = self.fields(node, "scan.wedge", (), ("keys", "wallet", "gap_ms", "prefix", "suffix"))
        if ("keys" in fields) == ("wallet" in fields):
            self.fail(node, "scan.wedge: the keys the scanner types (keys: ...) or a wallet whose code it reads "
                            "(wallet: NAME), one of the two")
        keys = self.raw(fields["keys"], "scan.wedge.keys", most=512, strip=False) if "keys" in fields else None
        wallet = self.wallet_name(fields["wallet"], "scan.wedge.wallet") if "wallet" in fields else None
        gap_ms = self.number(fields["gap_ms"], "scan.wedge.gap_ms", 0.0, 10_000.0, low_ok=True) if "gap_ms" in fields else 8.0
        prefix = self.raw(fields["prefix"], "scan.wedge.prefix", most=8, strip=False, empty=True) if "prefix" in fields else ""
        suffix = self.raw(fields["suffix"], "scan.wedge.suffix", most=8, strip=False, empty=True) if "suffix" in fields else "\r"
        return WedgeSource(keys, wallet, gap_ms, prefix, suffix)

    def action_fault(self, node: Node) -> Fault:
        fields = self.fields(node, "fault", ("call", "action"), ("call", "action", "result_code", "count", "delay_ms", "match"))
        call = self.choice(fields["call"], "fault.call", CALLS)
        action = self.choice(fields["action"], "fault.action", FAULT_ACTIONS)
        if action == "late-success" and call != "pay":
            self.fail(fields["action"], "fault.action: late-success applies to pay only")
        result_code = self.result_code(fields["result_code"], "fault.result_code") if "result_code" in fields else None
        if result_code is not None and action == "error":
            self.fail(fields["result_code"], "fault.result_code: an error fault answers HTTP 500 and takes no result code")
        count = self.integer(fields["count"], "fault.count", -1, 1000) if "count" in fields else 1
        if count == 0:
            self.fail(fields["count"], "fault.count: 1 or more calls, or -1 for every call until the scenario ends")
        delay_ms = None
        if "delay_ms" in fields:
            if action not in ("timeout", "late-success"):
                self.fail(fields["delay_ms"], f"fault.delay_ms: only timeout and late-success wait; {action} does not")
            delay_ms = self.integer(fields["delay_ms"], "fault.delay_ms", 0, 600_000)
        match: dict[str, str] = {}
        if "match" in fields:
            for path, (_key, value) in self.mapping(fields["match"], "fault.match").items():
                if not all(path.split(".")):
                    self.fail(_key, f"fault.match: {path!r} is not a dotted body path like paymentAmount.value")
                match[path] = self.raw(value, f"fault.match.{path}", most=128)
        return Fault(call, action, result_code, count, delay_ms, match)

    def action_void(self, node: Node) -> Void:
        fields = self.reference_fields(node, "void", "sale", ("sale", "label"))
        sale = self.reference(fields.get("sale"), "void.sale", sale_only=True, missing=node)
        label = self.label(fields["label"], "void") if "label" in fields else None
        self.receipts += 1
        return Void(sale, label)

    def action_refund(self, node: Node) -> Refund:
        fields = self.reference_fields(node, "refund", "sale", ("sale", "amount", "reason", "label"))
        sale = self.reference(fields.get("sale"), "refund.sale", sale_only=True, missing=node)
        amount = self.money(fields["amount"], "refund.amount", self.currency, positive=True) if "amount" in fields else None
        reason = self.text(fields["reason"], "refund.reason", most=256) if "reason" in fields else None
        label = self.label(fields["label"], "refund") if "label" in fields else None
        self.receipts += 1
        return Refund(sale, amount, reason, label)

    def action_reprint(self, node: Node) -> Reprint:
        fields = self.reference_fields(node, "reprint", "receipt", ("receipt", "copy"))
        receipt = self.reference(fields.get("receipt"), "reprint.receipt", sale_only=False, missing=node)
        copy = self.choice(fields["copy"], "reprint.copy", ("customer", "merchant")) if "copy" in fields else "customer"
        return Reprint(receipt, copy)

    def action_report(self, node: Node) -> Report:
        if isinstance(node, MappingNode):
            node = self.fields(node, "report", ("kind",), ("kind",))["kind"]
        return Report(self.choice(node, "report", ("x", "z"), fold=True))

    def action_wait(self, node: Node) -> Wait:
        if isinstance(node, MappingNode):
            node = self.fields(node, "wait", ("seconds",), ("seconds",))["seconds"]
        return Wait(self.number(node, "wait", 0.0, 600.0))

    def action_advance_clock(self, node: Node) -> AdvanceClock:
        if isinstance(node, MappingNode):
            node = self.fields(node, "advance_clock", ("seconds",), ("seconds",))["seconds"]
        return AdvanceClock(self.integer(node, "advance_clock.seconds", 1, MAX_ADVANCE_S))

    def action_restart_terminal(self, node: Node) -> RestartTerminal:
        if isinstance(node, MappingNode):
            self.fields(node, "restart_terminal", (), ())
        elif not (isinstance(node, ScalarNode) and (node.tag == NULL or node.tag == BOOL and self.value(node) is True)):
            self.fail(node, "restart_terminal: takes nothing; write `- restart_terminal:` or `- restart_terminal: true`")
        return RestartTerminal()

    def action_kill_terminal(self, node: Node) -> KillTerminal:
        fields = self.fields(node, "kill_terminal", ("wallet",), ("wallet", "when", "amount", "items", "label"))
        wallet = self.wallet_name(fields["wallet"], "kill_terminal.wallet")
        when = self.choice(fields["when"], "kill_terminal.when", KILL_WHEN) if "when" in fields else "paid"
        amount = self.money(fields["amount"], "kill_terminal.amount", self.currency, positive=True) if "amount" in fields else None
        items = tuple(self.raw(item, "kill_terminal.items[]", most=64) for item in self.sequence(fields["items"], "kill_terminal.items")) \
            if "items" in fields else ()
        if amount is None and not items:
            self.fail(node, "kill_terminal: the sale it rings up: amount: ... and/or items: [BARCODE, ...]")
        label = self.label(fields["label"], "sale") if "label" in fields else None
        self.sales += 1
        self.receipts += 1
        return KillTerminal(wallet, when, amount, items, label)

    # --- references to wallets and earlier receipts ---

    def wallet_name(self, node: Node, what: str) -> str:
        name = self.text(node, what, most=32)
        if name not in self.wallets:
            known = f" (wallets: {', '.join(self.wallets)})" if self.wallets else "; the scenario opens none (wallets:)"
            self.fail(node, f"{what}: no wallet {name!r}{self.nearest(name, self.wallets)}{known}")
        return name

    def label(self, node: Node, kind: str) -> str:
        name = self.text(node, "label", most=32)
        if not _NAME.fullmatch(name) or name == LAST or _RECEIPT_NUMBER.fullmatch(name):
            self.fail(node, f"label {name!r}: a letter, then up to 31 letters, digits, '-' or '_' (not 'last', "
                            "not a receipt number)")
        if name in self.labels:
            self.fail(node, f"label {name!r}: used already in this scenario (for a {self.labels[name]})")
        self.labels[name] = kind
        return name

    def reference_fields(self, node: Node, what: str, key: str, known: tuple[str, ...]) -> dict[str, Node]:
        """The fields of a void, refund or reprint: a mapping, a bare reference, or nothing (the last one)."""
        if isinstance(node, MappingNode):
            return self.fields(node, what, (), known)
        if isinstance(node, ScalarNode) and node.tag == NULL:
            return {}
        return {key: node}

    def reference(self, node: Node | None, what: str, *, sale_only: bool, missing: Node) -> str:
        """A sale or receipt named by label, by receipt number, or ``last``; checked against the steps before."""
        if node is None or self.text(node, what, most=64) == LAST:
            if (self.sales if sale_only else self.receipts) == 0:
                self.fail(node or missing, f"{what}: no {'sale' if sale_only else 'receipt'} before this step to refer to")
            return LAST
        name = self.text(node, what, most=64)
        if name in self.labels:
            if sale_only and self.labels[name] != "sale":
                self.fail(node, f"{what}: {name!r} labels a {self.labels[name]}, not a sale")
            return name
        if _RECEIPT_NUMBER.fullmatch(name):
            return name
        labels = f" (labels so far: {', '.join(self.labels)})" if self.labels else ""
        self.fail(node, f"{what}: {name!r} is no label of an earlier step{self.nearest(name, self.labels)}, nor a "
                        f"receipt number like T01-000001, nor 'last'{labels}")

    # --- expectations ---

    def expect(self, node: Node, keyword: str) -> tuple[Expectation, ...]:
        allowed = EXPECTATIONS[keyword]
        found = []
        for name, (key_node, value) in self.mapping(node, "expect").items():
            if name not in allowed:
                others = [n for actions in EXPECTATIONS.values() for n in actions]
                if name in others:
                    self.fail(key_node, f"expect.{name}: a {keyword} step cannot expect {name} (it can: {', '.join(allowed)})")
                self.fail(key_node, f"expect: unknown expectation {name!r}{self.nearest(name, allowed)} "
                                    f"(a {keyword} step can expect: {', '.join(allowed)})")
            found.append(Expectation(name, self.expected(name, value, keyword), self.where(key_node)))
        return tuple(found)

    def expected(self, name: str, node: Node, keyword: str) -> Any:
        what = f"expect.{name}"
        if name == "state":
            return self.choice(node, what, _REVERSAL_STATES if keyword in ("void", "refund") else _SALE_STATES)
        if name == "outcome":
            return self.choice(node, what, tuple(o.value for o in Outcome))
        if name == "result_code":
            return None if isinstance(node, ScalarNode) and node.tag == NULL else self.result_code(node, what)
        if name == "balance":
            balances = {}
            for wallet, (key_node, value) in self.mapping(node, what).items():
                self.wallet_name(key_node, what)
                balances[wallet] = self.money(value, f"{what}.{wallet}", self.wallets[wallet].currency)
            return balances
        if name == "receipt_contains":
            if isinstance(node, SequenceNode):
                return tuple(self.text(item, f"{what}[]", most=200, strip=False) for item in self.sequence(node, what))
            return (self.text(node, what, most=200, strip=False),)
        if name == "report":
            return self.report(node)
        if name == "within_s":
            return self.number(node, what, 0.0, 3600.0)
        if name == "error":
            return self.text(node, what, most=500, strip=False)
        if name == "scanned":
            if isinstance(node, ScalarNode) and node.tag == BOOL:
                if self.value(node) is not False:
                    self.fail(node, f"{what}: the text the scanner read, or false when it is to read nothing")
                return False
            return self.raw(node, what, most=512)
        if name == "cart_total":
            return self.money(node, what, self.currency)
        if name == "recovered":
            return tuple(self.choice(item, f"{what}[]", _SALE_STATES) for item in self.sequence(node, what))
        raise AssertionError(name)  # EXPECTATIONS and this list name the same expectations

    def report(self, node: Node) -> ReportExpected:
        fields = self.fields(node, "expect.report", (), REPORT_FIELDS)
        counts = {key: self.integer(fields[key], f"expect.report.{key}", 0, 1_000_000)
                  for key in ("declined_count", "unresolved", "checked", "mismatches") if key in fields}
        totals = []
        if "totals" in fields:
            for tender, (key_node, value) in self.mapping(fields["totals"], "expect.report.totals").items():
                if tender not in TENDERS:
                    self.fail(key_node, f"expect.report.totals: {tender!r} is not a tender{self.nearest(tender, TENDERS)} "
                                        f"(one of {', '.join(TENDERS)})")
                given = self.fields(value, f"expect.report.totals.{tender}", (), TOTALS_FIELDS)
                figures: dict[str, Any] = {}
                for key, figure in given.items():
                    where = f"expect.report.totals.{tender}.{key}"
                    figures[key] = self.integer(figure, where, 0, 1_000_000) if key.endswith("_count") \
                        else self.money(figure, where, self.currency, signed=True)
                totals.append(TenderTotalsExpected(tender, **figures))
        net = self.money(fields["net"], "expect.report.net", self.currency, signed=True) if "net" in fields else None
        closed = self.boolean(fields["closed"], "expect.report.closed") if "closed" in fields else None
        return ReportExpected(tuple(totals), net, closed=closed, **counts)

    # --- nodes and values ---

    def key_node(self, node: MappingNode, key: str) -> Node:
        return next(k for k, _v in node.value if isinstance(k, ScalarNode) and k.value == key)

    def mapping(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping's entries by key (text keys, each once), with their key and value nodes."""
        if not isinstance(node, MappingNode):
            self.fail(node, f"{what}: expected a mapping of name: value, found {self.kind(node)}")
        entries: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == "<<":
                self.fail(key, f"{what}: YAML merge keys (<<) are not read in scenario files; write the fields out")
            if not isinstance(key, ScalarNode) or key.tag not in (STR, INT):
                self.fail(key, f"{what}: a key is a name, not {self.kind(key)}")
            if key.value in entries:
                first = entries[key.value][0].start_mark.line + 1
                self.fail(key, f"{what}: {key.value!r} is given twice (first on line {first})")
            entries[key.value] = (key, value)
        return entries

    def fields(self, node: Node, what: str, required: Iterable[str], known: Iterable[str]) -> dict[str, Node]:
        """A mapping's values by field name: unknown fields refused (with the nearest known), required ones present."""
        known = tuple(known)
        entries = self.mapping(node, what)
        for key, (key_node, _value) in entries.items():
            if key not in known:
                listed = f" (known: {', '.join(known)})" if known else f"; {what} takes no fields"
                self.fail(key_node, f"{what}: unknown field {key!r}{self.nearest(key, known)}{listed}")
        for key in required:
            if key not in entries:
                self.fail(node, f"{what}: {key}: is missing")
        return {key: value for key, (_key_node, value) in entries.items()}

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, f"{what}: expected a list (lines starting '- '), found {self.kind(node)}")
        return list(node.value)

    def value(self, node: ScalarNode) -> Any:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)

    @staticmethod
    def kind(node: Node) -> str:
        if isinstance(node, MappingNode):
            return "a mapping"
        if isinstance(node, SequenceNode):
            return "a list"
        names = {STR: "text", INT: "a whole number", FLOAT: "a number", BOOL: "true/false", NULL: "nothing"}
        shown = f" {node.value!r}" if node.value and node.tag != NULL else ""
        return f"{names.get(node.tag, node.tag.rpartition(':')[2])}{shown}"

    @staticmethod
    def nearest(name: str, known: Iterable[str]) -> str:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
        return f"; did you mean {close[0]!r}?" if close else ""

    def raw(self, node: Node, what: str, *, most: int, strip: bool = True, empty: bool = False) -> str:
        """A scalar's text as written (a number's digits too: barcodes keep their leading zeros)."""
        if not isinstance(node, ScalarNode) or node.tag not in (STR, INT, FLOAT):
            self.fail(node, f"{what}: expected text, found {self.kind(node)}")
        text = node.value
        if (strip and text != text.strip()) or (not text and not empty):
            self.fail(node, f"{what}: {text!r}: must be non-empty, without surrounding spaces")
        if len(text) > most:
            self.fail(node, f"{what}: {text[:24]!r}...: at most {most} characters")
        return text

    def text(self, node: Node, what: str, *, most: int, strip: bool = True) -> str:
        text = self.raw(node, what, most=most, strip=strip)
        if not text.isprintable():
            self.fail(node, f"{what}: {text[:24]!r}: one line of printable text")
        return text

    def prose(self, node: Node, what: str, most: int = 2000) -> str:
        """Free text of one or more lines (a folded ``>`` block too), its surrounding blank space dropped."""
        text = self.raw(node, what, most=most, strip=False).strip()
        if not text or not all(line.isprintable() for line in text.splitlines()):
            self.fail(node, f"{what}: {text[:24]!r}: printable text, not empty")
        return text

    def choice(self, node: Node, what: str, choices: Iterable[str], fold: bool = False) -> str:
        choices = tuple(choices)
        text = self.raw(node, what, most=64) if isinstance(node, ScalarNode) and node.tag != BOOL else None
        if text is None:
            self.fail(node, f"{what}: expected one of {', '.join(choices)}, found {self.kind(node)}")
        text = text.lower() if fold else text
        if text not in choices:
            self.fail(node, f"{what}: {text!r} is not one of {', '.join(choices)}{self.nearest(text, choices)}")
        return text

    def integer(self, node: Node, what: str, low: int, high: int) -> int:
        if not isinstance(node, ScalarNode) or node.tag != INT:
            self.fail(node, f"{what}: expected a whole number, found {self.kind(node)}")
        value = self.value(node)
        if not low <= value <= high:
            self.fail(node, f"{what}: {value} is not from {low} to {high}")
        return value

    def number(self, node: Node, what: str, low: float, high: float, *, low_ok: bool = False) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (INT, FLOAT):
            self.fail(node, f"{what}: expected a number, found {self.kind(node)}")
        value = float(self.value(node))
        if not (low <= value if low_ok else low < value) or not value <= high:
            self.fail(node, f"{what}: {node.value} is not {'from' if low_ok else 'above'} {low:g} to {high:g}")
        return value

    def boolean(self, node: Node, what: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != BOOL:
            self.fail(node, f"{what}: expected true or false, found {self.kind(node)}")
        return bool(self.value(node))

    def result_code(self, node: Node, what: str) -> str:
        code = self.raw(node, what, most=64)
        if not _RESULT_CODE.fullmatch(code):
            self.fail(node, f"{what}: {code!r} is not a result code like USER_BALANCE_NOT_ENOUGH")
        return code

    def money(self, node: Node, what: str, code: str, *, positive: bool = False, signed: bool = False) -> Money:
        """Money as written: "12.50", or "12.50 SGD" / "SGD 12.50" naming the currency it must be in."""
        if not isinstance(node, ScalarNode) or node.tag not in (STR, INT, FLOAT):
            self.fail(node, f"{what}: expected an amount like \"12.50\", found {self.kind(node)}")
        written = node.value.strip()
        shape = _MONEY.fullmatch(written)
        if shape is None:
            self.fail(node, f"{what}: {written!r} is not an amount like \"12.50\" or \"12.50 {code}\"")
        named = shape["pre"] or shape["post"]
        if shape["pre"] and shape["post"]:
            self.fail(node, f"{what}: {written!r} names its currency twice")
        if named and named != code:
            self.fail(node, f"{what}: {written!r} is in {named}, and this amount is in {code}")
        try:
            money = Money.of_major(shape["number"], code)
        except AmountError as exc:
            self.fail(node, f"{what}: {exc}")
        if money.minor < 0 and not signed or positive and money.minor == 0:
            self.fail(node, f"{what}: {written!r} must be {'above' if positive else 'at least'} 0")
        return money
