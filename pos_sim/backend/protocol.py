"""The AMS wire format the simulated backend speaks: result codes, request times, and reading request bodies.

Services raise ``Refused(code)`` with a result code of ``RESULTS``; the HTTP edge turns it into the
``result`` object ({resultStatus, resultCode, resultMessage}) the provider's clients expect.

Request times. A signed request's ``Request-Time`` header must be within ``REQUEST_TIME_WINDOW_S``
(5 minutes) of the gateway's real time, either way, or the request is refused ``INVALID_SIGNATURE``
saying how far off it is: a request captured and sent again later is refused, and a request sent
again within the window is answered by idempotency (the same ``paymentRequestId`` or
``refundRequestId``: the same answer, the money moved once). Read as ISO 8601 with a UTC offset
(``2026-11-21T16:04:05+08:00``: the terminal, and the official Python SDK's ``datetime.isoformat()``)
or as milliseconds since 1970 (``1795277045000``: the provider's Java SDK). The time compared with is
the real one, never the simulator's clock (store/clock.py): the peer checks it against its own clock.
"""

from __future__ import annotations

import functools
import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import MAX_MINOR_DIGITS, Money, currency

# result code -> (status S/F/U, message), as the provider's documentation words them
RESULTS: dict[str, tuple[str, str]] = {
    "SUCCESS": ("S", "Success"),
    "PAYMENT_IN_PROCESS": ("U", "The payment is being processed."),
    "UNKNOWN_EXCEPTION": ("U", "An API call failed, which is caused by unknown reasons."),
    "REQUEST_TRAFFIC_EXCEED_LIMIT": ("U", "The request traffic exceeds the limit."),
    "INVALID_CODE": ("F", "The payment code is invalid or has been used."),
    "EXPIRED_CODE": ("F", "The payment code has expired."),
    "USER_BALANCE_NOT_ENOUGH": ("F", "The user balance is not enough for the payment."),
    "REPEAT_REQ_INCONSISTENT": ("F", "The request ID was used before with a different request."),
    "ORDER_IS_CLOSED": ("F", "The order is closed."),
    "ORDER_NOT_EXIST": ("F", "The order does not exist."),
    "PARAM_ILLEGAL": ("F", "Illegal parameters exist."),
    "PROCESS_FAIL": ("F", "A general business failure occurred."),
    "RISK_REJECT": ("F", "The request is rejected because of the risk control."),
    "USER_NOT_EXIST": ("F", "The user does not exist."),
    "USER_STATUS_ABNORMAL": ("F", "The user status is abnormal."),
    "USER_AMOUNT_EXCEED_LIMIT": ("F", "The amount exceeds the user's payment limit."),
    "PAYMENT_AMOUNT_EXCEED_LIMIT": ("F", "The payment amount exceeds the limit."),
    "CURRENCY_NOT_SUPPORT": ("F", "The currency is not supported."),
    "INVALID_SIGNATURE": ("F", "The signature is not validated."),
    "INVALID_CLIENT": ("F", "The client is invalid."),
    "KEY_NOT_FOUND": ("F", "The key is not found."),
    "ACCESS_DENIED": ("F", "Access is denied."),
    "NO_INTERFACE_DEF": ("F", "API is not defined."),
    "CANCEL_WINDOW_EXCEED": ("F", "The cancellation window has passed."),
    "REFUND_AMOUNT_EXCEED": ("F", "The refund amount exceeds the amount that can be refunded."),
    "REFUND_WINDOW_EXCEED": ("F", "The refund window has passed."),
}


class Refused(Exception):
    """A call answered with a result code other than SUCCESS; ``detail`` says why, in plain words."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in RESULTS:
            raise ValueError(f"unknown result code {code}")
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail or RESULTS[code][1]}")


def result(code: str = "SUCCESS", detail: str | None = None) -> dict[str, str]:
    status, message = RESULTS[code]
    return {"resultCode": code, "resultStatus": status, "resultMessage": detail or message}


def now() -> datetime:
    """The time, to the microsecond: records made one after another sort in that order."""
    return datetime.now(timezone.utc)


def timestamp(moment: datetime) -> str:
    """ISO 8601 with an offset, to the second, as the provider writes times: 2026-11-21T16:04:05+00:00.

    The text of a second is made once (``_second``), as a pay's times and its answer's ``response-time`` fall in
    the same second or two, and ``isoformat`` formats each number through the C library's printf."""
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    seconds = moment.timestamp()  # a float exact to well under a microsecond in this range: its floor is the second
    if 0 <= seconds < _TEXT_CACHED_UNTIL:
        return _second(int(seconds))
    return _text(moment)


