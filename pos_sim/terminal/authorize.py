"""The payment flow: from a scanned code and an amount to exactly one known, journalled outcome.

``authorize`` writes the payment request to the journal (committed), then sends the pay:

- S: APPROVED. F: DECLINED, with the gateway's result code.
- U, or no answer it can trust (timeout, dropped connection, HTTP error, a bad or missing
  signature): the outcome is not known. It inquires every ``Polling.interval_s`` until
  ``Polling.deadline_s``; an inquiry that finds SUCCESS, FAIL or CANCELLED ends it. A payment the
  gateway has no record of yet (ORDER_NOT_EXIST) is still unknown: the pay may be on its way.
- Still unknown at the deadline: it cancels (the journal says CANCELLING before the cancel is
  sent). A cancel answered S closes the payment with nothing taken: CANCELLED, or REVERSED when
  the payment had succeeded meanwhile (the cancel gave the money back; an inquiry after the cancel
  tells which). A cancel answered U or not at all is sent again, ``Polling.cancel_attempts`` times
  in all. A cancel refused (F) is followed by one inquiry, which settles it: NOT_PROCESSED when the
  gateway has no such payment, else whatever final state it found (APPROVED if the money was taken
  and a cancel cannot give it back); still PROCESSING, it stays pending.
- A gateway that never answers the cancel leaves the payment CANCELLING: the outcome says it is
  not resolved, and ``recover`` finishes it later. Nothing is ever guessed.

``recover`` (run it when the terminal starts, before taking payments) resolves every payment the
journal holds unresolved for this gateway and merchant: one inquiry, final -> recorded (a payment
the terminal had begun to cancel is cancelled even if it succeeded meanwhile: its cashier never
got an approval); else cancel as above.

The journal is written before each step it must survive, so a terminal killed at any point leaves
a row ``recover`` can finish. One terminal process per journal file.

A long-running terminal opens a ``GatewayClient`` and a ``Journal`` once, calls ``recover``, then
``authorize`` per sale; a one-shot command calls ``authorize_once(credentials, journal_path,
amount, code)``, which does all of that.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.language import N_, Phrase
from pos_sim.terminal.errors import PaymentRequestError, SettingsError
from pos_sim.terminal.gateway import Credentials, GatewayAnswer, GatewayClient, Reply, Timeouts, TransportFailure
from pos_sim.terminal.journal import Entry, GatewayRef, Journal, State

MAX_REQUEST_ID = 64
MAX_CODE = 512
"""The longest payment code sent: customer codes are 16-32 digits, a phone token's CPM payload some 100-400 characters."""
SCENARIOS = ("PaymentCode", "OrderCode", "EntryCode")
CODE_LIFETIME_S = 120
"""How long a customer has to scan a merchant code before the terminal cancels the payment."""
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"


