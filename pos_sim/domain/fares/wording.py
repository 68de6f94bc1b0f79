"""The words of a journey's summary line in a wallet's history ("2025-03-03 M01 21:00 -> no tap-out (maximum fare:
no tap-out within 3 h)"), each a message of the catalogue.

Clearing writes the line in English, and keeps it so; ``said_in`` says a kept line in a rider's language: its
words translated, its days, times, stations and numbers as they are.
"""

from __future__ import annotations

import re

from pos_sim.language import N_, in_language

MAXIMUM_FARE_NO_TAP_OUT = N_("maximum fare: no tap-out within {hours} h")
MAXIMUM_FARE_NO_TAP_IN = N_("maximum fare: no tap-in")
JOINED = N_("joined to another journey")
RIDERS = N_("{riders} riders")
NO_TAP_OUT = N_("no tap-out")
NO_TAP_IN = N_("no tap-in")
CAPPED = N_("capped: {cap}")

_SAID = (MAXIMUM_FARE_NO_TAP_OUT, MAXIMUM_FARE_NO_TAP_IN, JOINED, RIDERS, NO_TAP_OUT, NO_TAP_IN)
"""The words a kept line may hold (a message holding another before it); their values are whole numbers."""

_PATTERNS = [(message, re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[0-9]+)", re.escape(message)))) for message in _SAID]
_ANY = re.compile("|".join(pattern.pattern for _message, pattern in _PATTERNS))


def said_in(line: str, lang: str) -> str:
    """A summary line clearing wrote, in ``lang``."""

    def say(found: re.Match[str]) -> str:
        for message, pattern in _PATTERNS:
            if words := pattern.fullmatch(found.group()):
                return in_language(lang, message).format(**words.groupdict())
        raise AssertionError(found.group())  # _ANY matches only what one of _PATTERNS does

    return _ANY.sub(say, line)
