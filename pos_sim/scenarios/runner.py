"""Running scenarios: a real register against a gateway, a simulator's /sim API for the customer's side.

``Runner(gateway_url, simulator_data_dir)`` runs scenarios one after another against the gateway at
``gateway_url`` as the demo merchant of ``simulator_data_dir`` (the simulator's keys), over HTTP
only. Each scenario gets a fresh journal folder (deleted afterwards), its wallets opened at the
simulator, and a ``Register`` opened with ``SCRIPT_SETTINGS`` under the scenario's ``terminal:``
block: short polling and deadlines, so a scripted U or timeout resolves in about a second. A
scenario that arms faults disarms every fault of the simulator before its first step and after its
last, so one scenario's faults never reach the next.

Steps run in order; the first that does not pass ends its scenario (the rest are skipped), since
what follows would be built on what it did not do. A step fails when an expectation is not met,
or when the register or the simulator refuses it (a ``TerminalError``, a ``DomainError``, a
``ScannerError``, a ``SimulatorError``) and no ``error:`` expected that refusal. Anything else that
goes wrong is the step's ``error``, said in one line. ``Runner.run`` can ask before each step
whether to run it (``before_step``) and tell each step's result as it comes (``on_step``): the
training screen runs an exercise a step per keypress that way.

``kill_terminal`` runs ``python -m pos_sim sale`` (the same interpreter) on the scenario's journal
and kills it with SIGKILL; the register is closed meanwhile, as one register process holds a
journal folder at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos_sim.domain import codes
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money
from pos_sim.domain.receipt import Copy, Receipt, Tender, layout
from pos_sim.scan import scanner, wedge
from pos_sim.scan.decoders import Decoder
from pos_sim.scan.scanner import ScannerError
from pos_sim.scenarios.model import (
    LAST, TENDERS, AdvanceClock, Expectation, Fault, FileSource, KeyAmount, KillTerminal, Pay, Refund, Report,
    ReportExpected, Reprint, RestartTerminal, Scan, ScanItem, Scenario, ScenarioFile, Step, VirtualSource, Void, Wait,
    WedgeSource,
)
from pos_sim.scenarios.results import ERROR, FAILED, PASSED, SKIPPED, Check, FileResult, ScenarioResult, StepResult
from pos_sim.scenarios.simulator import Simulator, SimulatorError
from pos_sim.terminal import reports
from pos_sim.terminal.authorize import MerchantCode
from pos_sim.terminal.errors import TerminalError
from pos_sim.terminal.gateway import GatewayAnswer, GatewayClient
from pos_sim.terminal.journal import Journal, State
from pos_sim.terminal.register import Register, RegisterRecovery
from pos_sim.terminal.sales import Reversal, ReversalState, Sale
from pos_sim.terminal.settings import TerminalSettings

SCRIPT_SETTINGS: dict[str, Any] = {
    "polling.interval_s": 0.1,
    "polling.deadline_s": 1.0,
    "polling.cancel_attempts": 3,
    "gateway.connect_timeout_s": 2.0,
    "gateway.read_timeout_s": 3.0,
    "code_lifetime_s": 15,
}
"""The register's settings for scripts, under each scenario's ``terminal:``: an unknown outcome is
chased for a second, a merchant code nobody scans expires in 15 s."""

KILL_WAIT_S = 30.0
"""How long ``kill_terminal`` waits for the terminal process to reach the moment it is killed at."""
PAYABLE = ("wallet-paycode", "emv-cpm")


class StepFailure(Exception):
    """A step that cannot do what it says: no code read, a terminal that finished before it was killed..."""


@dataclass
class _Happened:
    """What a step did, for its expectations to be held against."""

    sale: Sale | None = None
    reversal: Reversal | None = None
    receipt: Receipt | None = None
    report: reports.Report | None = None
    scanned: str | bool | None = None
    recovered: RegisterRecovery | None = None
    said: list[str] = field(default_factory=list)


class Runner:
    """Runs scenarios against one gateway (a pos-sim simulator, reached over HTTP)."""

    def __init__(self, gateway_url: str, simulator_data_dir: Path, *, work_dir: Path | None = None,
                 admin_token: str | None = None, python: str = sys.executable) -> None:
        self.gateway_url = gateway_url
        self.simulator_data_dir = Path(simulator_data_dir)
        self.work_dir = work_dir
        self.python = python
        self.simulator = Simulator(gateway_url, admin_token=admin_token)
        self._decoders: dict[str, Decoder] = {}

    def close(self) -> None:
        self.simulator.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def decoder(self, language: str) -> Decoder:
        """The scanner's decoder (the cascade) of a terminal speaking ``language``, made when a scan first needs it."""
        if language not in self._decoders:
            self._decoders[language] = scanner.decoder_named("auto", language=language)
        return self._decoders[language]

    def run_files(self, files: Iterable[ScenarioFile],
                  on_result: Callable[[ScenarioFile, ScenarioResult], None] | None = None) -> list[FileResult]:
        return [self.run_file(file, on_result) for file in files]

    def run_file(self, file: ScenarioFile,
                 on_result: Callable[[ScenarioFile, ScenarioResult], None] | None = None) -> FileResult:
        results = []
        for scenario in file.scenarios:
            result = self.run(scenario)
            results.append(result)
            if on_result is not None:
                on_result(file, result)
        return FileResult(file.path, results, file.description)

    def run(self, scenario: Scenario, *, before_step: Callable[[Step], bool] | None = None,
            on_step: Callable[[StepResult], None] | None = None) -> ScenarioResult:
        """Run one scenario, in a journal folder of its own.

        A UI that runs it a step at a time (the training screen) passes ``before_step``: asked
        before each step that would run, with its register open, it may wait (for the trainee's
        key) and says whether to run it; False stops the scenario there (that step and the rest
        are skipped, the register closed, faults cleared as ever). ``on_step`` is told each step's
        result as soon as it is known, in order, skipped steps too. Both are called on this thread.
        """
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="pos-sim-scenario-", dir=self.work_dir) as folder:
            return _Run(self, scenario, Path(folder)).go(before_step, on_step)


