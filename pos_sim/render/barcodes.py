"""Codes as grayscale pixels: retail and Code 128 barcodes (zxing-cpp's writer) and QR codes.

Images are uint8, 0 for ink and 255 for paper, with the quiet zones the symbologies ask for, so a
scanner (or ``pos_sim.scan.damage``) gets what a printer or a phone screen would show.
"""

from __future__ import annotations

import re

import numpy as np

from pos_sim.domain.codes.gs1 import check_digit
from pos_sim.render import qr

LINEAR = ("ean13", "ean8", "upca", "code128")
_DIGITS = {"ean13": ("EAN-13", 13), "ean8": ("EAN-8", 8), "upca": ("UPC-A", 12)}
_FORMATS = {"ean13": "EAN13", "ean8": "EAN8", "upca": "UPCA", "code128": "Code128"}
CODE128_MAX_CHARS = 80  # longer symbols are wider than a handheld scanner's field of view
_CODE128 = re.compile(r"[\x20-\x7e]{1,%d}\Z" % CODE128_MAX_CHARS)
VERTICAL_QUIET_MODULES = 10  # paper above and below the bars (zxing-cpp pads left and right only)


def _check(symbology: str, text: str) -> None:
    if symbology == "code128":
        if not _CODE128.match(text):
            limit = CODE128_MAX_CHARS
            raise ValueError(f"Code 128 text must be 1-{limit} printable ASCII characters, got {text[:90]!r}")
        return
    name, length = _DIGITS[symbology]
    if len(text) != length or not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} text must be {length} digits (the last one the check digit), got {text[:90]!r}")
    if text[-1] != check_digit(text[:-1]):
        raise ValueError(f"{name} {text} has check digit {text[-1]}, it should be {check_digit(text[:-1])}")


def _scale(module_px: int) -> None:
    if not isinstance(module_px, int) or isinstance(module_px, bool) or not 1 <= module_px <= 64:
        raise ValueError(f"module_px must be a whole number of pixels from 1 to 64, got {module_px!r}")


def barcode_image(symbology: str, text: str, module_px: int = 3, height_px: int | None = None) -> np.ndarray:
    """``text`` as a ``symbology`` barcode, ``module_px`` pixels a module, bars ``height_px`` tall.

    ``height_px`` defaults to zxing-cpp's own bar height; quiet zones are added on every side.
    """
    if symbology not in LINEAR:
        raise ValueError(f"unknown barcode symbology {symbology!r}: use one of {', '.join(LINEAR)}")
    _check(symbology, text)
    _scale(module_px)
    if height_px is not None and (not isinstance(height_px, int) or not 1 <= height_px <= 4096):
        raise ValueError(f"height_px must be a whole number of pixels from 1 to 4096, got {height_px!r}")
    import zxingcpp

    symbol = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, _FORMATS[symbology]))
    bars = np.asarray(symbol.to_image(scale=module_px, add_hrt=False, add_quiet_zones=True), dtype=np.uint8)
    if height_px is not None:
        bars = np.repeat(bars[:1], height_px, axis=0)
    return np.pad(bars, ((VERTICAL_QUIET_MODULES * module_px,) * 2, (0, 0)), constant_values=255)


def qr_image(payload: str, module_px: int = 6) -> np.ndarray:
    """``payload`` as a QR code (``pos_sim.render.qr``: byte mode, level M), with its 4-module quiet zone."""
    _scale(module_px)
    if not payload:
        raise ValueError("a QR code needs a payload, got an empty one")
    try:
        modules = np.array(qr.matrix(payload), dtype=bool)
    except ValueError as exc:  # segno's DataOverflowError
        size = len(payload.encode("utf-8"))
        raise ValueError(f"a payload of {size} bytes does not fit in a QR code at level M") from exc
    pixels = np.where(modules, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(pixels, module_px, axis=0), module_px, axis=1)