def stamp() -> str:
    """The real time now as ``timestamp`` writes it: what an answer's ``response-time`` says, or a notification's
    ``request-time``. To the second, so made once a second (made each time, 13,000 instructions an answer more)."""
    return _second(int(time.time()))


_TEXT_CACHED_UNTIL = 2**32
"""The seconds since 1970 (to 2106) whose text ``timestamp`` remembers."""


def _text(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@functools.lru_cache(maxsize=4)
def _second(second: int) -> str:
    return _text(datetime.fromtimestamp(second, timezone.utc))


REQUEST_TIME_WINDOW_S = 300
"""How far a signed request's ``Request-Time`` may be from the gateway's real time, either way (5 minutes:
the clock drift of a terminal synced now and then, plus the network; a longer window is a longer replay)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_MS = re.compile(r"[0-9]{1,13}")


def request_time(text: str) -> datetime:
    """The moment a ``Request-Time`` header names: ISO 8601 with a UTC offset, or milliseconds since
    1970; ``Refused(INVALID_SIGNATURE)`` saying so when it is neither."""
    if _EPOCH_MS.fullmatch(text):
        return _EPOCH + timedelta(milliseconds=int(text))
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise Refused("INVALID_SIGNATURE", f"request-time {text[:64]!r} is not a time: send ISO 8601 with a UTC offset "
                                           "(like 2026-11-21T16:04:05+08:00) or milliseconds since 1970")
    return moment


def check_fresh(text: str, at: datetime, window_s: int = REQUEST_TIME_WINDOW_S) -> None:
    """Refused (INVALID_SIGNATURE) unless the ``Request-Time`` ``text`` is within ``window_s`` of ``at``
    (the real time), saying how far off it is."""
    sent = request_time(text)
    off = (sent - at).total_seconds()
    if abs(off) > window_s:
        way = "ahead of" if off > 0 else "behind"
        named = f"{text} (milliseconds since 1970: {timestamp(sent)})" if _EPOCH_MS.fullmatch(text) else text
        raise Refused("INVALID_SIGNATURE", f"request-time {named} is {_span(abs(off))} {way} the gateway's clock "
                                           f"({timestamp(at)}); it must be within {window_s} s of it, either way "
                                           "(set the client's clock right, and sign each request when it is sent)")


def _span(seconds: float) -> str:
    """A length of time in words: 7 min 5 s, 3 h 2 min, 400 days."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours and days < 10 else "")
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts) or f"{seconds:.1f} s"


MAX_JSON_DEPTH = 32
"""The deepest a request body's JSON may nest: an AMS body nests 4 deep (order.merchant.store.referenceStoreId)."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def json_object(body: bytes) -> dict[str, Any]:
    """A request body read as a JSON object; ``Refused(PARAM_ILLEGAL)`` saying why when it is not JSON (NaN
    and Infinity included), not an object, or nested deeper than ``MAX_JSON_DEPTH``.

    Read by orjson, several times faster than the standard library; what it takes, orjson writes back
    (answers, records), so it also refuses what it cannot write: text that is not UTF-8 (a lone surrogate
    escape) and integers beyond 64 bits. A body it refuses is read again by ``json`` to say why."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as fast:
        _nesting(_strictly_read(body))  # the standard library's reason, or too deep
        raise Refused("PARAM_ILLEGAL", f"the body is not JSON this gateway keeps ({fast})") from None
    if not isinstance(parsed, dict):
        raise Refused("PARAM_ILLEGAL", "the body must be a JSON object")
    if body.count(b"{") + body.count(b"[") >= MAX_JSON_DEPTH:  # fewer brackets than that cannot nest too deep
        _nesting(parsed)
    return parsed


