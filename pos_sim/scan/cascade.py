"""The decoder cascade: the fast path first, then preprocessing where a first pass fails.

Passes, cheapest first, each tried only while nothing valid has been read and the frame's time
budget lasts:

1. zxing-cpp on the frame as it is, no retries (most frames end here);
2. zxing-cpp with its own retries (rotation by 90 degrees, downscaling, inversion);
3. the frame inverted, for 1-D codes in dark mode (zxing-cpp's 1-D readers ignore inversion);
4. crops around candidate regions (where the gradient is dense), upscaled when small, read as
   they are, sharpened, and binarised, and rotated for 1-D codes at an angle;
5. libzbar on the frame, a different reader that gets some codes zxing-cpp misses.

Every read is validated before it is returned (``valid``): EAN/UPC check digits, the CRC and
structure of EMV payloads, the wallet code format when the caller expects a wallet code. A wrong
read is worse than no read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import cv2
import numpy as np

from pos_sim.domain import codes
from pos_sim.domain.errors import CodeError
from pos_sim.scan import decoders
from pos_sim.scan.decoders import Corners, Read, gray

RETAIL = ("ean13", "ean8", "upca", "upce")
LINEAR = (*RETAIL, "code128")
DEFAULT_BUDGET_MS = 40.0


def valid(read: Read, expect: str | None = None) -> bool:
    """Whether ``read`` passes the checks its content allows; ``expect`` a kind from codes.KINDS."""
    if read.symbology in ("ean13", "ean8", "upca"):
        try:
            codes.gs1.decode(read.text).validate()
        except CodeError:
            return False
    kind = codes.classify(read.text).kind
    if kind in ("emv-mpm", "emv-cpm", "wallet-paycode"):
        try:
            codes.parse(read.text)
        except CodeError:
            return False
    return expect is None or kind == expect


Transform = Callable[[Corners], Corners]


def _same(corners: Corners) -> Corners:
    return corners


class Cascade:
    """Reads every code in a frame, trying cheap passes before expensive ones."""

    name = "cascade"

    def __init__(self, *, expect: str | None = None, budget_ms: float = DEFAULT_BUDGET_MS) -> None:
        import zxingcpp

        self._zxing = decoders.ZxingDecoder()
        linear = [getattr(zxingcpp.BarcodeFormat, f) for f in ("EAN13", "EAN8", "UPCA", "UPCE", "Code128")]
        self._linear = zxingcpp.BarcodeFormats(linear)
        self._formats = zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode, *linear])
        self._zbar = decoders.load("zbar")
        self.expect = expect
        self.budget_ms = budget_ms

    def decode(self, image: np.ndarray) -> list[Read]:
        started = time.perf_counter()
        frame = gray(image)
        found: dict[tuple[str, str], Read] = {}
        for stage, reads in self._passes(frame, started):
            for read in reads:
                key = (read.symbology, read.text)
                if key not in found and valid(read, self.expect):
                    found[key] = replace(read, decoder=f"{self.name}:{stage}")
            if found:
                break
            if (time.perf_counter() - started) * 1000 > self.budget_ms:
                break
        ms = (time.perf_counter() - started) * 1000
        return [replace(read, ms=ms) for read in found.values()]

    def _passes(self, frame: np.ndarray, started: float) -> Iterator[tuple[str, list[Read]]]:
        yield "fast", self._read(frame, fast=True)
        yield "full", self._read(frame, fast=False)
        yield "inverted", self._read(255 - frame, fast=True, linear_only=True)
        for box in _candidates(frame):
            for stage, image, back in _variants(frame, box):
                yield stage, [r.moved(back(r.corners)) for r in self._read(image, fast=stage != "crop")]
                if (time.perf_counter() - started) * 1000 > self.budget_ms:
                    return
        if self._zbar is not None:
            yield "zbar", self._zbar.decode(frame)

    def _read(self, image: np.ndarray, *, fast: bool, linear_only: bool = False) -> list[Read]:
        return self._zxing.read(image, formats=self._linear if linear_only else self._formats, fast=fast)


def _candidates(frame: np.ndarray, most: int = 3) -> list[tuple[int, int, int, int]]:
    """Boxes (x, y, w, h) where codes likely are: dense strong gradients, found on a reduced frame."""
    scale = 4 if frame.shape[1] > 960 else 2
    small = cv2.resize(frame, (frame.shape[1] // scale, frame.shape[0] // scale), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_16S, 0, 1, ksize=3)
    energy = cv2.convertScaleAbs(cv2.add(cv2.convertScaleAbs(gx), cv2.convertScaleAbs(gy)))
    energy = cv2.blur(energy, (5, 5))
    _, mask = cv2.threshold(energy, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:most]:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < 64:
            continue
        pad = max(w, h) // 4 + 2
        x0, y0 = max(0, x - pad) * scale, max(0, y - pad) * scale
        x1 = min(small.shape[1], x + w + pad) * scale
        y1 = min(small.shape[0], y + h + pad) * scale
        boxes.append((x0, y0, x1 - x0, y1 - y0))
    return boxes


def _variants(frame: np.ndarray, box: tuple[int, int, int, int]) -> Iterator[tuple[str, np.ndarray, Transform]]:
    """Images made from the crop ``box`` of ``frame``, with the map of their points back to the frame."""
    x, y, w, h = box
    crop = frame[y : y + h, x : x + w]
    factor = max(1.0, min(4.0, 480 / max(w, h)))
    if factor > 1.0:
        crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)

    def back(corners: Corners) -> Corners:
        return tuple((round(x + px / factor), round(y + py / factor)) for px, py in corners)

    yield "crop", crop, back
    sharp = cv2.addWeighted(crop, 2.0, cv2.GaussianBlur(crop, (0, 0), 2.0), -1.0, 0)
    yield "sharpened", sharp, back
    smooth = cv2.medianBlur(crop, 3)
    binary = cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5)
    yield "binarised", binary, back
    for angle in (30, -30, 60, -60):
        rotated, inverse = _rotate(crop, angle)

        def rotated_back(corners: Corners, inverse: np.ndarray = inverse) -> Corners:
            points = cv2.transform(np.array([corners], dtype=np.float32), inverse)[0]
            return back(tuple((px, py) for px, py in points))

        yield f"rotated{angle}", rotated, rotated_back


def _rotate(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned by ``angle`` degrees on a canvas that holds it all, and the inverse map."""
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(h * sin + w * cos), int(h * cos + w * sin))
    matrix[0, 2] += size[0] / 2 - w / 2
    matrix[1, 2] += size[1] / 2 - h / 2
    rotated = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderValue=255)
    return rotated, cv2.invertAffineTransform(matrix)
