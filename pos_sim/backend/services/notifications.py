"""Payment result notifications: the provider's POST to a merchant's ``paymentNotifyUrl`` once a payment
is final, signed like every AMS message, and sent again with backoff until the merchant acknowledges it.

An outbox: ``queue(tx, payment)`` writes the notification in the transaction that records the outcome,
so it is durable with it; the ``Notifier`` thread sends what is due from the store after the commit
(``wake()`` says "now"), so a notification left over from before a restart goes out too.

Only SUCCESS and FAIL are notified (a CANCELLED payment is not). Delivery is at least once: the merchant
may see a notification again if the backend stops between its answer and recording it. The worker
processes of one PostgreSQL store each run a notifier; a notifier claims the notifications it sends,
so that no other sends them meanwhile. A claim lasts as long as one attempt can take (twice
``timeout_s``): one whose process died before recording the attempt lapses that soon, and a batch
held up by slow merchants may see its last notifications sent by another process as well.

Acknowledged means HTTP 200 with a JSON body whose ``result.resultStatus`` is ``"S"``, as the provider's
docs ask the merchant to answer. Anything else (no connection, no answer within the timeout, another
status, another body) is a failed attempt, recorded with a short error and tried again after a delay
that starts at ``Backoff.first_s`` and grows ``factor`` times to at most ``cap_s`` (1 s doubling up to
5 min by default), with no last attempt: the simulator keeps trying until acknowledged or stopped, a
dead URL costing one attempt per ``cap_s``. A URL that can never be sent to (not http(s), no host) is
recorded as failed once and not tried again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from pos_sim.backend.protocol import RESULTS, Refused, payment_json, result, stamp, timestamp
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.records import Notification, Payment
from pos_sim.domain import ams_signature

NOTIFIED_STATUSES = frozenset({"SUCCESS", "FAIL"})
"""Payment statuses that are notified: the final outcomes a merchant waits for (not CANCELLED)."""

BATCH = 50
"""Due notifications read from the store at a time."""

MAX_ANSWER_BYTES = 64 * 1024
"""The longest acknowledgement read; a longer answer is a failed attempt."""

MAX_ERROR_CHARS = 300
"""``last_error`` is cut to this length."""

RETRY_AFTER_ERROR_S = 5.0
"""How long the delivery loop pauses after an unexpected error (a store it cannot reach...)."""

log = logging.getLogger(__name__)


# --- what is sent -----------------------------------------------------------------------------


def _result(payment: Payment) -> dict[str, str]:
    """The ``result`` of a final payment: SUCCESS, or its F result code (PROCESS_FAIL when it has none)."""
    if payment.status == "SUCCESS":
        return result("SUCCESS")
    code = payment.result_code
    return result(code if code in RESULTS and RESULTS[code][0] == "F" else "PROCESS_FAIL")


def body(payment: Payment) -> dict[str, Any]:
    """The notification of a final payment, after the provider's notifyPayment.

    ``customerPayAmount`` is added when the wallet paid in another currency, ``grossSettlementAmount``
    when the merchant settles in another currency. A SUCCESS payment's ``result`` is SUCCESS and a FAIL
    one's its F result code, so the two never disagree.
    """
    notice: dict[str, Any] = {
        "notifyType": "PAYMENT_RESULT",
        "result": _result(payment),
    }
    return notice | payment_json(payment)


def queue(tx: Tx, payment: Payment) -> None:
    """Add the payment's notification to the outbox in ``tx``, when it has a ``paymentNotifyUrl``.

    ``payment`` must be the payment as now recorded (read again after ``update_payment``): a payment
    that is not SUCCESS or FAIL is a ValueError, a mistake of the caller.
    """
    if payment.status not in NOTIFIED_STATUSES:
        raise ValueError(f"payment {payment.payment_id} is {payment.status}: only SUCCESS and FAIL are notified")
    if not payment.notify_url:
        return
    text = json.dumps(body(payment), ensure_ascii=False)
    tx.add_notification(payment.client_id, payment.payment_id, payment.notify_url, text)


# --- when it is sent again ------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """When a failed notification is tried again: ``first_s`` after the first failure, then ``factor``
    times longer after each further one, but never more than ``cap_s`` after the last."""

    first_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.first_s > 0:
            raise ValueError(f"first_s={self.first_s!r}: the first delay must be more than 0 seconds")
        if not self.factor >= 1:
            raise ValueError(f"factor={self.factor!r}: delays may not shrink (1 or more)")
        if not self.cap_s >= self.first_s:
            raise ValueError(f"cap_s={self.cap_s!r}: the longest delay may not be shorter than first_s={self.first_s!r}")

    def delay(self, failures: int) -> timedelta:
        """How long to wait after ``failures`` (1 or more) failed attempts."""
        if failures < 1:
            raise ValueError(f"failures={failures!r}: a delay follows at least one failed attempt")
        seconds = self.first_s
        for _ in range(failures - 1):
            seconds *= self.factor
            if seconds >= self.cap_s:
                break
        return timedelta(seconds=min(seconds, self.cap_s))


# --- the delivery thread --------------------------------------------------------------------


class _Failed(Exception):
    """An attempt that failed; ``retry`` is False when the URL can never be sent to."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def _url_problem(url: str) -> str | None:
    """Why ``url`` can never be sent to, or None."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "the URL holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"not an http(s) URL (scheme {parts.scheme!r})" if parts.scheme else "not an http(s) URL (no scheme)"
    if not parts.hostname:
        return "the URL has no host"
    return None


def _reason(exc: BaseException) -> str:
    """The operating system's words for a connection failure ("Connection refused", "timed out"), or the error's class."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, OSError) and isinstance(cause.strerror, str) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's MaxRetryError
    return f"{type(reason or exc).__name__}"


