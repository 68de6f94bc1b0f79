"""Faults the simulated provider injects on purpose, for QA and live demos.

A fault armed with ``POST /sim/faults`` answers the next ``count`` AMS calls it matches (-1: every
one until ``DELETE /sim/faults``); ``match`` maps dotted body paths to values, e.g.
``{"paymentAmount.value": "1250"}``. Actions:

- ``decline``: F with ``resultCode`` (default PROCESS_FAIL). A pay is recorded FAIL, nothing moves.
- ``unknown``: U with ``resultCode`` (default PAYMENT_IN_PROCESS on pay, UNKNOWN_EXCEPTION on other
  calls). A pay is recorded PROCESSING and stays so, nothing moved, until it is cancelled
  (CANCELLED, nothing to reverse): inquiryPayment keeps answering PROCESSING.
- ``late-success`` (pay only): U now, the payment PROCESSING; ``delayMs`` later (default 3000) it is
  charged for real, as presented (SUCCESS, or FAIL if the charge fails), unless cancelled first.
- ``timeout``: the call is done as usual (or, with an F ``resultCode``, declined as by ``decline``)
  and its answer held ``delayMs`` (default 15000) or until the client hangs up.
- ``error``: HTTP 500, unsigned; nothing is done or recorded.

Faults meet only calls whose signature verified. A faulted pay does not use up the customer's
code (a late-success one uses it when charged), and a pay sent again with the same request id
and body still gets its first answer. On other calls a fault with a result code answers in the
call's place: nothing is done or recorded, so the call made again (once the fault is spent) does
it. A late-success pending when the backend stops stays PROCESSING, until cancelled.

Trigger amounts need no fault armed. A pay whose amount in minor units ends in

    51  F USER_BALANCE_NOT_ENOUGH          54  late-success, charged 3 s later
    52  F RISK_REJECT                      55  timeout: done as usual, the answer held 15 s
    53  unknown: U, stays PROCESSING       59  error: HTTP 500, nothing done

(SGD 12.51 = "1251" is declined for balance; JPY 1,053 stays PROCESSING). Every other ending,
.00 .50 .90 .99 among them, pays as usual. Armed faults come before trigger amounts.

Armed faults are kept in the store (table ``faults``), so a restart keeps them and every worker
process of a PostgreSQL store sees them: a call takes its fault in a transaction that locks the
call's armed faults, so a fault armed for one call answers one call, whichever process gets it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import bindparam, delete, insert, select, update

from pos_sim.backend import protocol
from pos_sim.backend.protocol import RESULTS
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.tables import faults

STATUS = {"decline": "F", "unknown": "U", "late-success": "U", "timeout": "F"}
"""The result status of the code each action answers with (a timeout's code is optional)."""

DELAY_MS = {"late-success": 3_000, "timeout": 15_000}
MAX_COUNT = 1_000_000
"""The most calls one fault answers (the count is kept in a 32-bit column); -1 answers until cleared."""


@dataclass
class Fault:
    """An armed fault; ``count`` is how many more calls it answers, -1 until cleared."""

    id: str
    call: str
    action: str
    result_code: str | None = None
    delay_ms: int | None = None
    match: dict[str, str] = field(default_factory=dict)
    count: int = -1

    def matches(self, call: str, body: dict[str, Any]) -> bool:
        if call != self.call:
            return False
        found = {path: protocol.field(body, path, required=False) for path in self.match}
        return all(found[path] is not None and str(found[path]) == value for path, value in self.match.items())

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "call": self.call, "action": self.action, "resultCode": self.result_code,
                "count": self.count, "delayMs": self.delay_ms, "match": self.match}


TRIGGERS = {
    "51": Fault("trigger-51", "pay", "decline", "USER_BALANCE_NOT_ENOUGH"),
    "52": Fault("trigger-52", "pay", "decline", "RISK_REJECT"),
    "53": Fault("trigger-53", "pay", "unknown", "PAYMENT_IN_PROCESS"),
    "54": Fault("trigger-54", "pay", "late-success", "PAYMENT_IN_PROCESS", DELAY_MS["late-success"]),
    "55": Fault("trigger-55", "pay", "timeout", None, DELAY_MS["timeout"]),
    "59": Fault("trigger-59", "pay", "error"),
}
"""Pay amounts whose minor units end in these two digits meet these faults."""


def trigger_amounts() -> list[dict[str, Any]]:
    """The trigger amount table, as ``GET /sim/faults`` shows it."""
    return [{"endsWith": ending, "action": fault.action, "resultCode": fault.result_code, "delayMs": fault.delay_ms}
            for ending, fault in TRIGGERS.items()]


