"""The cascade reads what single decoders miss, validates before it returns, and says where codes are."""

import numpy as np
import pytest

from pos_sim.domain.codes import schemes, wallet
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan import cascade, damage, decoders
from pos_sim.scan.cascade import Cascade

PAYNOW = schemes.paynow(uen="201403121W", amount=None)
EAN = "4006381333931"


def in_frame(code: np.ndarray, size=(480, 640), at=(60, 80)) -> np.ndarray:
    frame = np.full(size, 230, np.uint8)
    y, x = at
    frame[y : y + code.shape[0], x : x + code.shape[1]] = code[: size[0] - y, : size[1] - x]
    return frame


def test_a_clean_code_is_read_on_the_fast_path():
    [read] = Cascade().decode(in_frame(qr_image(PAYNOW, module_px=4)))
    assert read.text == PAYNOW and read.decoder == "cascade:fast" and read.symbology == "qr"


@pytest.mark.parametrize("profile", [p for p in damage.PROFILES if p != "none"])
@pytest.mark.parametrize("symbology, text", [("qr", PAYNOW), ("ean13", EAN)])
def test_every_damage_profile_at_moderate_strength_is_read(profile, symbology, text):
    code = qr_image(text, module_px=6) if symbology == "qr" else barcode_image(symbology, text, module_px=3)
    image = damage.damage(code, profile, 0.6, rng=11)
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [(symbology, text)]


def test_dark_mode_barcode_that_zxing_alone_misses():
    image = 255 - in_frame(barcode_image("ean13", EAN, module_px=3), size=(300, 500))
    assert decoders.load("zxing").decode(image) == []
    [read] = Cascade().decode(image)
    assert read.text == EAN and read.decoder == "cascade:inverted"


def test_a_barcode_at_an_angle_is_read_and_located_in_the_frame():
    code = barcode_image("code128", "SHELF-0042-AB", module_px=2)
    tilted = damage.damage(code, "rotation", 1.0, rng=3)
    frame = in_frame(tilted, size=(600, 800), at=(100, 150))
    [read] = Cascade().decode(frame)
    assert read.text == "SHELF-0042-AB"
    xs, ys = zip(*read.corners)
    assert 150 <= min(xs) and max(xs) <= 150 + tilted.shape[1] and 100 <= min(ys) and max(ys) <= 100 + tilted.shape[0]


def test_a_payload_that_fails_its_crc_is_never_returned():
    broken = PAYNOW[:-4] + ("0000" if not PAYNOW.endswith("0000") else "1111")
    image = in_frame(qr_image(broken, module_px=4))
    assert [r.text for r in decoders.load("zxing").decode(image)] == [broken]  # the decoder reads it...
    assert Cascade().decode(image) == []  # ...the cascade refuses it


def test_expecting_a_wallet_code_ignores_other_codes():
    paycode = wallet.make_alipay_plus_code("251001", "0123456789012345")
    frame = np.full((480, 900), 230, np.uint8)
    for i, text in enumerate([PAYNOW, paycode]):
        code = qr_image(text, module_px=4)
        frame[40 : 40 + code.shape[0], 40 + 420 * i : 40 + 420 * i + code.shape[1]] = code
    assert {r.text for r in Cascade().decode(frame)} == {PAYNOW, paycode}
    assert [r.text for r in Cascade(expect="wallet-paycode").decode(frame)] == [paycode]


def test_nothing_in_clutter_gives_nothing():
    rng = np.random.default_rng(5)
    clutter = (rng.random((720, 1280)) * 255).astype(np.uint8)
    assert Cascade().decode(clutter) == []


def test_the_budget_is_pixels_read_not_time():
    image = 255 - in_frame(barcode_image("ean13", EAN, module_px=3), size=(300, 500))
    assert Cascade(budget_px=image.size).decode(image) == []  # the fast pass alone: the inverted pass is unpaid
    assert [r.text for r in Cascade().decode(image)] == [EAN]


def test_a_clock_that_races_changes_no_read(monkeypatch):
    """As on a machine loaded so each step takes a second: the same frames give the same reads."""
    frames = [
        255 - in_frame(barcode_image("ean13", EAN, module_px=3), size=(300, 500)),
        in_frame(damage.damage(barcode_image("code128", "SHELF-0042-AB", module_px=2), "rotation", 1.0, rng=3),
                 size=(600, 800), at=(100, 150)),
        damage.damage(qr_image(PAYNOW, module_px=6), "blur", 0.8, rng=4),
    ]
    quiet = [[(r.symbology, r.text, r.decoder, r.corners) for r in Cascade().decode(f)] for f in frames]
    ticks = iter(range(10**9))
    monkeypatch.setattr(cascade.time, "perf_counter", lambda: float(next(ticks)))
    loaded = [[(r.symbology, r.text, r.decoder, r.corners) for r in Cascade().decode(f)] for f in frames]
    assert loaded == quiet and all(quiet)


def test_a_read_nothing_disputes_is_kept_though_no_second_reading_confirms_it():
    """A blurred EAN-13 that neither zxing-cpp nor libzbar reads alone: the cascade reads it in a candidate
    region, and the second readings of its place (the other binariser, libzbar) see nothing there."""
    code = damage.damage(barcode_image("ean13", EAN, module_px=2), "blur", 1.0, rng=5)
    frame = in_frame(code, size=(600, 800), at=(100, 100))
    assert decoders.load("zxing").decode(frame) == [] and decoders.load("zbar").decode(frame) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(frame)] == [(EAN, "cascade:region")]


def test_a_libzbar_code128_misread_that_passes_its_check_is_refused():
    code = damage.damage(barcode_image("code128", "SHELF-0042-AB", module_px=2), "perspective", 0.9, rng=7)
    frame = in_frame(code, size=(600, 800), at=(100, 100))
    assert "&+ELF-0042-AB" in {r.text for r in decoders.load("zbar").decode(frame)}  # libzbar's misread...
    assert {r.text for r in Cascade().decode(frame)} <= {"SHELF-0042-AB"}  # ...never comes out of the cascade