@dataclass(frozen=True)
class Polling:
    """How an unknown outcome is chased: an inquiry every ``interval_s`` for ``deadline_s``, then
    up to ``cancel_attempts`` cancels ``interval_s`` apart. Defaults after the provider's practice."""

    interval_s: float = 3.0
    deadline_s: float = 60.0
    cancel_attempts: int = 5

    def __post_init__(self) -> None:
        for name, low in (("interval_s", 0.0), ("deadline_s", -1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= low:
                raise SettingsError(f"polling {name}={value!r}: must be a number of seconds, "
                                    + ("above 0" if low == 0 else "0 or more"))
        if isinstance(self.cancel_attempts, bool) or not isinstance(self.cancel_attempts, int) or self.cancel_attempts < 1:
            raise SettingsError(f"polling cancel_attempts={self.cancel_attempts!r}: must be a whole number, 1 or more")


@dataclass(frozen=True)
class Outcome:
    """What became of one payment request.

    ``state`` is final (APPROVED, DECLINED, CANCELLED, REVERSED, NOT_PROCESSED) once the gateway
    said so; otherwise (``resolved`` False) it is the pending state the journal keeps for ``recover``.
    """

    payment_request_id: str
    state: State
    amount: Money
    result_code: str | None = None
    result_message: str | None = None
    payment_id: str | None = None
    answer: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The body of the gateway's answer that settled it (the pay's, an inquiry's), when this run got one:
    what else it says (``customerPayAmount``, ``paymentQuote``, ``pspCustomerInfo``). Not journalled."""

    @classmethod
    def of(cls, entry: Entry, answer: Mapping[str, Any] | None = None) -> Outcome:
        return cls(entry.payment_request_id, entry.state, entry.amount, entry.result_code, entry.result_message,
                   entry.payment_id, answer)

    @property
    def resolved(self) -> bool:
        return self.state.final

    @property
    def charged(self) -> bool | None:
        """Whether the customer has paid (net): True only when APPROVED; None while not resolved.

        A REVERSED payment took the money and gave it back: not charged.
        """
        return self.state is State.APPROVED if self.resolved else None


@dataclass(frozen=True)
class Recovery:
    """What ``recover`` did: the outcomes it reached, and the pending rows of other gateways it left alone."""

    outcomes: list[Outcome] = field(default_factory=list)
    elsewhere: list[Entry] = field(default_factory=list)


def new_request_id() -> str:
    """A fresh payment request id: the idempotency key of one pay, never used again."""
    return "POS" + uuid.uuid4().hex.upper()


def authorize(gateway: GatewayClient, journal: Journal, amount: Money, payment_code: str | None, *,
              scenario: str = "PaymentCode", on_code: Callable[[MerchantCode], None] | None = None,
              store_id: str | None = None, notify_url: str | None = None, code_lifetime_s: int = CODE_LIFETIME_S,
              payment_request_id: str | None = None, order_reference: str | None = None, description: str = "",
              terminal_id: str | None = None, polling: Polling = Polling(), give_up: threading.Event | None = None,
              on_state: Callable[[State], None] | None = None, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Charge ``amount`` and chase the answer to a known outcome.

    PaymentCode: to the customer's scanned ``payment_code``. OrderCode / EntryCode (``payment_code``
    None): the gateway answers U while it waits for the customer's wallet to scan the merchant's code;
    ``on_code`` is told the order code to show (or that the entry code of ``store_id`` is to be
    scanned), then the payment is polled until the code expires, ``code_lifetime_s`` after the pay
    (sent as its ``paymentExpiryTime``), and cancelled if still unpaid.

    ``give_up`` set (the cashier presses cancel) ends the waiting for an answer at once: the payment
    is cancelled, and still ends in one known outcome (a success that came meanwhile is reversed).
    ``on_state`` is told each state the payment moves to while it is chased (RESOLVING: the outcome
    is being checked; CANCELLING), for a screen to show.
    """
    if scenario not in SCENARIOS:
        raise PaymentRequestError(f"scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    request_id = payment_request_id or new_request_id()
    if (scenario == "PaymentCode") != (payment_code is not None):
        raise PaymentRequestError("a payment code is scanned for a PaymentCode payment, and only for one")
    _check_request(amount, payment_code, request_id, order_reference, description)
    entry = journal.open_payment(request_id, amount, payment_code or "", _ref(gateway), scenario=scenario,
                                 order_reference=order_reference or request_id, description=description)
    merchant_code = scenario != "PaymentCode"
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=code_lifetime_s) if merchant_code else None
    reply = gateway.pay(request_id, amount, payment_code, scenario=scenario, order_reference=order_reference,
                        description=description, terminal_id=terminal_id, store_id=store_id, notify_url=notify_url,
                        expires_at=expires)
    chase = _Chase(gateway, journal, entry, polling, clock, sleep, give_up, on_state)
    if isinstance(reply, GatewayAnswer) and reply.failed:
        return chase.finish(reply, _Found(State.DECLINED, reply.code, reply.message, reply.text("paymentId")))
    doubt = None
    if isinstance(reply, GatewayAnswer) and reply.succeeded:
        doubt = _doubt(reply, amount)
        if doubt is None:
            return chase.finish(reply, _Found(State.APPROVED, reply.code, reply.message or "paid", reply.text("paymentId")))
    deadline_s = None
    if merchant_code and isinstance(reply, GatewayAnswer) and reply.status == "U":
        shown = MerchantCode.of(reply, scenario, store_id)
        deadline_s = max(0.0, ((shown.expires_at or expires) - datetime.now(timezone.utc)).total_seconds())
        chase.log("pay", reply, state=State.RESOLVING, detail=f"waiting for the customer to scan the {scenario}")
        if on_code is not None:
            on_code(shown)
    else:
        chase.log("pay", reply, state=State.RESOLVING, detail=doubt)
    return chase.resolve(poll=True, deadline_s=deadline_s)


@dataclass(frozen=True)
class MerchantCode:
    """The merchant code a customer's wallet is to scan: an order code to show (``value``), or, for an
    EntryCode payment, the static entry code of ``store_id`` (printed at the till; ``value`` None)."""

    scenario: str
    value: str | None
    expires_at: datetime | None
    payment_id: str | None
    store_id: str | None = None

    @classmethod
    def of(cls, answer: GatewayAnswer, scenario: str, store_id: str | None) -> MerchantCode:
        form = answer.body.get("orderCodeForm")
        value = expires = None
        if isinstance(form, dict):
            details = form.get("codeDetails")
            texts = [d.get("codeValue") for d in details if isinstance(d, dict)] if isinstance(details, list) else []
            value = next((t for t in texts if isinstance(t, str) and t), None)
            try:
                expires = datetime.fromisoformat(form["expireTime"]) if isinstance(form.get("expireTime"), str) else None
            except ValueError:
                expires = None
        return cls(scenario, value, expires, answer.text("paymentId"), store_id)


@dataclass(frozen=True)
class Authorization:
    """What ``authorize_once`` did: the payment's outcome, and what it resolved of earlier runs first."""

    outcome: Outcome
    recovered: Recovery


def authorize_once(credentials: Credentials, journal_path: Path, amount: Money, payment_code: str, *,
                   timeouts: Timeouts = Timeouts(), polling: Polling = Polling(), **request: Any) -> Authorization:
    """One payment from settings: open the gateway client and the journal, ``recover``, ``authorize``, close.

    ``request`` takes ``authorize``'s keywords (payment_request_id, order_reference, description, terminal_id).
    """
    with GatewayClient(credentials, timeouts) as gateway, Journal.open(journal_path) as journal:
        recovered = recover(gateway, journal, polling=polling)
        return Authorization(authorize(gateway, journal, amount, payment_code, polling=polling, **request), recovered)


def recover(gateway: GatewayClient, journal: Journal, *, polling: Polling = Polling(),
            clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Recovery:
    """Resolve every payment the journal holds unresolved for this gateway and merchant (at start, before new payments)."""
    ref = _ref(gateway)
    outcomes, elsewhere = [], []
    for entry in journal.pending():
        if (entry.gateway.client_id, entry.gateway.key_id) != (ref.client_id, ref.key_id):
            elsewhere.append(entry)
            continue
        journal.record(entry.payment_request_id, "recover", detail=f"resolving a payment left {entry.state} by an earlier run")
        outcomes.append(_Chase(gateway, journal, entry, polling, clock, sleep).resolve(poll=False))
    return Recovery(outcomes, elsewhere)


def _ref(gateway: GatewayClient) -> GatewayRef:
    creds = gateway.credentials
    return GatewayRef(creds.url, creds.client_id, creds.gateway_key_id)


def check_code(code: str) -> None:
    """Refuse (PaymentRequestError) a payment code that cannot be sent: not printable text, padded, too long."""
    if not isinstance(code, str) or not code or not code.isprintable() or code != code.strip():
        raise PaymentRequestError(Phrase(N_("payment code {code!r}: must be the scanned text, printable, without surrounding "
                                            "spaces"), code=code))
    if len(code) > MAX_CODE:
        raise PaymentRequestError(Phrase(N_("payment code of {count} characters: at most {most}"), count=len(code),
                                         most=MAX_CODE))


def _check_request(amount: Money, code: str | None, request_id: str, order_reference: str | None, description: str) -> None:
    if not isinstance(amount, Money):
        raise PaymentRequestError(f"amount {amount!r}: must be Money (integer minor units and a currency)")
    if amount.minor <= 0:
        raise PaymentRequestError(f"amount {amount.major_str()} {amount.currency.code}: must be more than 0")
    if code is not None:
        check_code(code)
    for name, value, most in (("payment request id", request_id, MAX_REQUEST_ID),
                              ("order reference", order_reference or "", MAX_REQUEST_ID)):
        if not isinstance(value, str) or len(value) > most or not value.isascii() or not value.isprintable():
            raise PaymentRequestError(f"{name} {value!r}: must be printable ASCII of at most {most} characters")
    if not isinstance(description, str) or len(description) > 256:
        raise PaymentRequestError("description: must be text of at most 256 characters")


def _doubt(answer: GatewayAnswer, amount: Money) -> str | None:
    """Why a success ``answer`` cannot be taken for this payment, or None (the amount it names, if any, must match)."""
    try:
        paid = answer.amount("paymentAmount")
    except AmountError as exc:
        return f"not taken as success: {exc}"
    if paid is not None and paid != amount:
        return f"not taken as success: the gateway names {paid.minor} {paid.currency.code}, not {amount.minor} {amount.currency.code}"
    return None


@dataclass(frozen=True)
class _Found:
    """An outcome an inquiry or a cancel established."""

    state: State
    code: str | None
    message: str
    payment_id: str | None


class _Chase:
    """Chasing one payment request to its outcome, writing every step to the journal."""

    def __init__(self, gateway: GatewayClient, journal: Journal, entry: Entry, polling: Polling,
                 clock: Callable[[], float], sleep: Callable[[float], None], give_up: threading.Event | None = None,
                 on_state: Callable[[State], None] | None = None) -> None:
        self.gateway = gateway
        self.journal = journal
        self.entry = entry
        self.request_id = entry.payment_request_id
        self.polling = polling
        self.clock = clock
        self.sleep = sleep
        self.give_up = give_up
        self.on_state = on_state

    def log(self, call: str, reply: Reply, *, state: State | None = None, detail: str | None = None) -> Entry:
        """Journal one call's reply (and, with ``state``, a move to a pending state)."""
        if isinstance(reply, GatewayAnswer):
            answer, code, said, payment_id = reply.status, reply.code, reply.message, reply.text("paymentId")
            if reply.call == "inquiryPayment" and reply.succeeded:
                said = f"paymentStatus {reply.text('paymentStatus')} ({reply.text('paymentResultCode')})"
        else:
            answer, code, said, payment_id = reply.failure.value, None, reply.detail, None
        return self._note(self.journal.record(self.request_id, call, answer=answer, answer_code=code, state=state,
                                              detail="; ".join(filter(None, (said, detail))) or None, payment_id=payment_id))

    def _note(self, entry: Entry) -> Entry:
        """Keep ``entry`` as the payment's latest; tell ``on_state`` when its state moved."""
        moved = entry.state is not self.entry.state
        self.entry = entry
        if moved and self.on_state is not None:
            self.on_state(entry.state)
        return entry

    def finish(self, reply: Reply, found: _Found) -> Outcome:
        """Journal ``reply`` and the final outcome it established, in one commit."""
        if isinstance(reply, GatewayAnswer):
            answer, code = reply.status, reply.code
            said = reply.message
            if reply.call == "inquiryPayment" and reply.succeeded:
                said = f"paymentStatus {reply.text('paymentStatus')} ({reply.text('paymentResultCode')})"
        else:
            answer, code, said = reply.failure.value, None, reply.detail
        self._note(self.journal.record(self.request_id, reply.call, answer=answer, answer_code=code, state=found.state,
                                       detail=said if said == found.message else f"{said}; {found.message}",
                                       result_code=found.code, result_message=found.message, payment_id=found.payment_id))
        return Outcome.of(self.entry, reply.body if isinstance(reply, GatewayAnswer) else None)

    def resolve(self, poll: bool, deadline_s: float | None = None) -> Outcome:
        """Inquire (until the deadline if ``poll``, else once), then cancel; the outcome, resolved or not."""
        if self.entry.state is State.CANCELLING:
            # The terminal had given up on it: whatever the gateway did since, nothing is kept but a
            # decline or a close. A success that came meanwhile is reversed by the cancel.
            reply = self.gateway.inquire_payment(payment_request_id=self.request_id)
            found = self._found(reply)
            if found is not None and found.state is not State.APPROVED:
                return self.finish(reply, found)
            self.log("inquiryPayment", reply, detail="it succeeded after the terminal began to cancel: reversing it" if found else None)
            return self._cancel()
        deadline = self.clock() + ((self.polling.deadline_s if deadline_s is None else deadline_s) if poll else 0.0)
        while True:
            reply = self.gateway.inquire_payment(payment_request_id=self.request_id)
            found = self._found(reply)
            if found is not None:
                return self.finish(reply, found)
            self.log("inquiryPayment", reply, state=State.RESOLVING)
            remaining = deadline - self.clock()
            if remaining <= 0 or self._given_up():
                return self._cancel()
            if self.give_up is None:
                self.sleep(min(self.polling.interval_s, remaining))
            elif self.give_up.wait(min(self.polling.interval_s, remaining)):
                return self._cancel()

    def _given_up(self) -> bool:
        return self.give_up is not None and self.give_up.is_set()

    def _cancel(self) -> Outcome:
        """Cancel until the gateway answers (at most ``cancel_attempts`` times); the outcome, resolved or not."""
        if self.entry.state is not State.CANCELLING:
            self._note(self.journal.record(self.request_id, "cancel", state=State.CANCELLING,
                                           detail="the outcome is still unknown: cancelling"))
        for attempt in range(1, self.polling.cancel_attempts + 1):
            reply = self.gateway.cancel(payment_request_id=self.request_id)
            if isinstance(reply, GatewayAnswer) and reply.succeeded:
                self.log("cancel", reply)
                return self._cancelled(reply)
            if isinstance(reply, GatewayAnswer) and reply.failed:
                self.log("cancel", reply, detail="the cancel was refused: inquiring")
                return self._after_refused_cancel()
            self.log("cancel", reply, detail=f"attempt {attempt} of {self.polling.cancel_attempts}")
            if attempt < self.polling.cancel_attempts:
                self.sleep(self.polling.interval_s)
        self.journal.record(self.request_id, "cancel", detail=f"no answer to {self.polling.cancel_attempts} cancels: "
                                                              "left CANCELLING for recover()")
        return Outcome.of(self.journal.entry(self.request_id))

    def _cancelled(self, cancel: GatewayAnswer) -> Outcome:
        """After a cancel answered S: REVERSED if an inquiry shows the payment had been paid, else CANCELLED."""
        reply = self.gateway.inquire_payment(payment_request_id=self.request_id)
        if isinstance(reply, GatewayAnswer) and reply.failed and reply.code == ORDER_NOT_EXIST:
            # the pay never reached the gateway, and the cancel closed its request: a late one is refused
            return self.finish(reply, _Found(State.NOT_PROCESSED, ORDER_NOT_EXIST, "the gateway never received the "
                                             "payment, and its request is closed: nothing was taken", None))
        found = self._found(reply)
        if found is not None and found.state in (State.REVERSED, State.CANCELLED):
            return self.finish(reply, found)
        # The cancel's S stands: the payment is closed and holds no money. Which of the two it was,
        # this inquiry did not tell.
        return self.finish(reply, _Found(State.CANCELLED, None, "cancelled: no money is taken "
                                         "(whether a charge was reversed is not known)", cancel.text("paymentId")))

    def _after_refused_cancel(self) -> Outcome:
        """After a cancel answered F: one inquiry says what the payment is, if anything."""
        reply = self.gateway.inquire_payment(payment_request_id=self.request_id)
        if isinstance(reply, GatewayAnswer) and reply.failed and reply.code == ORDER_NOT_EXIST:
            return self.finish(reply, _Found(State.NOT_PROCESSED, ORDER_NOT_EXIST,
                                             "the gateway holds no such payment: nothing was taken", None))
        found = self._found(reply)
        if found is not None:
            return self.finish(reply, found)
        self.log("inquiryPayment", reply, detail="the cancel was refused and the outcome is still unknown: "
                                                 "left CANCELLING for recover()")
        return Outcome.of(self.entry)

    def _found(self, reply: Reply) -> _Found | None:
        """The final outcome an inquiry's ``reply`` shows, or None while it is not known."""
        if isinstance(reply, TransportFailure) or not reply.succeeded:
            return None
        status, code = reply.text("paymentStatus"), reply.text("paymentResultCode")
        message = reply.text("paymentResultMessage") or ""
        payment_id = reply.text("paymentId")
        if status == "SUCCESS":
            if _doubt(reply, self.entry.amount) is not None:
                return None
            return _Found(State.APPROVED, code or "SUCCESS", message or "paid", payment_id)
        if status == "FAIL":
            return _Found(State.DECLINED, code, message or "declined", payment_id)
        if status == "CANCELLED":
            # It had been paid if the gateway kept its success (a SUCCESS result code, or a paymentTime).
            if code == "SUCCESS" or reply.text("paymentTime"):
                return _Found(State.REVERSED, None, "paid, then reversed by the cancel: the money went back", payment_id)
            return _Found(State.CANCELLED, None, "cancelled: no money was taken", payment_id)
        return None  # PROCESSING, PENDING, or a status this terminal does not know
