"""A terminal's scanner: a decoder (the cascade, or one library alone) over a source of frames.

``read_images`` reads files and folders, one result per image; ``read_live`` reads a camera or a
video and reports each new code once; ``virtual_scan`` renders a code, damages it by a named
profile and reads it through the same path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pos_sim.render import barcodes
from pos_sim.scan import damage, decoders, frames
from pos_sim.scan.cascade import Cascade
from pos_sim.scan.decoders import Decoder, Read

DECODERS = ("auto", *decoders.NAMES)
CHARSETS = {"ja": "cp932", "zh_Hans": "gb18030", "zh_Hant": "cp950"}
"""What a terminal reads the bytes of a 2-D code that names no charset (no ECI) and are not UTF-8 in, by the merchant's
language (``pos_sim.language``), where they hold them: Japan's Shift_JIS (JIS X 0510's default) as Windows writes it
(CP932: "㈱", "①"), mainland China's GB 18030 (GBK and GB 2312 are part of it: Chinese merchants' and older Chinese
apps' codes), Taiwan's and Hong Kong's Big5 as Windows writes it (CP950: "€"). Another language's terminal, or bytes
its charset does not hold, are read as the decoder guesses (``decoders``)."""


class ScannerError(Exception):
    """A scanner that cannot be set up: an unknown or missing decoder, a code that cannot be drawn."""


def decoder_named(name: str, expect: str | None = None, language: str = "en") -> Decoder:
    """``auto`` is the cascade; the others are one library alone, as it reads; each reads codes that name no charset
    as a terminal speaking ``language`` does (``CHARSETS``)."""
    charset = CHARSETS.get(language)
    if name == "auto":
        return Cascade(expect=expect, charset=charset)
    if name not in decoders.NAMES:
        raise ScannerError(f"unknown decoder {name!r}: choose from {', '.join(DECODERS)}")
    decoder = decoders.load(name, charset)
    if decoder is None:
        raise ScannerError(f"decoder {name} is not available here: {decoders.available()[name]}")
    return decoder


@dataclass(frozen=True)
class ImageResult:
    """What one image gave: its reads, or why nothing was read."""

    origin: str
    reads: list[Read]
    error: str | None = None


def read_images(paths: Iterable[str | Path], decoder: Decoder) -> Iterator[ImageResult]:
    for item in frames.images(paths):
        if isinstance(item, frames.SourceError):
            yield ImageResult(item.origin, [], item.reason)
            continue
        reads = decoder.decode(item.image)
        yield ImageResult(item.origin, reads, None if reads else "no code read")


def read_live(source: Iterable[frames.Frame], decoder: Decoder, repeat_after_s: float = 3.0) -> Iterator[tuple[str, Read]]:
    """Each code once when it comes into view; again only after it has been away ``repeat_after_s``."""
    last_seen: dict[tuple[str, str], float] = {}
    for frame in source:
        now = time.monotonic()
        for read in decoder.decode(frame.image):
            key = (read.symbology, read.text)
            if now - last_seen.get(key, -1e9) > repeat_after_s:
                yield frame.origin, read
            last_seen[key] = now


def symbology_for(text: str) -> str:
    """How a terminal would draw ``text``: retail digits as their barcode, anything else as a QR."""
    return {13: "ean13", 8: "ean8", 12: "upca"}.get(len(text), "qr") if text.isdigit() and len(text) < 14 else "qr"


def render(text: str, symbology: str | None = None) -> np.ndarray:
    symbology = symbology or symbology_for(text)
    try:
        return barcodes.qr_image(text) if symbology == "qr" else barcodes.barcode_image(symbology, text)
    except ValueError as exc:
        raise ScannerError(f"cannot draw {text!r} as {symbology}: {exc}") from None


def virtual_scan(
    text: str,
    decoder: Decoder,
    *,
    profile: str = "none",
    strength: float = 0.5,
    symbology: str | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[Read]]:
    """Render ``text``, damage it by ``profile`` at ``strength``, and read it: the image and the reads."""
    try:
        image = damage.damage(render(text, symbology), profile, strength, seed)
    except damage.DamageError as exc:
        raise ScannerError(str(exc)) from None
    return image, decoder.decode(image)
