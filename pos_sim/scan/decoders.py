"""Decoders: one interface over zxing-cpp, pyzbar (libzbar) and OpenCV.

A decoder takes an image (a numpy array, grayscale or BGR) and returns every code it reads in it,
as ``Read`` values with the symbology, text, raw bytes, corners in image coordinates, the decoder's
name and the time taken. A decoder whose library cannot be loaded is reported once by
``available()`` and left out; it never crashes the terminal.

The text is the one the code says: its ECI designator when it has one (Shift_JIS, GB 18030, Big5,
UTF-8, ISO-8859-x...), else the decoder's own reading of the bytes (zxing-cpp and libzbar tell
Shift_JIS, the JIS X 0510 default, from UTF-8 and ISO-8859-1, libzbar Big5 too; OpenCV reads ISO-8859-1, the
ISO/IEC 18004 default). A terminal's market may say better (``charset``: a Japanese terminal's Shift_JIS, a
Chinese one's GB 18030, a Taiwanese or Hong Kong one's Big5): the bytes of a 2-D code that names no charset and are
not UTF-8 are read in it when it holds them, strictly (``_in_charset``), else as the library guessed. Only
zxing-cpp's reads can be, the one library that gives the bytes and whether an ECI named them; an ECI, or UTF-8,
always stands. ``raw`` keeps the bytes as the code holds them where the library gives them (zxing-cpp); libzbar
gives them as UTF-8, OpenCV as UTF-8 for ISO-8859-1 (without an ECI it gives bytes that are not UTF-8 as their
ISO-8859-1 reading in UTF-8, the same bytes as a UTF-8 code of that text: the code's own cannot be had back).
A UPC-A is reported as UPC-A, 12 digits, whichever way the library names it (a UPC-A is an EAN-13 whose first digit
is 0, the same bars); a UPC-E as the GTIN-13 it stands for, as zxing-cpp gives it. A GS1 code (DataBar, DataBar
Limited and Expanded, GS1-128, GS1 Data Matrix, GS1 QR) is its element string, as the code carries it and libzbar
gives it: the Application Identifiers and their data without parentheses, a GS (\x1d) after a field of variable
length that another follows ("0109521234543213" and "010952123454321310AB12\x1d3103000123"), not zxing-cpp's
human-readable "(01)09521234543213".
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pos_sim.domain.codes import gs1

log = logging.getLogger(__name__)

Corners = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Read:
    """One code read from a frame."""

    symbology: str  # "qr", "ean13", "ean8", "upca", "upce", "code128", "code39", "datamatrix", ...
    text: str
    raw: bytes
    corners: Corners  # four (x, y) points, clockwise from the top left of the code
    decoder: str
    ms: float = 0.0
    lines: int = 0  # the scan lines that read this same text (libzbar's count); 0 where the library does not count


class Decoder(Protocol):
    name: str

    def decode(self, image: np.ndarray) -> list[Read]: ...


def gray(image: np.ndarray) -> np.ndarray:
    """The image as 8-bit grayscale (decoders and preprocessing work on luminance)."""
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def _points(points) -> Corners:
    """Corners as integer points, clockwise (in image coordinates) from the one nearest the top left."""
    pts = [(float(x), float(y)) for x, y in points]
    cx, cy = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    pts.sort(key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    first = min(range(len(pts)), key=lambda i: pts[i][0] + pts[i][1])
    return tuple((round(x), round(y)) for x, y in pts[first:] + pts[:first])


# AIM ECI assignments -> Python codecs (AIM ITS/04-001); what OpenCV reports for a code's bytes
_ECI_CODECS = {
    0: "cp437", 1: "latin-1", 2: "cp437", 3: "latin-1", 4: "iso8859-2", 5: "iso8859-3", 6: "iso8859-4",
    7: "iso8859-5", 8: "iso8859-6", 9: "iso8859-7", 10: "iso8859-8", 11: "iso8859-9", 12: "iso8859-10",
    13: "iso8859-11", 15: "iso8859-13", 16: "iso8859-14", 17: "iso8859-15", 18: "iso8859-16", 20: "shift_jis",
    21: "cp1250", 22: "cp1251", 23: "cp1252", 24: "cp1256", 25: "utf-16-be", 26: "utf-8", 27: "ascii",
    28: "big5", 29: "gb18030", 30: "euc-kr", 32: "gb18030", 33: "utf-16-le", 34: "utf-32-be", 35: "utf-32-le",
}


BYTE_MODES = ("qr", "microqr", "rmqr", "datamatrix", "aztec", "pdf417")
"""The 2-D symbologies whose bytes name no charset without an ECI (readers guess it); a 1-D code's are ISO-8859-1."""


def _in_charset(raw: bytes, charset: str | None) -> str | None:
    """The text of a code's bytes that name no charset, in ``charset`` (decoded strictly); None when they are UTF-8
    (they stay UTF-8), or ``charset`` is None or does not hold them (the library's reading stands)."""
    if charset is None:
        return None
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode(charset)
    except UnicodeDecodeError:
        return None


