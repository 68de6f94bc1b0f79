"""Barcode and QR images: what they draw reads back with a real decoder; bad text is refused clearly."""

import numpy as np
import pytest
import zxingcpp

from pos_sim.domain.codes import gs1, schemes
from pos_sim.render import qr
from pos_sim.render.barcodes import VERTICAL_QUIET_MODULES, barcode_image, qr_image

TEXTS = {
    "ean13": gs1.make_ean13("590123412345"),
    "ean8": gs1.make_ean8("9638507"),
    "upca": gs1.make_upca("03600029145"),
    "code128": "POS-sim 0042/Ab",
}
PAYLOAD = schemes.paynow(mobile="91234567", merchant_name="KOPI CORNER")


def read(image: np.ndarray) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("symbology", list(TEXTS))
@pytest.mark.parametrize("module_px", [2, 3])
def test_each_barcode_reads_back(symbology, module_px):
    image = barcode_image(symbology, TEXTS[symbology], module_px)
    assert image.dtype == np.uint8 and image.ndim == 2
    # zxing-cpp reports a UPC-A as the EAN-13 it is a subset of: a leading 0
    expected = "0" + TEXTS[symbology] if symbology == "upca" else TEXTS[symbology]
    assert read(image) == [expected]


@pytest.mark.parametrize("symbology", list(TEXTS))
def test_barcodes_have_quiet_zones_on_every_side(symbology):
    image = barcode_image(symbology, TEXTS[symbology], 3)
    margin = VERTICAL_QUIET_MODULES * 3
    assert (image[:margin] == 255).all() and (image[-margin:] == 255).all()
    assert (image[:, :3 * 7] == 255).all() and (image[:, -3 * 7 :] == 255).all()  # 7 modules at least, each side
    assert (image[margin:-margin] == 0).any()


def test_height_px_sets_the_bar_height():
    image = barcode_image("ean13", TEXTS["ean13"], 2, height_px=40)
    assert image.shape[0] == 40 + 2 * VERTICAL_QUIET_MODULES * 2
    assert read(image) == [TEXTS["ean13"]]


def test_qr_image_is_the_render_matrix_scaled_and_reads_back():
    image = qr_image(PAYLOAD, module_px=5)
    modules = np.array(qr.matrix(PAYLOAD))
    assert image.shape == (modules.shape[0] * 5, modules.shape[1] * 5) and image.dtype == np.uint8
    assert ((image[::5, ::5] == 0) == modules).all()
    assert read(image) == [PAYLOAD]


@pytest.mark.parametrize(
    ("symbology", "text", "message"),
    [
        ("ean13", "5901234123458", "check digit 8, it should be 7"),
        ("ean13", "590123412345", "EAN-13 text must be 13 digits"),
        ("ean13", "59012341234x5", "EAN-13 text must be 13 digits"),
        ("ean8", "9638507", "EAN-8 text must be 8 digits"),
        ("upca", "03600029145", "UPC-A text must be 12 digits"),
        ("ean13", "５９０１２３４１２３４５７", "must be 13 digits"),
        ("code128", "", "1-80 printable ASCII"),
        ("code128", "café", "1-80 printable ASCII"),
        ("code128", "x" * 81, "1-80 printable ASCII"),
        ("pdf417", "hello", "unknown barcode symbology 'pdf417'"),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(symbology, text, message):
    with pytest.raises(ValueError, match=message):
        barcode_image(symbology, text)


@pytest.mark.parametrize(("kwargs", "message"), [({"module_px": 0}, "module_px"), ({"height_px": 0}, "height_px")])
def test_bad_sizes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        barcode_image("ean13", TEXTS["ean13"], **kwargs)


def test_qr_refuses_empty_and_oversized_payloads():
    with pytest.raises(ValueError, match="empty"):
        qr_image("")
    with pytest.raises(ValueError, match="does not fit in a QR code"):
        qr_image("x" * 3000)
    with pytest.raises(ValueError, match="module_px"):
        qr_image(PAYLOAD, module_px=2.5)