class Notifier:
    """Sends the store's due notifications from a background thread, until each is acknowledged.

    ``start()`` it, ``stop()`` it (both safe to repeat); ``wake()`` (any thread) after committing a
    notification makes the thread look at once instead of at the next due time. Attempts go one after another,
    each giving up after ``timeout_s`` to connect and ``timeout_s`` waiting for the answer, so a dead
    merchant URL delays the others by that much, never for good. With nothing due the thread looks
    again every ``idle_s`` seconds anyway (notifications written by another process).
    """

    def __init__(
        self,
        store: Store,
        private_key: Any,
        backoff: Backoff | None = None,
        *,
        timeout_s: float = 5.0,
        idle_s: float = 60.0,
    ) -> None:
        if not timeout_s > 0 or not idle_s > 0:
            raise ValueError(f"timeout_s={timeout_s!r} and idle_s={idle_s!r} must be more than 0 seconds")
        self.store = store
        self.private_key = private_key
        self.backoff = backoff or Backoff()
        self.timeout_s = timeout_s
        self.idle_s = idle_s
        self._clock = store.clock.now  # the simulator's clock: notifications come due as it moves on
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the delivery thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the delivery thread (nothing if it runs already)."""
        with self._lifecycle:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="pos-sim-notifier", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread and wait for it: at once, or once the attempt under way ends."""
        with self._lifecycle:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stopping.set()
            self._wakeup.set()
            thread.join(2 * self.timeout_s + 5)
            if thread.is_alive():
                log.warning("the notification thread did not stop within %.0f s", 2 * self.timeout_s + 5)

    def wake(self) -> None:
        """Look for due notifications now (thread-safe; a no-op while stopped)."""
        self._wakeup.set()

    def show(self, payment_id: str) -> dict[str, Any]:
        """The /sim view of a payment's notifications; ORDER_NOT_EXIST for an unknown payment."""
        with self.store.begin() as tx:
            sent = tx.notifications(payment_id)
            known = tx.payment(None, payment_id=payment_id) is not None
        if not known:
            raise Refused("ORDER_NOT_EXIST", f"no payment {payment_id}")
        return {"paymentId": payment_id, "notifications": [_view(n) for n in sent]}

    # the thread

    def _run(self) -> None:
        with requests.Session() as session:
            session.trust_env = False  # no proxies or .netrc from the environment (DESIGN: settings come from pos_sim.cli)
            while True:
                self._wakeup.clear()  # before looking, so a wake() during the pass is not lost
                if self._stopping.is_set():
                    return
                try:
                    wait_s = self._deliver_due(session)
                except Exception:
                    log.exception("delivering notifications failed; trying again in %.0f s", RETRY_AFTER_ERROR_S)
                    wait_s = min(RETRY_AFTER_ERROR_S, self.idle_s)
                self._wakeup.wait(wait_s)

    def _deliver_due(self, session: requests.Session) -> float:
        """Send every notification due now; the seconds until the next one is due (at most ``idle_s``)."""
        while True:
            at = self._clock()
            with self.store.begin() as tx:  # claimed for as long as one attempt can take
                due = tx.claim_notifications(at, at + timedelta(seconds=2 * self.timeout_s + 1), limit=BATCH)
            for notification in due:
                if self._stopping.is_set():
                    return 0.0
                self._attempt(session, notification)
            if len(due) < BATCH:
                break
        with self.store.begin() as tx:
            next_at = tx.next_notification_at()
        if next_at is None:
            return self.idle_s
        return min(self.idle_s, max(0.0, (next_at - self._clock()).total_seconds()))

    def _attempt(self, session: requests.Session, notification: Notification) -> None:
        """One delivery attempt, recorded: delivered, or failed and due again after the backoff."""
        try:
            self._send(session, notification)
        except _Failed as failed:
            error = str(failed)[:MAX_ERROR_CHARS]
            failures = notification.attempts + 1
            next_at = self._clock() + self.backoff.delay(failures) if failed.retry else None
            with self.store.begin() as tx:
                tx.notification_attempted(notification.id, delivered=False, next_at=next_at, error=error)
            log.info("notification %s of payment %s to %s failed (attempt %d): %s; %s", notification.id,
                     notification.payment_id, notification.url, failures, error,
                     f"next at {timestamp(next_at)}" if next_at else "not tried again")
            return
        with self.store.begin() as tx:
            tx.notification_attempted(notification.id, delivered=True)

    def _send(self, session: requests.Session, notification: Notification) -> None:
        """POST the notification, signed; returns when acknowledged, raises _Failed otherwise."""
        url = notification.url
        problem = _url_problem(url)
        if problem:
            raise _Failed(f"{problem}: {url!r}; not tried again", retry=False)
        data = notification.body.encode("utf-8")
        request_time = stamp()
        try:
            signature = ams_signature.sign(self.private_key, "POST", urlsplit(url).path or "/", notification.client_id,
                                           request_time, data)
        except ams_signature.SignatureError as exc:
            raise _Failed(f"cannot sign the notification: {exc}") from None
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "client-id": notification.client_id,
            "request-time": request_time,
            "signature": ams_signature.signature_header(signature),
        }
        started = time.monotonic()
        try:
            answer = session.post(url, data=data, headers=headers, timeout=(self.timeout_s, self.timeout_s),
                                  allow_redirects=False, stream=True)
        except requests.ConnectTimeout:
            raise _Failed(f"cannot connect to {urlsplit(url).netloc} within {self.timeout_s:g} s") from None
        except requests.Timeout:
            raise _Failed(f"no answer within {self.timeout_s:g} s") from None
        except requests.ConnectionError as exc:
            raise _Failed(f"cannot connect to {urlsplit(url).netloc}: {_reason(exc)}") from None
        except requests.RequestException as exc:
            raise _Failed(f"the request failed: {type(exc).__name__}: {exc}") from None
        with answer:
            if answer.status_code != 200:
                raise _Failed(f"HTTP {answer.status_code} {answer.reason or ''}".rstrip() + ", not 200")
            content = self._read(answer, started + 2 * self.timeout_s)
        _check_ack(content)

    def _read(self, answer: requests.Response, deadline: float) -> bytes:
        """The answer's body, at most MAX_ANSWER_BYTES, complete before ``deadline`` (a monotonic time)."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in answer.iter_content(8192):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _Failed(f"HTTP 200 but the answer is over {MAX_ANSWER_BYTES // 1024} KiB")
                if time.monotonic() > deadline:
                    raise _Failed(f"HTTP 200 but the answer did not end within {2 * self.timeout_s:g} s")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise _Failed(f"HTTP 200 but the answer broke off: {_reason(exc)}") from None
        return b"".join(chunks)


def _check_ack(content: bytes) -> None:
    """Returns when ``content`` acknowledges the notification (``result.resultStatus`` "S"), raises _Failed otherwise."""
    try:
        answer = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise _Failed(f"HTTP 200 but the answer is not JSON: {content[:60]!r}") from None
    outcome = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(outcome, dict):
        raise _Failed("HTTP 200 but the answer has no result object")
    status = outcome.get("resultStatus")
    if status != "S":
        code = outcome.get("resultCode")
        raise _Failed(f"HTTP 200 but result.resultStatus is {status!r}, not 'S'" + (f" (resultCode {code!r})" if code else ""))


def _view(notification: Notification) -> dict[str, Any]:
    def at(moment: datetime | None) -> str | None:
        return None if moment is None else timestamp(moment)

    return {
        "id": notification.id,
        "url": notification.url,
        "attempts": notification.attempts,
        "delivered": notification.delivered_at is not None,
        "deliveredAt": at(notification.delivered_at),
        "nextAt": at(notification.next_at),
        "lastError": notification.last_error,
        "createdAt": at(notification.created_at),
        "body": json.loads(notification.body),
    }