def _retail(symbology: str, text: str) -> tuple[str, str]:
    """A UPC-A read as an EAN-13 with a leading 0 (zxing-cpp names it so) as UPC-A, 12 digits; a UPC-E as zxing-cpp
    gives it, the GTIN-13 it stands for (libzbar and OpenCV give its 8 digits)."""
    if symbology == "ean13" and len(text) == 13 and text.startswith("0"):
        return "upca", text[1:]
    if symbology == "upce" and len(text) == 8 and text.isdigit() and text[0] in "01":
        return symbology, "0" + gs1.expand_upce(text)
    return symbology, text


class ZxingDecoder:
    """zxing-cpp: QR, Micro QR, Data Matrix, Aztec, PDF417 and the 1-D retail and industrial codes."""

    name = "zxing"
    _SYMBOLOGIES = {
        "QRCode": "qr",
        "MicroQRCode": "microqr",
        "RMQRCode": "rmqr",
        "DataMatrix": "datamatrix",
        "Aztec": "aztec",
        "PDF417": "pdf417",
        "EAN13": "ean13",
        "EAN8": "ean8",
        "UPCA": "upca",
        "UPCE": "upce",
        "Code128": "code128",
        "Code39": "code39",
        "Code93": "code93",
        "Codabar": "codabar",
        "ITF": "itf",
        "DataBarOmni": "databar",  # zxing-cpp 3 names each DataBar it reads by its kind
        "DataBarStk": "databar",
        "DataBarStkOmni": "databar",
        "DataBarLtd": "databar-limited",
        "DataBarExp": "databar-expanded",
        "DataBarExpStk": "databar-expanded",
    }

    def __init__(self, *, fast: bool = False, charset: str | None = None) -> None:
        import zxingcpp

        self._zx = zxingcpp
        self._symbologies = {getattr(zxingcpp.BarcodeFormat, k): v for k, v in self._SYMBOLOGIES.items()}
        self.fast = fast
        self.charset = charset  # what the bytes of a 2-D code that names no charset are read in, when it holds them
        if fast:
            self.name = "zxing-fast"

    def decode(self, image: np.ndarray) -> list[Read]:
        return self.read(image, fast=self.fast)

    def read(self, image: np.ndarray, *, formats=None, fast: bool = False, binarizer: str = "local") -> list[Read]:
        """Every valid code zxing-cpp finds; ``fast`` skips its retries (rotation, downscaling, inversion),
        ``binarizer`` is "local" (its default, local averages) or "global" (a histogram of the whole image)."""
        options: dict = {"try_rotate": False, "try_downscale": False, "try_invert": False} if fast else {}
        options["text_mode"] = self._zx.TextMode.Plain  # the characters the code holds, not "<CR><LF>" (its default, HRI)
        if binarizer == "global":
            options["binarizer"] = self._zx.Binarizer.GlobalHistogram
        if formats is not None:
            options["formats"] = formats
        started = time.perf_counter()
        found = self._zx.read_barcodes(image, **options)
        ms = (time.perf_counter() - started) * 1000
        reads = []
        named: dict[tuple, bool] | None = None  # which codes an ECI names the charset of, asked once when needed
        for code in found:
            if not code.valid:
                continue
            pos = code.position
            corners = _points([(p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)])
            raw, text = bytes(code.bytes), code.text
            symbology = self._symbologies.get(code.format, str(code.format).lower())
            preferred = _in_charset(raw, self.charset) \
                if symbology in BYTE_MODES and code.content_type == self._zx.ContentType.Text else None
            if code.content_type == self._zx.ContentType.GS1:
                text = raw.decode("ascii", errors="replace")  # its element string, as libzbar gives it, not "(01)..."
            elif preferred not in (None, text):  # the same text: no need to ask whether an ECI named the charset
                named = self._eci_named(image, options) if named is None else named
                text = text if named.get((code.format, str(pos)), True) else preferred
            symbology, text = _retail(symbology, text)
            reads.append(Read(symbology, text, raw, corners, self.name, ms))
        return reads

    def _eci_named(self, image: np.ndarray, options: dict) -> dict[tuple, bool]:
        """Whether an ECI names the charset of each code zxing-cpp reads in ``image`` (by its format and place): its
        bytes with their ECI designators (``TextMode.HexECI``, after the symbology identifier) are more than its
        bytes. zxing-cpp's Python binding has no other word of it, nor its reader's fallback character set option:
        the same reading again, asked only for a code whose bytes the terminal's charset would read."""
        found = self._zx.read_barcodes(image, **options | {"text_mode": self._zx.TextMode.HexECI})
        return {(code.format, str(code.position)): bytes.fromhex(code.text)[3:] != bytes(code.bytes)
                for code in found if code.valid}


