"""Keyboard-wedge scanner: telling a scanner's burst of keys from a person typing.

A USB barcode scanner in keyboard mode types its code as a burst of keys a few milliseconds apart,
usually ending with Enter. ``WedgeScanner`` is fed every key with its time and turns the keys into
``Scan`` events (a whole code) and ``Typed`` events (a person's keys, for the UI to pass on to the
focused input). It does no I/O and reads no clock: the UI feeds it keys and calls ``flush`` from a
timer, every ``max_gap_ms`` or so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scan:
    """A code the scanner typed (prefix and suffix removed), at the time of its last key."""

    text: str
    at_ms: float


@dataclass(frozen=True)
class Typed:
    """Keys a person typed, to be passed on as they are."""

    text: str


Event = Scan | Typed


class WedgeScanner:
    """Splits timed keys into scans and typing.

    Keys at most ``max_gap_ms`` apart form a burst. A burst is a scan when it ends with ``suffix``
    and holds ``prefix`` followed by at least ``min_length`` characters; keys before the prefix
    (a person's key that landed just before the burst) come out as typing. With an empty suffix, a
    burst ends when the gap after it passes ``max_gap_ms``. Any other burst is typing, given back
    whole, suffix included. A code equal to the one before, within ``double_scan_ms`` of it, is a
    double scan and is dropped; the window runs from the last time the code was seen, so a code held
    in front of a scanner in continuous mode is taken once. A key is held back until the next key
    or ``flush`` shows whether it began a burst. A person's key typed in the middle of a burst
    cannot be told apart by timing and ends up in the code.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        suffix: str = "\r",
        max_gap_ms: float = 30.0,
        min_length: int = 4,
        double_scan_ms: float = 1500.0,
    ) -> None:
        if max_gap_ms <= 0:
            raise ValueError(f"max_gap_ms must be above 0, not {max_gap_ms}")
        if min_length < 1:
            raise ValueError(f"min_length must be 1 or more, not {min_length}")
        if double_scan_ms < 0:
            raise ValueError(f"double_scan_ms must be 0 or more, not {double_scan_ms}")
        self.prefix = prefix
        self.suffix = suffix
        self.max_gap_ms = max_gap_ms
        self.min_length = min_length
        self.double_scan_ms = double_scan_ms
        self._burst: list[str] = []
        self._last_key_ms = 0.0
        self._last_code: Scan | None = None

    def feed(self, char: str, at_ms: float) -> list[Event]:
        """Take one key pressed at ``at_ms``; return the events it settles, oldest first."""
        events = self.flush(at_ms)
        self._burst.append(char)
        self._last_key_ms = at_ms
        if self.suffix and "".join(self._burst).endswith(self.suffix):
            events += self._end_burst()
        return events

    def flush(self, now_ms: float) -> list[Event]:
        """Settle a burst whose keys stopped more than ``max_gap_ms`` before ``now_ms``."""
        if self._burst and now_ms - self._last_key_ms > self.max_gap_ms:
            return self._end_burst()
        return []

    def _end_burst(self) -> list[Event]:
        burst, at_ms = "".join(self._burst), self._last_key_ms
        self._burst.clear()
        if not burst.endswith(self.suffix):
            return [Typed(burst)]
        body = burst[: len(burst) - len(self.suffix)]
        typed, prefix, code = body.partition(self.prefix) if self.prefix else ("", "", body)
        if prefix != self.prefix or len(code) < self.min_length:
            return [Typed(burst)]
        events: list[Event] = [Typed(typed)] if typed else []
        last, self._last_code = self._last_code, Scan(code, at_ms)
        if last is not None and last.text == code and at_ms - last.at_ms <= self.double_scan_ms:
            return events
        return [*events, Scan(code, at_ms)]
