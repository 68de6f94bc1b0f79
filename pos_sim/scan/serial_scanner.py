"""Serial scanner: a barcode scanner on a serial port (RS-232, or USB in CDC/virtual COM mode).

The scanner sends each code as a line of bytes. ``SerialScanner`` reads them with pyserial and
yields each code as text.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from types import TracebackType

import serial

from pos_sim.scan.frames import SourceError

log = logging.getLogger(__name__)


class SerialScanner:
    """Codes from a scanner on a serial port.

    Each byte in ``terminators`` ends a code, so the default takes "\\r", "\\n" and "\\r\\n" line
    ends alike; empty lines are skipped. A code that is not valid UTF-8 is skipped with a logged
    warning naming the port and the bad byte, and reading goes on: a mangled code is never charged.
    ``timeout`` (seconds) is how long ``scans()`` waits for the next byte before it returns; None
    waits for ever. Bytes of an unfinished code are kept for the next call.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        terminators: bytes = b"\r\n",
        timeout: float | None = None,
    ) -> None:
        if not terminators:
            raise ValueError("terminators must hold at least one byte")
        self.port = port
        self._line_end = re.compile(b"[" + re.escape(terminators) + b"]")
        self._pending = b""  # bytes read and not yet yielded, so stopping between codes loses none
        try:
            self._serial = serial.Serial(port, baudrate, timeout=timeout)
        except serial.SerialException as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise SourceError(f"serial {port}", f"cannot open ({reason})") from None
        except ValueError as error:  # pyserial's word for a bad setting, e.g. a baud rate the port refuses
            raise SourceError(f"serial {port}", f"cannot open ({error})") from None

    def scans(self) -> Iterator[str]:
        """Yield each code as it completes, until ``timeout`` passes without a byte."""
        while True:
            end = self._line_end.search(self._pending)
            if end is None:
                try:
                    chunk = self._serial.read(max(1, self._serial.in_waiting))
                except OSError as error:  # pyserial's SerialException is an OSError
                    raise SourceError(f"serial {self.port}", f"read failed ({error})") from None
                if not chunk:
                    return
                self._pending += chunk
                continue
            line, self._pending = self._pending[: end.start()], self._pending[end.end() :]
            try:
                code = line.decode("utf-8")
            except UnicodeDecodeError as error:
                log.warning(
                    "serial %s: skipped a code that is not UTF-8 (byte %d is 0x%02x)",
                    self.port,
                    error.start,
                    line[error.start],
                )
                continue
            if code:
                yield code

    def close(self) -> None:
        self._serial.close()

    def __enter__(self) -> SerialScanner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
