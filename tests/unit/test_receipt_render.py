"""Receipts on paper: the PNG's QR code scans back to the receipt number with the terminal's own
scanner, the PNG is as wide as the paper, and the ESC/POS bytes initialise, print the lines in
order with the QR code of the receipt number, and cut."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pos_sim.domain.receipt import WIDTHS, Copy, Style, layout, rows
from pos_sim.render.receipt import (
    CELL_PX,
    CUT,
    MARGIN_PX,
    RASTER_BAND,
    _draw_text,
    encode_text,
    escpos_qr,
    png_width,
    receipt_escpos,
    receipt_png,
)
from pos_sim.scan.cascade import Cascade
from pos_sim.scan.scanner import read_images
from tests.unit.test_receipt import WIDE, refund, sale

ESC, GS = b"\x1b", b"\x1d"


def scanned(path) -> list[str]:
    return [read.text for result in read_images([path], Cascade()) for read in result.reads]


# --- PNG -------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("training", [False, True])
def test_the_png_qr_code_scans_back_to_the_receipt_number(tmp_path, width, training):
    path = tmp_path / "receipt.png"
    image = receipt_png(sale(training=training), width, path)
    assert path.is_file() and Image.open(path).size == image.size
    assert scanned(path) == ["T01-000123"]


def test_a_refund_receipt_scans_to_its_own_number(tmp_path):
    receipt_png(refund(), 32, tmp_path / "refund.png")
    assert scanned(tmp_path / "refund.png") == ["T01-000130"]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_png_is_as_wide_as_the_paper(width):
    image = receipt_png(sale(), width)
    assert image.width == png_width(width) == width * 12 + 24  # 12 dots a column, 12 dots of paper each side
    assert receipt_png(sale(), width, scale=2).width == 2 * image.width


def test_the_png_is_black_print_on_white_paper_and_grows_with_the_receipt():
    short = receipt_png(sale(footer=()), 32)
    long = receipt_png(sale(lines=WIDE, footer=("Thank you!", "Please come again.")), 32)
    pixels = np.asarray(short)
    assert short.mode == "L" and pixels[0, 0] == 255 and pixels.min() == 0
    assert (pixels == 255).mean() > 0.8  # mostly paper
    assert long.height > short.height


def test_training_receipts_carry_a_watermark_and_others_do_not():
    def light_grey(image: Image.Image) -> float:
        pixels = np.asarray(image)
        return float(((pixels > 200) & (pixels < 240)).mean())

    assert light_grey(receipt_png(sale(training=True), 42)) > 5 * light_grey(receipt_png(sale(), 42))


def test_wide_and_thai_text_renders(tmp_path):
    path = tmp_path / "wide.png"
    receipt_png(sale(lines=WIDE, training=True), 48, path)
    assert scanned(path) == ["T01-000123"]


def printed(text: str, bold: bool = False) -> np.ndarray:
    """``text`` as the PNG prints a line of it, from the left edge: True where there is ink."""
    image = Image.new("L", (CELL_PX * (len(text) + 2) * 2, 30), 255)
    _draw_text(ImageDraw.Draw(image), text, 0, 0, CELL_PX, 30, bold=bold, fill=0)
    return np.asarray(image) < 128


@pytest.mark.parametrize("bold", [False, True])
def test_thai_marks_are_printed_over_their_letter_not_the_next_cell(bold):
    """Tlwg Mono's marks (a vowel above, a tone mark) land on their letter's cell: the space after "ที่" stays
    blank, and each word's ink stays within its own cells."""
    ink = printed("ที่ ค้า", bold)
    columns = ink.any(axis=0)
    assert columns[:CELL_PX].any() and not columns[CELL_PX:2 * CELL_PX].any()  # ที่ then a blank cell
    assert columns[2 * CELL_PX:4 * CELL_PX].any() and not columns[4 * CELL_PX:].any()  # ค้า: two cells, no more
    assert ink[:, :CELL_PX].sum() > printed("ท", bold)[:, :CELL_PX].sum()  # the marks are there, over the letter


def test_a_fullwidth_bracket_is_printed_not_a_missing_box():
    def glyph(ink: np.ndarray) -> np.ndarray:
        rows, columns = np.nonzero(ink)
        return ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]

    assert not np.array_equal(glyph(printed("（")), glyph(printed("\U0010fffd")))  # a private-use character: the box


def test_bad_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        receipt_png(sale(), 32, scale=0)


# --- ESC/POS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_escpos_initialises_selects_pc858_and_ends_with_a_cut(width):
    data = receipt_escpos(sale(), width)
    assert data.startswith(ESC + b"@" + ESC + b"t\x13")
    assert data.endswith(CUT) and CUT == GS + b"V\x01"


