"""The serial scanner over a real pseudo-terminal pair: the test writes to the master side as a scanner would."""

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pos_sim.scan.frames import SourceError
from pos_sim.scan.serial_scanner import SerialScanner

ALIPAY = "281234567890123456789012"


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """(master fd, slave device path); the slave is what the scanner opens as its port."""
    master, slave = os.openpty()
    name = os.ttyname(slave)
    yield master, name
    for fd in (master, slave):
        with contextlib.suppress(OSError):  # the test may have closed it already
            os.close(fd)


def test_codes_with_mixed_line_ends_are_read_in_order(pty: tuple[int, str]) -> None:
    master, port = pty
    with SerialScanner(port, timeout=0.05) as scanner:
        os.write(master, f"{ALIPAY}\r4901234567894\n(01)09501101530003\r\n\r\nカード-7\n".encode())
        assert list(scanner.scans()) == [ALIPAY, "4901234567894", "(01)09501101530003", "カード-7"]


def test_a_code_split_across_reads_is_put_back_together(pty: tuple[int, str]) -> None:
    master, port = pty
    with SerialScanner(port, timeout=0.05) as scanner:
        os.write(master, ALIPAY[:10].encode())
        assert list(scanner.scans()) == []  # timed out in the middle of a code
        os.write(master, (ALIPAY[10:] + "\r").encode())
        os.write(master, b"\n")  # the \n of a \r\n split from its \r
        assert list(scanner.scans()) == [ALIPAY]


def test_codes_trickling_in_from_another_thread(pty: tuple[int, str]) -> None:
    master, port = pty
    pieces = [b"28123456", b"7890123456789012\r", b"\n49012", b"34567894", b"\r"]

    def scanner_side() -> None:
        for piece in pieces:
            os.write(master, piece)
            time.sleep(0.02)

    with SerialScanner(port, baudrate=115200, timeout=0.3) as scanner:
        writer = threading.Thread(target=scanner_side)
        writer.start()
        codes = list(scanner.scans())
        writer.join()
    assert codes == [ALIPAY, "4901234567894"]


def test_stopping_between_codes_loses_none(pty: tuple[int, str]) -> None:
    master, port = pty
    with SerialScanner(port, timeout=0.05) as scanner:
        os.write(master, b"1111\r2222\r3333\r")
        for code in scanner.scans():
            assert code == "1111"
            break
        assert list(scanner.scans()) == ["2222", "3333"]


def test_a_code_that_is_not_utf8_is_skipped_with_a_warning(
    pty: tuple[int, str], caplog: pytest.LogCaptureFixture
) -> None:
    master, port = pty
    with caplog.at_level(logging.WARNING), SerialScanner(port, timeout=0.05) as scanner:
        os.write(master, b"1111\r22\xff22\r3333\r")
        assert list(scanner.scans()) == ["1111", "3333"]
    assert caplog.messages == [f"serial {port}: skipped a code that is not UTF-8 (byte 2 is 0xff)"]


def test_other_terminators(pty: tuple[int, str]) -> None:
    master, port = pty
    with SerialScanner(port, terminators=b"\x03", timeout=0.05) as scanner:  # ETX ends each code
        os.write(master, b"1111\x032222\r\n\x03")
        assert list(scanner.scans()) == ["1111", "2222\r\n"]


def test_a_port_that_is_not_there_is_a_source_error() -> None:
    with pytest.raises(SourceError) as caught:
        SerialScanner("/dev/ttyPOSSIM9")
    assert str(caught.value) == "serial /dev/ttyPOSSIM9: cannot open (No such file or directory)"


def test_a_scanner_unplugged_while_reading_is_a_source_error(pty: tuple[int, str]) -> None:
    master, port = pty
    with SerialScanner(port, timeout=0.05) as scanner:
        os.close(master)  # the far end hangs up
        with pytest.raises(SourceError, match=f"^serial {port}: read failed "):
            list(scanner.scans())


def test_no_terminators_is_refused() -> None:
    with pytest.raises(ValueError, match="terminators"):
        SerialScanner("/dev/null", terminators=b"")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), terminators=st.sampled_from([b"\r\n", b"\x03", b"\n\x00"]))
def test_any_bytes_from_the_scanner_come_out_as_the_utf8_lines_they_hold(pty: tuple[int, str], data: bytes,
                                                                         terminators: bytes) -> None:
    master, port = pty
    sent = data + terminators[:1]  # the last code ended too
    expected = []
    for line in re.split(b"[" + re.escape(terminators) + b"]", sent)[:-1]:
        try:
            expected += [line.decode("utf-8")] if line else []
        except UnicodeDecodeError:
            pass  # skipped, with a warning
    with SerialScanner(port, terminators=terminators, timeout=0.02) as scanner:
        os.write(master, sent)
        assert list(scanner.scans()) == expected
