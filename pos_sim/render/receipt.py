"""Receipts on paper: a PNG as a thermal printer prints one, and the ESC/POS bytes that print it.

Both take the lines of ``pos_sim.domain.receipt.rows`` and add a QR code of the receipt number
(what a refund is found by) above its printed number.

PNG: a 203 dpi printer's font A, 12 x 24 dots a character on a 30-dot line, drawn character by
character on the column grid of the layout, so wide (CJK) characters take two cells and Thai marks
sit on their letter whatever the font's own advances (each mark drawn over its letter's cell). Fonts, by file name from the system's font
folders, first one that has the glyph: DejaVu Sans Mono (Debian ``fonts-dejavu-core``), Tlwg Mono
for Thai (``fonts-tlwg-mono``), Droid Sans Fallback for CJK (``fonts-droid-fallback``), Noto Sans
CJK (``fonts-noto-cjk``); Pillow's own default font when none is installed, which lacks Thai and
CJK (those print as boxes). A training receipt carries a diagonal "TRAINING" watermark.

ESC/POS: ``ESC @``, code page PC858 (``ESC t 19``: Latin-1 letters and the euro sign), the
layout's lines with the merchant name in double size (``GS !``), totals and the outcome in bold
(``ESC E``), the training stamp reversed (``GS B``), the QR code by ``GS ( k`` (model 2, error
level M) and a partial cut (``GS V``). Text outside PC858 is folded where an equivalent exists
(full-width ``￥`` to ``¥``, ``ő`` to ``o``). A receipt with text PC858 cannot print at all (Thai,
Chinese, Japanese: the merchant's language or the customer's) is sent as a raster image instead
(``GS v 0``, in bands of at most ``RASTER_BAND`` dot rows): the PNG's printable columns, one bit a
dot. Code pages for Thai and CJK (and Kanji mode) differ from one printer model to the next and a
wrong guess prints garbage; every ESC/POS printer prints a raster. ``encode_text`` still says which
text is lost (``?`` a column) for a caller that sends text alone.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pos_sim.domain.receipt import Receipt, Row, Style, clusters, display_width, rows, wrap
from pos_sim.render import barcodes

CELL_PX = 12
"""Width of one column, in dots at scale 1 (a 203 dpi printer's font A)."""
LINE_PX = 30
"""Height of one line, in dots at scale 1 (font A's 24 dots and the printer's line spacing)."""
MARGIN_PX = 12
"""Paper around the printed area, at scale 1 (and a line more below, fed to the cutter)."""
FONT_PX = 20
"""Font size that gives DejaVu Sans Mono a 12-dot advance."""
QR_MODULE_PX = 4
"""Dots a QR module, at scale 1: a version 1 code is about 15 mm across, easy for a hand scanner."""
WATERMARK = "TRAINING"

FONT_FILES = {
    False: ("DejaVuSansMono.ttf", "TlwgMono.ttf", "DroidSansFallbackFull.ttf", "NotoSansCJK-Regular.ttc"),
    True: ("DejaVuSansMono-Bold.ttf", "TlwgMono-Bold.ttf", "DroidSansFallbackFull.ttf", "NotoSansCJK-Bold.ttc"),
}
"""Fonts tried for each character, regular and bold, first that has it."""
FONT_SCALE = {"TlwgMono.ttf": 1.25, "TlwgMono-Bold.ttf": 1.25}
"""Fonts drawn larger than the rest: Tlwg Mono's Thai letters are small beside Latin capitals."""

_MISSING = "\U0010fffd"  # a private-use character no font draws: its mask is the font's .notdef box


def png_width(width_chars: int, scale: int = 1) -> int:
    """Pixel width of a receipt PNG of ``width_chars`` columns."""
    return (width_chars * CELL_PX + 2 * MARGIN_PX) * scale


@functools.cache
def _fonts(bold: bool, size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, ...]:
    found: list[ImageFont.FreeTypeFont | ImageFont.ImageFont] = []
    for name in FONT_FILES[bold]:
        try:
            found.append(ImageFont.truetype(name, round(size * FONT_SCALE.get(name, 1)), layout_engine=ImageFont.Layout.BASIC))
        except OSError:
            continue
    return (*found, ImageFont.load_default(size))


@functools.cache
def _has_glyph(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, char: str) -> bool:
    """Whether ``font`` draws ``char`` (its own glyph: a fullwidth bracket is not its ASCII one)."""
    missing, mask = font.getmask(_MISSING), font.getmask(char)
    return (mask.size, bytes(mask)) != (missing.size, bytes(missing))


def _font_for(cluster: str, bold: bool, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = _fonts(bold, size)
    return next((font for font in fonts if _has_glyph(font, cluster[0])), fonts[0])


def _draw_text(
    draw: ImageDraw.ImageDraw, text: str, x: int, y: int, cell: int, line: int, *, bold: bool, fill: int
) -> None:
    """``text`` on the column grid from (x, y): each cluster centred in its one or two cells, its marks drawn
    over its letter one by one, as a terminal lays them (Tlwg Mono, the Thai font, draws a mark a cell wide
    for a terminal to lay over the cell before it: shaped with the letter it would land a cell to the right,
    and shaped alone it gets a dotted circle; so the fonts use Pillow's basic layout, a glyph a character)."""
    baseline = y + line * 4 // 5
    size = FONT_PX * cell // CELL_PX
    column = 0
    for cluster in clusters(text):
        cells = display_width(cluster)
        if cluster.strip():
            font = _font_for(cluster, bold, size)
            for char in cluster:
                left = x + column * cell + (max(cells, 1) * cell - font.getlength(char)) / 2
                draw.text((left, baseline), char, font=font, fill=fill, anchor="ls")
        column += cells


def _qr(receipt: Receipt, scale: int) -> Image.Image:
    return Image.fromarray(barcodes.qr_image(receipt.receipt_number, module_px=QR_MODULE_PX * scale))


def _height(row: Row, line: int, qr_px: int) -> int:
    return {Style.TITLE: 2 * line, Style.QR: qr_px + line}.get(row.style, line)


def _watermark(image: Image.Image, scale: int) -> None:
    """Diagonal "TRAINING" across the receipt, light grey, under the print."""
    side = int((image.width**2 + image.height**2) ** 0.5) + 1
    layer = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(layer)
    font = _fonts(True, FONT_PX * 3 * scale)[0]
    step = int(font.getlength(WATERMARK + "   "))
    for i, y in enumerate(range(0, side, LINE_PX * 5 * scale)):
        for x in range(-(i % 2) * step // 2, side, step):
            draw.text((x, y), WATERMARK, font=font, fill=255)
    layer = layer.rotate(35, resample=Image.Resampling.BILINEAR)
    left, top = (side - image.width) // 2, (side - image.height) // 2
    image.paste(220, (0, 0), layer.crop((left, top, left + image.width, top + image.height)))


def receipt_png(receipt: Receipt, width_chars: int, path: Path | str | None = None, *, scale: int = 1) -> Image.Image:
    """The receipt printed on ``width_chars`` columns (32, 42, 48), as a grayscale image
    ``png_width(width_chars, scale)`` pixels wide; written to ``path`` as PNG when given.

    ``scale`` multiplies every size (2 gives a sharper picture for a screen or a README).
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= 8:
        raise ValueError(f"scale must be a whole number from 1 to 8, got {scale!r}")
    laid = rows(receipt, width_chars)
    cell, line, margin = CELL_PX * scale, LINE_PX * scale, MARGIN_PX * scale
    qr = _qr(receipt, scale)
    height = 2 * margin + line + sum(_height(row, line, qr.height) for row in laid)  # a line fed to the cutter
    image = Image.new("L", (png_width(width_chars, scale), height), 255)
    if receipt.training:
        _watermark(image, scale)
    draw = ImageDraw.Draw(image)
    y = margin
    for row in laid:
        if row.style is Style.TITLE:
            text = row.text.strip()
            left = margin + (width_chars - 2 * display_width(text)) * cell // 2
            _draw_text(draw, text, left, y, 2 * cell, 2 * line, bold=True, fill=0)
        elif row.style is Style.STAMP:
            draw.rectangle((margin, y + line // 10, margin + width_chars * cell - 1, y + line - line // 10), fill=0)
            _draw_text(draw, row.text, margin, y, cell, line, bold=True, fill=255)
        elif row.style is Style.QR:
            image.paste(qr, ((image.width - qr.width) // 2, y))
            _draw_text(draw, row.text, margin, y + qr.height, cell, line, bold=True, fill=0)
        else:
            _draw_text(draw, row.text, margin, y, cell, line, bold=row.style is Style.BOLD, fill=0)
        y += _height(row, line, qr.height)
    if path is not None:
        image.save(path, format="PNG", dpi=(203 * scale, 203 * scale))
    return image


# --- ESC/POS ---------------------------------------------------------------------------------

ESC, GS, LF = b"\x1b", b"\x1d", b"\n"
INIT = ESC + b"@"
CODE_PAGE = "cp858"
SELECT_CODE_PAGE = ESC + b"t" + bytes([19])  # 19: PC858 on Epson and most compatibles
CUT = GS + b"V" + bytes([1])  # partial cut, the form every cutter takes
FEED_TO_CUTTER = ESC + b"d" + bytes([4])  # the cutter sits above the print head
QR_MODULE_DOTS = 6
QR_ERROR_M = 49


def _align(where: int) -> bytes:
    """ESC a: 0 left, 1 centre, 2 right."""
    return ESC + b"a" + bytes([where])


def _centred(commands: bytes) -> bytes:
    """``commands`` printed centred, then back to the left."""
    return _align(1) + commands + _align(0)


def _bold(on: bool) -> bytes:
    return ESC + b"E" + bytes([on])


def _size(double: bool) -> bytes:
    """GS !: double width and height, or normal."""
    return GS + b"!" + bytes([0x11 if double else 0])


def _reverse(on: bool) -> bytes:
    return GS + b"B" + bytes([on])


def _qr_function(fn: int, data: bytes) -> bytes:
    """GS ( k pL pH cn fn data, for the QR symbol (cn 49)."""
    length = len(data) + 2
    return GS + b"(k" + bytes([length & 0xFF, length >> 8, 49, fn]) + data


def escpos_qr(payload: bytes, module_dots: int = QR_MODULE_DOTS) -> bytes:
    """A QR code of ``payload``: model 2, module size, error level M, store the data, print it."""
    if not 1 <= len(payload) <= 7089:
        raise ValueError(f"a printer's QR code holds 1 to 7089 bytes, got {len(payload)}")
    return (
        _qr_function(65, bytes([50, 0]))  # fn 165: model 2
        + _qr_function(67, bytes([module_dots]))  # fn 167: module size in dots
        + _qr_function(69, bytes([QR_ERROR_M]))  # fn 169: error correction level M
        + _qr_function(80, b"0" + payload)  # fn 180: store the data
        + _qr_function(81, b"0")  # fn 181: print the stored symbol
    )


def encode_text(text: str) -> tuple[bytes, bool]:
    """``text`` in PC858, a column a column, and whether anything had to be printed as ``?``."""
    out, lossy = bytearray(), False
    for cluster in clusters(text):
        cells = display_width(cluster)
        folded = unicodedata.normalize("NFKC", cluster)
        bare = "".join(c for c in unicodedata.normalize("NFKD", folded) if display_width(c) > 0)
        for candidate in (cluster, folded, bare):
            try:
                data = candidate.encode(CODE_PAGE)
            except UnicodeEncodeError:
                continue
            if display_width(candidate) <= cells:
                out += data + b" " * (cells - display_width(candidate))
                break
        else:
            out += b"?" * cells
            lossy = True
    return bytes(out), lossy


RASTER_BAND = 256
"""Dot rows in one ``GS v 0`` command (printers' buffers take a few hundred rows at a time)."""


def escpos_raster(image: Image.Image) -> bytes:
    """``image`` (grayscale) as ``GS v 0`` raster commands: a dot where the pixel is darker than mid-grey,
    the leftmost dot the high bit, rows padded to whole bytes, in bands of ``RASTER_BAND`` rows."""
    dots = np.asarray(image.convert("L")) < 128
    padded = np.pad(dots, ((0, 0), (0, -dots.shape[1] % 8)))
    packed = np.packbits(padded, axis=1)
    out = bytearray()
    for top in range(0, packed.shape[0], RASTER_BAND):
        band = packed[top:top + RASTER_BAND]
        rows_, width = band.shape
        out += GS + b"v0\x00" + bytes([width % 256, width // 256, rows_ % 256, rows_ // 256]) + band.tobytes()
    return bytes(out)


def receipt_escpos(receipt: Receipt, width_chars: int) -> bytes:
    """The ESC/POS commands that print the receipt on a printer of ``width_chars`` columns in font A: as
    text, or as a raster image of its PNG when it holds text the code page cannot print."""
    if any(encode_text(row.text)[1] for row in rows(receipt, width_chars)):
        image = receipt_png(receipt, width_chars)
        printable = image.crop((MARGIN_PX, 0, MARGIN_PX + width_chars * CELL_PX, image.height))
        return INIT + escpos_raster(printable) + FEED_TO_CUTTER + CUT
    out = bytearray(INIT + SELECT_CODE_PAGE)

    def text(line: str) -> bytes:
        return encode_text(line)[0] + LF

    for row in rows(receipt, width_chars):
        if row.style is Style.TITLE:
            out += _centred(_size(True) + _bold(True) + text(row.text.strip()) + _bold(False) + _size(False))
        elif row.style is Style.STAMP:
            out += _centred(_reverse(True) + _bold(True) + text(row.text.strip()) + _bold(False) + _reverse(False))
        elif row.style is Style.BOLD:
            out += _bold(True) + text(row.text) + _bold(False)
        elif row.style is Style.QR:
            out += _centred(escpos_qr(receipt.receipt_number.encode("ascii")) + LF + text(row.text.strip()))
        else:
            out += text(row.text)
    return bytes(out + FEED_TO_CUTTER + CUT)