def test_escpos_prints_a_qr_code_of_the_receipt_number():
    data = receipt_escpos(sale(), 32)
    store = GS + b"(k" + bytes([len("T01-000123") + 3, 0]) + b"1P0" + b"T01-000123"
    model, size, level = GS + b"(k\x04\x001A2\x00", GS + b"(k\x03\x001C\x06", GS + b"(k\x03\x001E1"
    print_it = GS + b"(k\x03\x001Q0"
    positions = [data.find(part) for part in (model, size, level, store, print_it)]
    assert -1 not in positions and positions == sorted(positions)
    assert escpos_qr(b"T01-000123") in data


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("training", [False, True])
def test_escpos_prints_every_line_of_the_layout_in_order(width, training):
    receipt = sale(training=training)
    data = receipt_escpos(receipt, width)
    at = 0
    for row in rows(receipt, width):
        text = row.text.strip() if row.style in (Style.TITLE, Style.STAMP, Style.QR) else row.text
        found = data.find(text.encode("cp858") + b"\n", at)
        assert found >= 0, f"{row.text!r} missing or out of order"
        at = found + 1
    assert GS + b"v0" not in data  # all of it text: no raster


def test_escpos_styles_the_title_totals_and_training_stamp():
    data = receipt_escpos(sale(training=True), 42)
    assert GS + b"!\x11" + ESC + b"E\x01KOPI CORNER PTE LTD\n" in data  # double size, bold
    total = next(line for line in layout(sale(), 42) if line.startswith("TOTAL"))
    assert ESC + b"E\x01" + total.encode() + b"\n" + ESC + b"E\x00" in data
    assert GS + b"B\x01" + ESC + b"E\x01*** TRAINING - NOT A PAYMENT ***\n" in data  # reversed
    assert data.count(b"TRAINING - NOT A PAYMENT") == 2
    assert b"CUSTOMER COPY" in data and b"MERCHANT COPY" in receipt_escpos(sale(copy=Copy.MERCHANT), 42)


def raster_of(data: bytes) -> np.ndarray:
    """The dots the ``GS v 0`` commands in ``data`` print, decoded back: True where the printer burns a dot."""
    bands, at = [], data.find(GS + b"v0")
    while at >= 0:
        mode, xl, xh, yl, yh = data[at + 3:at + 8]
        assert mode == 0
        width, height = xl + 256 * xh, yl + 256 * yh
        assert height <= RASTER_BAND
        body = np.frombuffer(data[at + 8:at + 8 + width * height], dtype=np.uint8).reshape(height, width)
        bands.append(np.unpackbits(body, axis=1))
        at = data.find(GS + b"v0", at + 8 + width * height)
    return np.vstack(bands).astype(bool)


@pytest.mark.parametrize("lang", ["th", "ja", "zh_Hans"])
@pytest.mark.parametrize("width", [32, 48])
def test_thai_and_cjk_receipts_print_as_a_raster_that_decodes_back_to_the_png(lang, width):
    """Text PC858 cannot print goes to the printer as the PNG's dots: decoded back, they are the PNG's printable
    columns, dot for dot; nothing is printed as text (no ?s)."""
    receipt = sale(lines=WIDE, language=lang, customer_language="zh_Hans" if lang != "zh_Hans" else "th")
    data = receipt_escpos(receipt, width)
    assert data.startswith(ESC + b"@" + GS + b"v0") and data.endswith(CUT) and b"?" * 3 not in data
    png = np.asarray(receipt_png(receipt, width))[:, MARGIN_PX:MARGIN_PX + width * CELL_PX]
    dots = raster_of(data)
    assert dots.shape == png.shape  # width * 12 dots: 384 on 58 mm paper, 576 on 80 mm
    assert np.array_equal(dots, png < 128)
    assert dots.mean() > 0.02  # ink: the receipt, not a blank strip


def test_a_receipt_in_english_with_only_a_folded_character_is_still_text():
    assert encode_text("￥1,200") == (b"\xbe 1,200", False)
    data = receipt_escpos(sale(), 42)
    assert GS + b"v0" not in data and b"TOTAL" in data


@pytest.mark.parametrize(
    ("text", "encoded", "lossy"),
    [
        ("café €5", b"caf\x82 \xd55", False),  # PC858: é 0x82, € 0xD5
        ("￥1,200", b"\xbe 1,200", False),  # full-width yen folded to ¥ (0xBE), its second column kept
        ("Győr", b"Gyor", False),  # a letter PC858 lacks loses its accent (ő)
        ("Łódź", b"?\xa2dz", True),  # ... and one with no accent to lose is a ?
        ("抹茶", b"????", True),
        ("ข้าว", b"???", True),
    ],
)
def test_encode_text(text, encoded, lossy):
    assert encode_text(text) == (encoded, lossy)
