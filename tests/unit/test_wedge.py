"""The keyboard-wedge scanner over synthetic key timings: scanner bursts and people typing."""

import random

import pytest

from pos_sim.scan.wedge import Event, Scan, Typed, WedgeScanner

ALIPAY = "281234567890123456789012"  # a 24-digit wallet payment code


def keys(scanner: WedgeScanner, text: str, start_ms: float, gaps_ms: list[float] | float) -> list[Event]:
    """Feed ``text`` one key at a time from ``start_ms``; a gap list gives each key's gap to the next."""
    gaps = gaps_ms if isinstance(gaps_ms, list) else [gaps_ms] * len(text)
    events, at = [], start_ms
    for char, gap in zip(text, gaps, strict=True):
        events += scanner.feed(char, at)
        at += gap
    return events


def burst(scanner: WedgeScanner, text: str, start_ms: float, seed: int = 0) -> list[Event]:
    """A scanner typing ``text`` at 5-10 ms a key."""
    rng = random.Random(seed)
    return keys(scanner, text, start_ms, [rng.uniform(5, 10) for _ in text])


def test_a_scanner_burst_ending_in_enter_is_one_scan() -> None:
    scanner = WedgeScanner()
    events = burst(scanner, ALIPAY + "\r", 1000)
    assert len(events) == 1
    assert isinstance(events[0], Scan) and events[0].text == ALIPAY
    assert 1000 + 24 * 5 <= events[0].at_ms <= 1000 + 24 * 10


def test_the_same_code_within_the_double_scan_window_is_dropped_and_later_taken() -> None:
    scanner = WedgeScanner()
    first = burst(scanner, ALIPAY + "\r", 0)
    assert [e.text for e in first] == [ALIPAY]
    assert burst(scanner, ALIPAY + "\r", first[0].at_ms + 500) == []
    again = burst(scanner, ALIPAY + "\r", first[0].at_ms + 500 + 2000)
    assert [type(e) for e in again] == [Scan] and again[0].text == ALIPAY


def test_a_code_held_in_front_of_the_scanner_is_taken_once() -> None:
    scanner = WedgeScanner()
    events = []
    for n in range(6):  # continuous mode: the same code every 1 s, each within the window of the last
        events += burst(scanner, ALIPAY + "\r", n * 1000, seed=n)
    assert [e.text for e in events] == [ALIPAY]


def test_a_different_code_is_taken_at_once() -> None:
    scanner = WedgeScanner()
    events = burst(scanner, ALIPAY + "\r", 0) + burst(scanner, "4901234567894\r", 400)
    assert [e.text for e in events] == [ALIPAY, "4901234567894"]


def test_a_person_typing_is_typing_not_a_scan() -> None:
    scanner = WedgeScanner()
    events = keys(scanner, "1234\r", 0, 150)
    assert all(isinstance(e, Typed) for e in events)
    assert "".join(e.text for e in events) == "1234\r"


def test_a_persons_key_is_held_back_until_the_gap_shows_it_is_not_a_burst() -> None:
    scanner = WedgeScanner()
    assert scanner.feed("7", 0) == []
    assert scanner.flush(30) == []  # still could be the first key of a burst
    assert scanner.flush(31) == [Typed("7")]
    assert scanner.flush(500) == []


def test_jittery_scanner_timing_up_to_the_gap_is_still_a_burst() -> None:
    scanner = WedgeScanner(max_gap_ms=30)
    rng = random.Random(7)
    gaps = [rng.choice([1.0, 12.5, 25.0, 30.0]) for _ in ALIPAY] + [0.0]  # exact in binary: no rounding
    events = keys(scanner, ALIPAY + "\r", 0, gaps)
    assert [type(e) for e in events] == [Scan] and events[0].text == ALIPAY


def test_a_gap_over_the_limit_breaks_the_burst_and_nothing_is_lost() -> None:
    scanner = WedgeScanner(max_gap_ms=30)
    gaps = [8.0] * 11 + [30.5] + [8.0] * 13  # the scanner stalls after 12 keys
    events = keys(scanner, ALIPAY + "\r", 0, gaps)
    assert events == [Typed(ALIPAY[:12]), Scan(ALIPAY[12:], 11 * 8 + 30.5 + 12 * 8)]


def test_a_burst_that_never_ends_with_the_suffix_is_given_back_as_typing() -> None:
    scanner = WedgeScanner()
    assert burst(scanner, ALIPAY, 0) == []
    assert scanner.flush(10_000) == [Typed(ALIPAY)]


def test_typing_around_a_scan_comes_out_in_order() -> None:
    scanner = WedgeScanner()
    events = keys(scanner, "qt", 0, 150)  # a person types "q", "t" ...
    events += burst(scanner, ALIPAY + "\r", 300)  # ... a scan ...
    events += keys(scanner, "y\r", 800, 150)  # ... and the person goes on
    events += scanner.flush(2000)
    assert [e.text for e in events] == ["q", "t", ALIPAY, "y", "\r"]
    assert [type(e) for e in events] == [Typed, Typed, Scan, Typed, Typed]


def test_quick_keys_of_a_person_shorter_than_min_length_are_typing() -> None:
    scanner = WedgeScanner(min_length=4)
    assert keys(scanner, "12\r", 0, 20) == [Typed("12\r")]  # key rollover: 20 ms apart


@pytest.mark.parametrize("suffix", ["\n", "\t", "\r\n"])
def test_other_suffixes(suffix: str) -> None:
    scanner = WedgeScanner(suffix=suffix)
    assert [(type(e), e.text) for e in burst(scanner, ALIPAY + suffix, 0)] == [(Scan, ALIPAY)]
    assert keys(scanner, "\r", 5000, 10) + scanner.flush(6000) == [Typed("\r")]


def test_no_suffix_ends_a_scan_on_the_gap() -> None:
    scanner = WedgeScanner(suffix="")
    assert keys(scanner, ALIPAY, 0, 8.0) == []
    last_key_ms = 23 * 8.0
    assert scanner.flush(last_key_ms + 30) == []
    assert scanner.flush(last_key_ms + 31) == [Scan(ALIPAY, last_key_ms)]
    assert keys(scanner, "ab", 5000, 200) + scanner.flush(6000) == [Typed("a"), Typed("b")]


def test_a_prefix_is_stripped_and_required() -> None:
    scanner = WedgeScanner(prefix="]Q1")
    assert [e.text for e in burst(scanner, "]Q1" + ALIPAY + "\r", 0)] == [ALIPAY]
    assert burst(scanner, "4901234567894\r", 5000) == [Typed("4901234567894\r")]


def test_a_persons_key_just_before_a_prefixed_burst_is_typing() -> None:
    scanner = WedgeScanner(prefix="~")
    events = keys(scanner, "x", 0, 0) + burst(scanner, "~" + ALIPAY + "\r", 12)
    assert [type(e) for e in events] == [Typed, Scan]
    assert [e.text for e in events] == ["x", ALIPAY]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_gap_ms"):
        WedgeScanner(max_gap_ms=0)
    with pytest.raises(ValueError, match="min_length"):
        WedgeScanner(min_length=0)
    with pytest.raises(ValueError, match="double_scan_ms"):
        WedgeScanner(double_scan_ms=-1)