class FaultSpec(BaseModel):
    """A fault to arm: which call, what happens to it, how many times, and which requests it matches."""

    model_config = ConfigDict(extra="forbid", strict=True)

    call: Literal["pay", "inquiryPayment", "cancel", "refund", "inquiryRefund"]
    action: Literal["decline", "unknown", "late-success", "timeout", "error"]
    result_code: str | None = Field(
        None, alias="resultCode", examples=["USER_BALANCE_NOT_ENOUGH"],
        description="decline: an F code (default PROCESS_FAIL); unknown, late-success: a U code "
                    "(default PAYMENT_IN_PROCESS, UNKNOWN_EXCEPTION off pay); timeout: an F code to decline with, optional",
    )
    count: int = Field(1, examples=[1], le=MAX_COUNT,
                       description=f"how many matching calls it answers, 1 to {MAX_COUNT:,}; -1 until cleared")
    delay_ms: int | None = Field(
        None, alias="delayMs", ge=0, le=600_000,
        description="timeout: how long the answer is held (default 15000); late-success: when the payment completes (default 3000)",
    )
    match: dict[str, str | int] = Field(
        default_factory=dict, examples=[{"paymentAmount.value": "1250"}],
        description="dotted request body paths and the values they must have; empty matches every call",
    )

    @field_validator("action")
    @classmethod
    def _action_fits_call(cls, action: str, info: ValidationInfo) -> str:
        if action == "late-success" and info.data.get("call", "pay") != "pay":
            raise ValueError("late-success applies to pay only")
        return action

    @field_validator("result_code")
    @classmethod
    def _code_fits_action(cls, code: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if code is None or action is None:
            return code
        if action not in STATUS:
            raise ValueError(f"{action} takes no resultCode")
        if RESULTS.get(code, ("",))[0] != STATUS[action]:
            codes = ", ".join(c for c, (status, _) in RESULTS.items() if status == STATUS[action])
            raise ValueError(f"{code} is not a result code {action} can answer; one of {codes}")
        return code

    @field_validator("count")
    @classmethod
    def _count(cls, count: int) -> int:
        if count != -1 and count < 1:
            raise ValueError(f"count must be 1 to {MAX_COUNT:,}, or -1 (until cleared)")
        return count

    @field_validator("delay_ms")
    @classmethod
    def _delay_fits_action(cls, delay_ms: int | None, info: ValidationInfo) -> int | None:
        action = info.data.get("action")
        if delay_ms is not None and action is not None and action not in DELAY_MS:
            raise ValueError(f"{action} takes no delayMs; only timeout and late-success wait")
        return delay_ms

    @field_validator("match", mode="before")
    @classmethod
    def _paths(cls, match: Any) -> Any:
        for path, value in match.items() if isinstance(match, dict) else ():
            if not isinstance(path, str) or not all(path.split(".")):
                raise ValueError(f"{path!r} is not a dotted body path like paymentAmount.value")
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValueError(f"{path}: {value!r} is not text or a whole number")
        return match


_ARMED_FOR = select(faults).where(faults.c.call == bindparam("call")).order_by(faults.c.id).with_for_update()
_SPEND = update(faults).where(faults.c.id == bindparam("fault_id")).values(count=faults.c.count - 1)
_SPENT = delete(faults).where(faults.c.id == bindparam("fault_id"))
_ANY_ARMED = select(faults.c.id).limit(1)


def _fault(row: Any) -> Fault:
    return Fault(f"F{row.id}", row.call, row.action, row.result_code, row.delay_ms, json.loads(row.match), row.count)


class Faults:
    """The armed faults of one backend's store, in the order they were armed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # known to be none: where this process is the store's one writer (``Store.one_writer``), what it
        # armed and spent is all there is, so a call needs no transaction of its own to find none armed
        self._none_armed = False

    def add(self, spec: FaultSpec) -> dict[str, Any]:
        """Arm the fault ``spec`` describes; the fault as listed, with its id."""
        default_code = {"decline": "PROCESS_FAIL", "late-success": "PAYMENT_IN_PROCESS",
                        "unknown": "PAYMENT_IN_PROCESS" if spec.call == "pay" else "UNKNOWN_EXCEPTION"}
        row = {"call": spec.call, "action": spec.action, "result_code": spec.result_code or default_code.get(spec.action),
               "delay_ms": spec.delay_ms if spec.delay_ms is not None else DELAY_MS.get(spec.action),
               "match": json.dumps({path: str(value) for path, value in spec.match.items()}), "count": spec.count}
        with self.store.begin() as tx:
            fault_id = tx.connection.execute(insert(faults).returning(faults.c.id), row).scalar_one()
            self._none_armed = False
            return _fault(tx.connection.execute(select(faults).where(faults.c.id == fault_id)).one()).json()

    def list(self) -> list[dict[str, Any]]:
        with self.store.begin() as tx:
            return [_fault(row).json() for row in tx.connection.execute(select(faults).order_by(faults.c.id))]

    def clear(self) -> int:
        """Disarm every fault; how many there were."""
        with self.store.begin() as tx:
            cleared = tx.connection.execute(delete(faults)).rowcount
        self._none_armed = self.store.one_writer
        return cleared

    def take(self, call: str, body: dict[str, Any]) -> Fault | None:
        """The fault that answers this call: the first armed one matching it (spent by one), else a trigger amount.

        An AMS call's first transaction: where other worker processes share the store, it is also the
        one that reads the controls they may have moved (``Store.begin``); where this process is the one
        writer, skipped once none is armed."""
        if not self._none_armed:
            with self.store.begin() as tx:
                for row in tx.connection.execute(_ARMED_FOR, {"call": call}).all():
                    fault = _fault(row)
                    if fault.matches(call, body):
                        if fault.count == 1:
                            tx.connection.execute(_SPENT, {"fault_id": row.id})
                        elif fault.count > 1:
                            tx.connection.execute(_SPEND, {"fault_id": row.id})
                        return fault
                self._none_armed = self.store.one_writer and tx.connection.execute(_ANY_ARMED).first() is None
        value = protocol.field(body, "paymentAmount.value", required=False)
        if call == "pay" and isinstance(value, str) and value.isascii() and value.isdigit():
            return TRIGGERS.get(value[-2:])
        return None