class ZbarDecoder:
    """pyzbar over libzbar: QR and the 1-D codes (EAN/UPC, Code 128, Code 39, I2/5, Codabar)."""

    name = "zbar"
    _SYMBOLOGIES = {
        "QRCODE": "qr",
        "EAN13": "ean13",
        "EAN8": "ean8",
        "UPCA": "upca",
        "UPCE": "upce",
        "CODE128": "code128",
        "CODE39": "code39",
        "CODE93": "code93",
        "I25": "itf",
        "CODABAR": "codabar",
        "DATABAR": "databar",
        "DATABAR_EXP": "databar-expanded",
    }

    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except ImportError as exc:  # pyzbar is there; the system's libzbar.so.0 is not
            raise ImportError(f"{exc}: install the system library libzbar0 (Debian, Ubuntu: apt-get install libzbar0; "
                              "macOS: brew install zbar)") from None

        self._zbar = pyzbar
        # only the symbologies named above: DataBar, no payment code, prints libzbar assertion warnings
        self._symbols = [s for s in pyzbar.ZBarSymbol if s.name in self._SYMBOLOGIES]

    def decode(self, image: np.ndarray) -> list[Read]:
        started = time.perf_counter()
        found = self._zbar.decode(np.ascontiguousarray(gray(image)), symbols=self._symbols)
        ms = (time.perf_counter() - started) * 1000
        reads = []
        for code in found:
            # libzbar turns a QR code's bytes into UTF-8 itself (its charset guess, ECI 3-26)
            text = code.data.decode("utf-8", errors="replace")
            symbology, text = _retail(self._SYMBOLOGIES.get(code.type, code.type.lower()), text)
            corners = _points(code.polygon) if len(code.polygon) == 4 else _rect(code.rect)
            reads.append(Read(symbology, text, bytes(code.data), corners, self.name, ms, code.quality))
        return reads


def _rect(rect) -> Corners:
    x, y, w, h = rect
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


class OpenCvDecoder:
    """OpenCV's QRCodeDetectorAruco (finds several QR codes a frame), its QR decoder (the bytes and
    the ECI of each) and its 1-D barcode detector."""

    name = "opencv"

    def __init__(self) -> None:
        import cv2

        self._cv2 = cv2
        self._finder = cv2.QRCodeDetectorAruco()
        self._barcode = cv2.barcode.BarcodeDetector()

    def decode(self, image: np.ndarray) -> list[Read]:
        started = time.perf_counter()
        frame = gray(image)
        reads: list[tuple[str, str, bytes, Corners]] = []
        ok, points = self._finder.detectMulti(frame)
        for p in points if ok and points is not None else ():
            qr = self._cv2.QRCodeDetector()  # a detector's getEncoding() keeps the ECI of the first code it decoded
            raw, _ = qr.decodeBytes(frame, p.reshape(-1, 1, 2).astype(np.float32))
            if raw:
                # ECI 0: no designator, or ISO-8859-1 that OpenCV has already turned into UTF-8
                codec = _ECI_CODECS.get(qr.getEncoding(), "utf-8") if qr.getEncoding() else "utf-8"
                reads.append(("qr", raw.decode(codec, errors="replace"), raw, _points(p)))
        result = self._barcode.detectAndDecodeWithType(frame)
        ok, texts, kinds, points = result if len(result) == 4 else (result[0], *result[1:])
        if ok and points is not None:
            for text, kind, p in zip(texts, kinds, points):
                if text:
                    symbology, text = _retail(kind.lower().replace("_", "").replace("-", ""), text)
                    reads.append((symbology, text, text.encode("ascii", errors="replace"), _points(p)))
        ms = (time.perf_counter() - started) * 1000
        return [Read(s, t, r, c, self.name, ms) for s, t, r, c in reads]


_ADAPTERS = {"zxing": ZxingDecoder, "zbar": ZbarDecoder, "opencv": OpenCvDecoder}
_reported: set[str] = set()


def load(name: str, charset: str | None = None) -> Decoder | None:
    """The decoder called ``name``, or None (said once in the log) when its library is missing; ``charset``: what it
    reads the bytes of a 2-D code that names no charset in, where its library gives them (zxing-cpp alone)."""
    try:
        return ZxingDecoder(charset=charset) if name == "zxing" else _ADAPTERS[name]()
    except (ImportError, OSError, AttributeError) as exc:
        if name not in _reported:
            _reported.add(name)
            log.warning("decoder %s left out: %s", name, exc)
        return None


def available() -> dict[str, str | None]:
    """Each decoder's name -> None when it loads, or why it does not."""
    out: dict[str, str | None] = {}
    for name, adapter in _ADAPTERS.items():
        try:
            adapter()
            out[name] = None
        except (ImportError, OSError, AttributeError) as exc:
            out[name] = str(exc)
    return out


NAMES = tuple(_ADAPTERS)