def _strictly_read(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_not_json)
    except RecursionError:
        raise Refused("PARAM_ILLEGAL", f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, bad UTF-8, an integer of 4300 digits
        raise Refused("PARAM_ILLEGAL", f"the body is not JSON ({exc})") from None


def _nesting(parsed: Any) -> None:
    """Refused if ``parsed`` nests deeper than ``MAX_JSON_DEPTH``."""
    pending: list[tuple[Any, int]] = [(parsed, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise Refused("PARAM_ILLEGAL", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


_PARTS: dict[str, tuple[str, ...]] = {}
"""The names of each dotted path ``field`` was asked for, split once: the code's own paths, and those of armed faults'
matches (services/faults.py), at most ``_MOST_PARTS`` of them."""
_MOST_PARTS = 256


def field(body: dict[str, Any], path: str, *, required: bool = True, most: int | None = None) -> Any:
    """The value at a dotted ``path`` of a request body; PARAM_ILLEGAL when missing or too long."""
    value: Any = body
    parts = _PARTS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PARTS) < _MOST_PARTS:
            _PARTS[path] = parts
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or value == "":
        if required:
            raise Refused("PARAM_ILLEGAL", f"{path} is required")
        return None
    if isinstance(value, str) and "\x00" in value:  # no id, code or text takes one, and PostgreSQL cannot keep it
        raise Refused("PARAM_ILLEGAL", f"{path} holds a NUL character (\\u0000)")
    if most is not None and (not isinstance(value, str) or len(value) > most):
        raise Refused("PARAM_ILLEGAL", f"{path} must be text of at most {most} characters")
    return value


def amount(body: dict[str, Any], path: str) -> Money:
    """An ``{"currency", "value"}`` object: value a string of minor units, e.g. "1000" = SGD 10.00."""
    obj = field(body, path)
    if not isinstance(obj, dict):
        raise Refused("PARAM_ILLEGAL", f"{path} must be an object with currency and value")
    code, value = obj.get("currency"), obj.get("value")
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise Refused("PARAM_ILLEGAL", f"{path}.value must be a string of minor units, like \"1000\"")
    if len(value) > MAX_MINOR_DIGITS:
        raise Refused("PARAM_ILLEGAL", f"{path}.value: {len(value)} digits of minor units, more than the ledger holds"
                                       f" ({MAX_MINOR_DIGITS} digits at most)")
    try:
        money = Money.of_minor(int(value), currency(str(code)))
    except AmountError as exc:
        raise Refused("PARAM_ILLEGAL", f"{path}.currency: {exc}") from None
    if money.minor <= 0:
        raise Refused("PARAM_ILLEGAL", f"{path}.value must be more than 0")
    return money


def amount_json(money: Money) -> dict[str, str]:
    return {"currency": money.currency.code, "value": str(money.minor)}


def payment_json(payment: Any) -> dict[str, Any]:
    """What inquiries and notifications say of a recorded payment: its ids, amount and times, and,
    where they differ from its own amount, ``customerPayAmount`` (what the wallet paid, in its
    currency) and ``grossSettlementAmount`` (what the merchant is settled)."""
    fields: dict[str, Any] = {
        "paymentRequestId": payment.payment_request_id,
        "paymentId": payment.payment_id,
        "paymentAmount": amount_json(Money.of_minor(payment.amount, payment.currency)),
        "paymentCreateTime": timestamp(payment.created_at),
    }
    if payment.paid_at is not None:
        fields["paymentTime"] = timestamp(payment.paid_at)
    return fields | paid_amounts(payment)


def paid_amounts(payment: Any) -> dict[str, Any]:
    """A paid payment's other amounts, where they differ from its own: ``customerPayAmount`` (what the
    wallet paid, in its currency) and ``grossSettlementAmount`` (what the merchant is settled)."""
    fields: dict[str, Any] = {}
    if payment.wallet_amount is not None and payment.wallet_currency not in (None, payment.currency):
        fields["customerPayAmount"] = amount_json(Money.of_minor(payment.wallet_amount, payment.wallet_currency))
    if payment.settlement_amount is not None and payment.settlement_currency not in (None, payment.currency):
        fields["grossSettlementAmount"] = amount_json(Money.of_minor(payment.settlement_amount, payment.settlement_currency))
    return fields
