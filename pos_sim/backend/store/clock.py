"""The simulator's clock: the real time, moved on by ``POST /sim/clock`` so that codes and orders expire.

QA and training need a wallet's payment code to go stale (EXPIRED_CODE), an order code to pass its
``paymentExpiryTime`` unpaid (ORDER_IS_CLOSED) or a device token to pass its expiry, without waiting
minutes or years. Every time of the payment world (records, codes, orders, notifications due) is
read from the store's ``SimClock``; the clock keeps running in real time from wherever it was moved
to, and it only moves forward. Times on the wire (the ``request-time`` and ``response-time`` headers)
stay real, since the peers check them against their own clocks, and so do the deadlines a terminal
sets and acts on: a pay's ``paymentExpiryTime`` is read with ``simulated()``, and the order code's
``expireTime`` answered with ``real()``.

The offset is kept in the store (``Store.advance_clock``): a restarted backend goes on from the
time it was moved to, and the worker processes of one PostgreSQL store follow one clock (the store
reads the offset at the start of each transaction there).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

MAX_ADVANCE_S = 366 * 86400
"""The most one ``advance`` moves the clock: a year and a day, past any code's or token's expiry."""


class SimClock:
    """The real UTC time plus an offset that only grows; thread-safe."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The simulated time, aware UTC, to the microsecond."""
        return datetime.now(UTC) + self._offset

    @property
    def offset_s(self) -> int:
        """How many seconds the clock has been moved on in all."""
        return int(self._offset.total_seconds())

    def simulated(self, real: datetime) -> datetime:
        """A real time (one a peer sent) as the simulator's time."""
        return real + self._offset

    def real(self, simulated: datetime) -> datetime:
        """A time of the simulator as the real time a peer would act on."""
        return simulated - self._offset

    def follow(self, offset_s: int) -> None:
        """Take the offset the store holds, moved on by this process or another; never back."""
        with self._lock:
            self._offset = max(self._offset, timedelta(seconds=offset_s))


def check_advance(seconds: object) -> int:
    """``seconds`` if the clock may move on by it (a whole number, 1 to ``MAX_ADVANCE_S``), else ValueError."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_ADVANCE_S:
        raise ValueError(f"{seconds!r}: the clock moves on by a whole number of seconds, 1 to {MAX_ADVANCE_S}")
    return seconds