class _Run:
    """One scenario being run: its register, its wallets, the codes they showed, the receipts so far."""

    def __init__(self, runner: Runner, scenario: Scenario, journal_dir: Path) -> None:
        self.runner = runner
        self.sim = runner.simulator
        self.scenario = scenario
        self.journal_dir = journal_dir
        self._register: Register | None = None
        self.wallet_ids: dict[str, str] = {}
        self.last_code: dict[str, str] = {}
        self.labels: dict[str, str] = {}    # label -> receipt number
        self.last_sale: str | None = None
        self.last_receipt: str | None = None

    # --- the scenario ---

    def go(self, before_step: Callable[[Step], bool] | None = None,
           on_step: Callable[[StepResult], None] | None = None) -> ScenarioResult:
        started = time.monotonic()
        scenario = self.scenario
        arms_faults = any(isinstance(step.action, Fault) for step in scenario.steps)
        results: list[StepResult] = []
        try:
            try:
                self.settings = TerminalSettings.build({
                    **SCRIPT_SETTINGS, "gateway.url": self.runner.gateway_url,
                    "gateway.simulator_data_dir": self.runner.simulator_data_dir, "journal_dir": self.journal_dir,
                    **scenario.terminal.values})
                if arms_faults:
                    self.sim.clear_faults()
                for name, wallet in scenario.wallets.items():
                    self.wallet_ids[name] = self.sim.open_wallet(wallet.balance, name)
                self._register = Register.open(self.settings)
            except (TerminalError, DomainError, SimulatorError) as exc:
                return ScenarioResult(scenario, [StepResult(step, SKIPPED) for step in scenario.steps],
                                      time.monotonic() - started, setup_error=str(exc))
            for step in scenario.steps:
                go_on = not results or results[-1].passed
                if go_on and before_step is not None:
                    go_on = before_step(step)
                results.append(self.step(step) if go_on else StepResult(step, SKIPPED))
                if on_step is not None:
                    on_step(results[-1])
        finally:
            if self._register is not None:
                self._register.close()
                self._register = None
            if arms_faults:
                try:
                    self.sim.clear_faults()
                except SimulatorError:
                    pass  # the simulator is gone: its faults went with it
        return ScenarioResult(scenario, results, time.monotonic() - started)

    @property
    def register(self) -> Register:
        if self._register is None:
            raise StepFailure("the register is closed: it did not open again after the last restart")
        return self._register

    def step(self, step: Step) -> StepResult:
        happened = _Happened()
        expected_error = step.expectation("error")
        refusal: str | None = None
        started = time.monotonic()
        try:
            getattr(self, f"do_{step.keyword}")(step.action, step, happened)
        except (StepFailure, TerminalError, DomainError, ScannerError, SimulatorError) as exc:
            refusal = str(exc)
        except Exception as exc:  # a fault of the runner or its surroundings, said in one line
            return StepResult(step, ERROR, time.monotonic() - started, message=f"{type(exc).__name__}: {exc}",
                              happened=happened.said)
        duration = time.monotonic() - started
        result = StepResult(step, PASSED, duration, happened=happened.said)
        if expected_error is not None:
            wanted = expected_error.value
            result.checks.append(Check("error", f"a refusal saying {wanted!r}", repr(refusal) if refusal else
                                       "no refusal: the step went through", refusal is not None and wanted in refusal,
                                       expected_error.where))
        elif refusal is not None:
            result.status, result.message = FAILED, refusal
            return result
        try:
            for expectation in step.expect:
                if expectation.name != "error":
                    result.checks += self.check(expectation, happened, duration)
            result.printed = self.printed(happened)
        except (StepFailure, TerminalError, DomainError, SimulatorError) as exc:
            result.status, result.message = FAILED, f"checking what it did: {exc}"
            return result
        if not all(check.passed for check in result.checks):
            result.status = FAILED
        return result

    # --- actions ---

    def do_scan_item(self, action: ScanItem, _step: Step, happened: _Happened) -> None:
        cart = self.register.scan_item(action.barcode)
        happened.said.append(f"{cart.lines[-1].description}: cart {cart.total.major_str()} {cart.total.currency.code}")

    def do_key_amount(self, action: KeyAmount, _step: Step, happened: _Happened) -> None:
        cart = self.register.key_amount(action.amount, action.description)
        happened.said.append(f"keyed {action.amount.major_str()}: cart {cart.total.major_str()} {cart.total.currency.code}")

    def do_pay(self, action: Pay, _step: Step, happened: _Happened) -> None:
        tender = TENDERS[action.tender]
        code = on_code = None
        if action.tender == "customer-code":
            if action.code is not None:
                code = action.code
            elif action.reuse_code:
                if action.wallet not in self.last_code:
                    raise StepFailure(f"wallet {action.wallet} has shown no payment code yet to show again")
                code = self.last_code[action.wallet]  # type: ignore[index]
                happened.said.append(f"wallet {action.wallet} shows the code it showed before")
            else:
                code = self.fresh_code(action.wallet)  # type: ignore[arg-type]
            self.let_time_pass(action.advance_clock, happened)
        elif action.tender == "phone-tap":
            code = self.sim.tap(self.wallet_ids[action.wallet])  # type: ignore[index]
            happened.said.append(f"wallet {action.wallet}'s phone tapped")
        else:
            on_code = self.customer_scans(action.wallet, action.confirm_ms, action.advance_clock, happened)
        sale = self.register.pay(tender, code, on_code=on_code)
        self.record_sale(sale, action.label, happened)

    def do_scan(self, action: Scan, step: Step, happened: _Happened) -> None:
        text = self.read(action, happened)
        expected = step.expectation("scanned")
        if text is None:
            if expected is not None and expected.value is False:
                happened.scanned = False
                return
            source = action.source
            raise StepFailure(f"no code read in the image {source.path.name}" if isinstance(source, FileSource) else
                              f"no code read: the {source.damage} damage at {source.strength:g} defeated the scanner"
                              if isinstance(source, VirtualSource) else
                              "no code read: the wedge scanner took the keys for a person typing")
        happened.scanned = text
        if expected is not None and expected.value is False:
            return  # it was to read nothing: the check says so; nothing is paid
        if action.use == "item":
            self.do_scan_item(ScanItem(text), step, happened)
            return
        sale = self.register.pay(Tender.CUSTOMER_CODE, text)
        self.record_sale(sale, action.label, happened)

    def do_fault(self, action: Fault, _step: Step, happened: _Happened) -> None:
        armed = self.sim.arm_fault(action.call, action.action, result_code=action.result_code, count=action.count,
                                   delay_ms=action.delay_ms, match=action.match)
        times = "every call" if armed["count"] == -1 else f"{armed['count']} call" + ("s" if armed["count"] != 1 else "")
        detail = ", ".join(filter(None, (armed.get("resultCode"), armed.get("delayMs") is not None and f"{armed['delayMs']} ms")))
        happened.said.append(f"fault {armed['id']} armed: {armed['call']} {armed['action']}"
                             + (f" ({detail})" if detail else "") + f", {times}")

    def do_void(self, action: Void, _step: Step, happened: _Happened) -> None:
        reversal = self.register.void(self.sale_number(action.sale))
        self.record_reversal(reversal, action.label, happened)

    def do_refund(self, action: Refund, _step: Step, happened: _Happened) -> None:
        reversal = self.register.refund(self.sale_number(action.sale), action.amount, action.reason)
        self.record_reversal(reversal, action.label, happened)

    def do_reprint(self, action: Reprint, _step: Step, happened: _Happened) -> None:
        number = self.receipt_number(action.receipt)
        happened.receipt = self.register.reprint(number, Copy.MERCHANT if action.copy == "merchant" else Copy.CUSTOMER)
        happened.said.append(f"reprinted {number} ({action.copy} copy)")

    def do_report(self, action: Report, _step: Step, happened: _Happened) -> None:
        report = self.register.z_report() if action.kind == "z" else self.register.x_report()
        happened.report = report
        said = ", ".join(f"{t.tender} {t.currency.code} net {t.net.major_str()}" for t in report.totals) or "no payments"
        happened.said.append(f"{action.kind.upper()} report of batch {report.batch}: {said}; "
                             f"{len(report.mismatches)} mismatches of {report.checked} checked")

    def do_wait(self, action: Wait, _step: Step, happened: _Happened) -> None:
        time.sleep(action.seconds)
        happened.said.append(f"waited {action.seconds:g} s")

    def do_advance_clock(self, action: AdvanceClock, _step: Step, happened: _Happened) -> None:
        self.let_time_pass(action.seconds, happened)

    def let_time_pass(self, seconds: int, happened: _Happened) -> None:
        """Move the simulator's clock on ``seconds`` (none for 0)."""
        if not seconds:
            return
        try:
            said = self.sim.advance_clock(seconds)
        except SimulatorError as exc:
            if exc.status == 404:
                raise StepFailure(f"this backend cannot advance its clock (POST /sim/clock answered HTTP 404 at "
                                  f"{self.sim.url}); advance_clock needs a simulator with a clock to move") from None
            raise
        happened.said.append(f"the simulator's clock moved on {seconds} s" + (f" to {said['now']}" if "now" in said else ""))

    def do_restart_terminal(self, _action: RestartTerminal, _step: Step, happened: _Happened) -> None:
        self.reopen(happened)
        if self.last_sale is not None:
            happened.sale = self.register.sale(self.last_sale)

    def do_kill_terminal(self, action: KillTerminal, _step: Step, happened: _Happened) -> None:
        settings = self.settings
        if self._register is not None:
            self._register.close()  # one register process per journal folder: the one killed
            self._register = None
        with Journal.open(settings.journal_path) as journal:
            before = {entry.payment_request_id for entry in journal.entries()}
        command = [self.runner.python, "-m", "pos_sim", "sale", "--backend", self.runner.gateway_url,
                   "--backend-data-dir", str(self.runner.simulator_data_dir), "--journal-dir", str(settings.journal_dir),
                   "--terminal-id", settings.terminal_id, "--store-id", settings.store_id,
                   "--catalogue", str(settings.catalogue), "--poll-interval", "0.1", "--deadline", "600",
                   "--code", self.fresh_code(action.wallet)]
        command += ["--time-zone", settings.time_zone] if settings.time_zone else []
        command += ["--training"] if settings.training else []
        command += [arg for barcode in action.items for arg in ("--item", barcode)]
        command += ["--amount", action.amount.major_str()] if action.amount is not None else []
        log_path = self.journal_dir / "killed-terminal.log"
        with open(log_path, "w", encoding="utf-8") as log:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            request_id = self.await_child(child, log_path, lambda: self.new_request_id(settings.journal_path, before),
                                          "it journalled the payment")
            if action.when == "paid":
                with GatewayClient(settings.gateway.credentials(), settings.gateway.timeouts) as gateway:
                    def paid() -> bool:
                        reply = gateway.inquire_payment(payment_request_id=request_id)
                        return isinstance(reply, GatewayAnswer) and reply.text("paymentStatus") == "SUCCESS"
                    self.await_child(child, log_path, paid, "the gateway took the payment")
            else:
                def polling() -> bool:
                    with Journal.open(settings.journal_path) as journal:
                        return journal.entry(request_id).state is State.RESOLVING
                self.await_child(child, log_path, polling, "it polled for the payment's outcome")
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        happened.said.append(f"pos-sim sale (pid {child.pid}) killed with SIGKILL, the payment {action.when}")
        self.reopen(happened)
        sale = next((s for s in self.register.book.sales() if s.payment_request_id == request_id), None)
        if sale is None:
            raise StepFailure(f"the killed terminal's payment {request_id} is not in the sales book")
        self.record_sale(sale, action.label, happened)

    # --- the customer's side and the scanner ---

    def fresh_code(self, wallet: str) -> str:
        code = self.sim.payment_code(self.wallet_ids[wallet]).code
        self.last_code[wallet] = code
        return code

    def customer_scans(self, wallet: str | None, confirm_ms: int, advance_s: int,
                       happened: _Happened) -> Callable[[MerchantCode], None]:
        """What the customer does when the terminal shows its code: ``advance_s`` seconds pass on the
        simulator's clock, then the wallet scans it (or nobody, without one). Never raises: the terminal
        is waiting for the payment, and a failed scan leaves it to expire."""
        client_id = self.register.gateway.credentials.client_id

        def on_code(shown: MerchantCode) -> None:
            what = "order code" if shown.value else f"entry code of store {shown.store_id}"
            happened.said.append(f"the terminal shows its {what}")
            try:
                self.let_time_pass(advance_s, happened)
            except (StepFailure, SimulatorError) as exc:
                happened.said.append(f"the clock could not move on: {exc}")
            if wallet is None:
                happened.said.append("nobody scans it")
                return
            try:
                value = shown.value or self.sim.entry_code(client_id, shown.store_id)
                said = self.sim.scan_merchant_code(self.wallet_ids[wallet], value, confirm_ms)
                happened.said.append(f"wallet {wallet} scans it: {said.get('status')} {said.get('resultCode')}"
                                     + (f", confirming for {confirm_ms} ms" if confirm_ms else ""))
            except SimulatorError as exc:
                happened.said.append(f"wallet {wallet} could not scan it: {exc}")

        return on_code

    def read(self, action: Scan, happened: _Happened) -> str | None:
        """The one code the scan's source gives, or None when it gives none."""
        source = action.source
        if isinstance(source, FileSource):
            decoder = self.runner.decoder(self.settings.language)
            texts = [read.text for result in scanner.read_images([source.path], decoder) for read in result.reads]
            happened.said.append(f"scanned the image {source.path.name}")
        elif isinstance(source, VirtualSource):
            text = source.text
            if source.wallet is not None:
                text = self.fresh_code(source.wallet)
            elif source.phone is not None:
                text = self.sim.tap(self.wallet_ids[source.phone])
            decoder = self.runner.decoder(self.settings.language)
            _image, reads = scanner.virtual_scan(text, decoder, profile=source.damage, strength=source.strength,
                                                 symbology=source.symbology, seed=source.seed)
            texts = [read.text for read in reads]
            whose = f" of wallet {source.wallet}" if source.wallet else f" of {source.phone}'s phone" if source.phone else ""
            happened.said.append(f"rendered the code{whose} as {source.symbology or scanner.symbology_for(text)}, "
                                 f"damaged {source.damage} at {source.strength:g} (seed {source.seed})")
        else:
            texts = self.wedge_burst(source, happened)
        texts = list(dict.fromkeys(texts))
        if len(texts) > 1:
            wanted = PAYABLE if action.use == "pay" else ("gs1",)
            texts = [text for text in texts if codes.classify(text).kind in wanted] or texts
        if len(texts) > 1:
            raise StepFailure(f"{len(texts)} different codes read at once ({', '.join(t[:16] for t in texts)}); show one")
        if texts:
            happened.said.append(f"read {codes.classify(texts[0]).kind} {texts[0][:40]}")
        return texts[0] if texts else None

    def wedge_burst(self, source: WedgeSource, happened: _Happened) -> list[str]:
        """The keys typed into a keyboard-wedge scanner's burst detection, ``gap_ms`` apart: the codes it took."""
        keys = source.keys if source.keys is not None else source.prefix + self.fresh_code(source.wallet) + source.suffix  # type: ignore[arg-type]
        burst = wedge.WedgeScanner(prefix=source.prefix, suffix=source.suffix)
        events: list[wedge.Event] = []
        at_ms = 0.0
        for key in keys:
            events += burst.feed(key, at_ms)
            at_ms += source.gap_ms
        events += burst.flush(at_ms + burst.max_gap_ms + 1)
        typed = "".join(event.text for event in events if isinstance(event, wedge.Typed))
        happened.said.append(f"{len(keys)} keys typed {source.gap_ms:g} ms apart" + (f"; taken as typing: {typed!r}" if typed else ""))
        return [event.text for event in events if isinstance(event, wedge.Scan)]

    # --- sales and receipts ---

    def record_sale(self, sale: Sale, label: str | None, happened: _Happened) -> None:
        self.last_sale = self.last_receipt = sale.receipt_number
        if label:
            self.labels[label] = sale.receipt_number
        happened.sale = sale
        happened.said.append(f"sale {sale.receipt_number}: {sale.state.value} {sale.result_code or ''} "
                             f"{sale.amount.major_str()} {sale.amount.currency.code}".replace("  ", " "))

    def record_reversal(self, reversal: Reversal, label: str | None, happened: _Happened) -> None:
        self.last_receipt = reversal.receipt_number
        if label:
            self.labels[label] = reversal.receipt_number
        happened.reversal = reversal
        happened.said.append(f"{reversal.kind.value.lower()} {reversal.receipt_number} of {reversal.sale_receipt}: "
                             f"{reversal.state.value} {reversal.result_code or ''} {reversal.amount.major_str()}".replace("  ", " "))

    def sale_number(self, reference: str) -> str:
        return self._number(reference, self.last_sale, "sale")

    def receipt_number(self, reference: str) -> str:
        return self._number(reference, self.last_receipt, "receipt")

    def _number(self, reference: str, last: str | None, what: str) -> str:
        """The receipt number ``reference`` stands for: the last one, a step's label, or itself."""
        if reference == LAST:
            if last is None:
                raise StepFailure(f"no {what} yet to refer to")
            return last
        return self.labels.get(reference, reference)

    def reopen(self, happened: _Happened) -> None:
        """The register closed (if open) and opened again on the same journal: recovery runs."""
        if self._register is not None:
            self._register.close()
            self._register = None
        self._register = Register.open(self.settings)
        recovered = self._register.recovered
        happened.recovered = recovered
        said = [f"{s.receipt_number} {s.state.value}" for s in recovered.sales]
        said += [f"{r.kind.value.lower()} {r.receipt_number} {r.state.value}" for r in recovered.reversals]
        happened.said.append("the register opened again; recovered: " + (", ".join(said) or "nothing"))

    @staticmethod
    def new_request_id(journal_path: Path, before: set[str]) -> str | None:
        with Journal.open(journal_path) as journal:
            return next((e.payment_request_id for e in journal.entries() if e.payment_request_id not in before), None)

    @staticmethod
    def await_child(child: subprocess.Popen, log_path: Path, condition: Callable[[], Any], what: str) -> Any:
        """Wait for ``condition`` while the terminal process runs; StepFailure if it ends first, or takes too long."""
        deadline = time.monotonic() + KILL_WAIT_S
        while True:
            value = condition()
            if value:
                return value
            if child.poll() is not None:
                said = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                raise StepFailure(f"the terminal process ended (exit {child.returncode}) before {what}, so it could not be "
                                  "killed mid-payment; give an amount the gateway holds (ending 55: its answer held, 53: "
                                  "it stays processing) or arm a fault" + (f"; it said: {said[0]}" if said else ""))
            if time.monotonic() > deadline:
                raise StepFailure(f"waited {KILL_WAIT_S:g} s, and still not: {what}")
            time.sleep(0.05)

    # --- expectations ---

    def subject(self, happened: _Happened) -> Sale | Reversal | None:
        return happened.reversal or happened.sale

    def receipt(self, happened: _Happened) -> Receipt | str:
        """The receipt the step printed (or would print), or why there is none."""
        if happened.receipt is not None:
            return happened.receipt
        subject = self.subject(happened)
        if subject is None:
            return "no receipt: the step rang up no sale, void or refund"
        if isinstance(subject, Sale) and not subject.resolved:
            return f"no receipt: the payment is not resolved ({subject.state.value})"
        if isinstance(subject, Reversal) and subject.state is ReversalState.PENDING:
            return f"no receipt: the {subject.kind.value.lower()} waits for the gateway's answer"
        return self.register.receipt(subject)

    def printed(self, happened: _Happened) -> str | None:
        width = self.settings.receipt_width
        if happened.report is not None:
            return "\n".join(reports.layout(happened.report, width))
        if happened.receipt is None and self.subject(happened) is None:
            return None
        receipt = self.receipt(happened)
        return "\n".join(layout(receipt, width)) if isinstance(receipt, Receipt) else None

    def check(self, expectation: Expectation, happened: _Happened, duration_s: float) -> list[Check]:
        name, value, where = expectation.name, expectation.value, expectation.where

        def one(expected: str, actual: str, passed: bool, label: str = name) -> list[Check]:
            return [Check(label, expected, actual, passed, where)]

        subject = self.subject(happened)
        if name == "within_s":
            return one(f"at most {value:g} s", f"{duration_s:.2f} s", duration_s <= value)
        if name == "state":
            if subject is None:
                return one(value, "no sale, void or refund", False)
            said = subject.state.value
            if subject.result_code or subject.result_message:
                said += f" ({': '.join(filter(None, (subject.result_code, subject.result_message)))})"
            return one(value, said, subject.state.value == value)
        if name == "result_code":
            if subject is None:
                return one(str(value), "no sale, void or refund", False)
            return one(str(value) if value else "no result code", subject.result_code or "no result code",
                       subject.result_code == value)
        if name == "outcome":
            receipt = self.receipt(happened)
            if isinstance(receipt, str):
                return one(value, receipt, False)
            return one(value, receipt.outcome.value, receipt.outcome.value == value)
        if name == "receipt_contains":
            if happened.report is not None:
                text = "\n".join(reports.layout(happened.report, self.settings.receipt_width))
                kind = "report"
            else:
                receipt = self.receipt(happened)
                if isinstance(receipt, str):
                    return one(", ".join(map(repr, value)), receipt, False)
                text, kind = "\n".join(layout(receipt, self.settings.receipt_width)), "receipt"
            return [Check(name, f"{kind} to say {piece!r}", "it does" if piece in text else f"the {kind} does not say it",
                          piece in text, where) for piece in value]
        if name == "balance":
            checks = []
            for wallet, expected in value.items():
                actual = self.sim.balance(self.wallet_ids[wallet])
                checks += one(_money(expected), _money(actual), actual == expected, f"balance of {wallet}")
            return checks
        if name == "cart_total":
            total = self.register.cart.total
            return one(_money(value), _money(total), total == value)
        if name == "scanned":
            got = happened.scanned
            actual = "nothing read" if got in (None, False) else repr(got)
            return one("nothing read" if value is False else repr(value), actual,
                       got in (None, False) if value is False else got == value)
        if name == "recovered":
            if happened.recovered is None:
                return one(str(list(value)), "no recovery: the register did not open again", False)
            got = [s.state.value for s in happened.recovered.sales]
            return one(f"sales recovered {list(value)}", str(got), got == list(value))
        if name == "report":
            if happened.report is None:
                return one("a report", "no report", False)
            return self.check_report(value, happened.report, where)
        raise AssertionError(name)  # parse.EXPECTATIONS names no other

    def check_report(self, expected: ReportExpected, report: reports.Report, where) -> list[Check]:
        checks = []
        for name in ("declined_count", "checked", "closed"):
            wanted = getattr(expected, name)
            if wanted is not None:
                actual = getattr(report, name)
                checks.append(Check(f"report.{name}", str(wanted), str(actual), actual == wanted, where))
        for name, actual in (("unresolved", len(report.unresolved)), ("mismatches", len(report.mismatches))):
            wanted = getattr(expected, name)
            if wanted is not None:
                extra = "" if name != "mismatches" or not report.mismatches else \
                    " (" + "; ".join(f"{m.receipt_number}: terminal {m.terminal}, gateway {m.gateway}" for m in report.mismatches) + ")"
                checks.append(Check(f"report.{name}", str(wanted), f"{actual}{extra}", actual == wanted, where))
        if expected.net is not None:
            cur = expected.net.currency
            net = sum((t.net for t in report.totals if t.currency == cur), Money(0, cur))
            checks.append(Check("report.net", _money(expected.net), _money(net), net == expected.net, where))
        for wanted in expected.totals:
            tender = TENDERS[wanted.tender].value
            found = [t for t in report.totals if t.tender == tender]
            if not found:
                listed = ", ".join(f"{t.tender} {t.currency.code}" for t in report.totals) or "none"
                checks.append(Check(f"report.totals.{wanted.tender}", "its totals", f"no {tender} payments in the report "
                                    f"(tenders: {listed})", False, where))
                continue
            totals = found[0]
            for name in ("sales", "sales_count", "voids", "voids_count", "refunds", "refunds_count", "net"):
                figure = getattr(wanted, name)
                if figure is None:
                    continue
                actual = getattr(totals, name)
                shown = (_money(figure), _money(actual)) if isinstance(figure, Money) else (str(figure), str(actual))
                checks.append(Check(f"report.totals.{wanted.tender}.{name}", *shown, actual == figure, where))
        return checks


def _money(money: Money) -> str:
    return f"{money.major_str()} {money.currency.code}"
