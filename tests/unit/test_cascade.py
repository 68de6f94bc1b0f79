"""The cascade reads what single decoders miss, validates before it returns, and says where codes are."""

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pos_sim.domain.codes import gs1, schemes, wallet
from pos_sim.domain.errors import CodeError
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan import cascade, damage, decoders, photos
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


def test_a_code128_whose_text_starts_as_an_emv_payload_does_is_read():
    """EMV payloads come in QR codes only: a shelf label's Code 128 "00..." is no broken EMV payload."""
    image = in_frame(barcode_image("code128", "00FD-SHELF-42", module_px=2))
    assert [r.text for r in decoders.load("zxing").decode(image)] == ["00FD-SHELF-42"]
    assert [r.text for r in Cascade().decode(image)] == ["00FD-SHELF-42"]
    assert Cascade(expect="emv-mpm").decode(image) == []


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


def test_a_faded_code128_that_libzbar_reads_on_many_scan_lines_is_kept():
    """Print faded to 17% of its contrast: only libzbar reads it, on tens of its scan lines, where its
    misreads were seen on one to four (the misread above)."""
    rng = np.random.default_rng(0)
    code = damage.damage(barcode_image("code128", "SHELF-0042-AB-7781", module_px=2), "low-contrast", 0.9, rng)
    frame, _ = damage.place_in_frame(code, (640, 480), rng, fill=0.3)
    assert decoders.load("zxing").decode(frame) == []
    [read] = decoders.load("zbar").decode(frame)
    assert read.text == "SHELF-0042-AB-7781" and read.lines >= cascade.ZBAR_LINES
    assert [(r.text, r.decoder) for r in Cascade().decode(frame)] == [("SHELF-0042-AB-7781", "cascade:zbar")]


def test_a_tilted_code128_on_a_cluttered_counter_is_read_where_opencv_locates_it(bench):
    """A long Code 128 turned a few degrees, its label touching receipts: the candidate regions take the
    clutter in and see no bar angle; OpenCV's detector finds the code's own rectangle."""
    frame, image = bench.make_frame(1740, 53, "none", "code128", (640, 480))
    assert decoders.load("zxing").decode(image) == []
    [read] = Cascade().decode(image)
    assert (read.text, read.decoder) == (frame.text, "cascade:located")
    xs, ys = zip(*read.corners)
    assert 20 <= min(xs) < max(xs) <= 620 and 60 <= min(ys) < max(ys) <= 280  # the code's place, in the frame


def test_a_upca_misread_in_the_bars_of_a_code128_is_refused(bench):
    """Under glare and perspective zxing-cpp reads a UPC-A in the lower part of a Code 128's bars (its
    check digit passes one time in ten); the Code 128 read there, of a stronger check, refuses it."""
    frame, image = bench.make_frame(1842, 7, "glare+perspective", "code128", (640, 480))
    assert {r.symbology for r in decoders.load("zxing").decode(image)} == {"code128", "upca"}
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("code128", frame.text)]


def _photo(symbology: str, index: int) -> tuple[str, np.ndarray]:
    """A seeded photo-like frame of one code: each photo condition in turn, every third frame turned
    a quarter (a phone held upright)."""
    rng = np.random.default_rng([15, index])
    digits = "".join(str(d) for d in rng.integers(0, 10, 12))
    text = {"qr": PAYNOW, "ean13": gs1.make_ean13("45" + digits[:10]), "upca": gs1.make_upca("0" + digits[:10]),
            "ean8": gs1.make_ean8("4" + digits[:6]), "code128": "SHELF-" + digits[:8]}[symbology]
    module = float(rng.uniform(2.0, 4.0))
    render = int(np.ceil(module))
    code = qr_image(text, render) if symbology == "qr" else barcode_image(symbology, text, render)
    condition = photos.CONDITIONS[index % len(photos.CONDITIONS)]
    conditions = () if condition == "several" else (condition,)
    image = photos.photograph([(code, render)], [module], (640, 480), conditions, float(rng.uniform(0.2, 1.0)), rng)
    return text, np.ascontiguousarray(np.rot90(image)) if index % 3 == 1 else image


@pytest.mark.parametrize("symbology", ["qr", "ean13", "upca", "ean8", "code128"])
def test_the_cascade_reads_every_frame_zxing_cpp_alone_reads_whatever_its_budget(symbology):
    """A cascade never reads less than its best stage: zxing-cpp's own full pass is paid for first, so a
    budget that affords nothing else (two readings of the frame) still reads what zxing-cpp alone reads;
    and it reads no text that is not there."""
    zxing, tight = decoders.load("zxing"), Cascade(budget_px=2 * 640 * 480)
    frames = [_photo(symbology, index) for index in range(9)]
    alone = {i for i, (text, image) in enumerate(frames) if text in [r.text for r in zxing.decode(image)]}
    assert len(alone) >= 6  # photo-like frames, most of which zxing-cpp reads
    for cascade_ in (Cascade(), tight):
        reads = [[r.text for r in cascade_.decode(image)] for _, image in frames]
        assert alone <= {i for i, ((text, _), texts) in enumerate(zip(frames, reads)) if text in texts}
        assert all(set(texts) <= {text} for (text, _), texts in zip(frames, reads))


@pytest.mark.parametrize("made_as, text, symbology", [
    ("DataMatrix", "GTIN 09521234543213 LOT AB12 EXP 271231", "datamatrix"),  # a medicine pack's
    ("PDF417", "ID 8842-1107 TAN AH KOW", "pdf417"),
    ("Aztec", "TICKET 1207-M01-M12", "aztec"),
    ("DataBar", "0109521234543213", "databar"),  # loose produce's
    ("DataBarExpanded", "(01)09521234543213(3103)000123", "databar-expanded"),  # a weighed item's
])
def test_the_codes_of_strong_checks_beside_the_retail_ones_are_read_as_zxing_cpp_alone_reads_them(made_as, text, symbology):
    """A cascade never reads less than its best stage: Data Matrix, PDF417, Aztec and GS1 DataBar are read off the
    frame as it is (the damage passes look for payment and retail codes only), named as their kind."""
    import zxingcpp

    code = np.asarray(zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, made_as)).to_image(scale=4))
    frame = damage.damage(in_frame(code, size=(720, 1280)), "noise", 0.3, rng=5)
    alone = [(r.symbology, r.text) for r in decoders.load("zxing").decode(frame)]
    assert len(alone) == 1 and alone[0][0] == symbology
    assert [(r.symbology, r.text) for r in Cascade().decode(frame)] == alone


def test_an_ean13_misread_nothing_confirms_is_refused_where_another_image_of_its_place_reads_otherwise(bench):
    """Faded print under noise: zxing-cpp alone reads a wrong EAN-13 whose check digit passes, and its other
    binariser and libzbar see nothing there; the place equalised reads the right number, which refuses it."""
    frame, image = bench.make_frame(389, 131, "low-contrast+noise", "ean13", (1280, 720))
    assert [r.text for r in decoders.load("zxing").decode(image)] == ["6783276695166"]  # not frame.text
    assert [r.text for r in Cascade().decode(image)] == [frame.text]


def test_an_ean13_misread_as_a_upca_under_strong_perspective_is_refused(bench):
    """Strong perspective: on the rows where the bars are narrowest zxing-cpp agrees on a UPC-A whose check
    digit passes (a UPC-A is an EAN-13 beginning with 0; this one begins with 6), and its other binariser
    reads the same. Read strip by strip, the place also reads the EAN-13: two texts in one place, so
    the cascade keeps neither."""
    frame, image = bench.make_frame(1776, 89, "perspective", "ean13", (640, 480))
    assert frame.text == "6900880270422"
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)] == [("upca", "966080270422")]
    assert Cascade().decode(image) == []


def test_a_qr_code_under_a_hands_motion_is_read_sharpened_along_the_motion(bench):
    """A dense QR code (a signed token) smeared by a moving hand: zxing-cpp alone and every image of its place
    before miss it; sharpened along the direction its gradients say the hand moved, it reads."""
    frame, image = bench.make_photo(309, 97, "motion-blur", "qr", (1280, 720))
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:deblurred")]


def test_a_qr_code_under_glare_is_read_stretched_between_its_local_darkest_and_lightest(bench):
    """Glare washes the dark modules of part of a QR code towards white: zxing-cpp alone misses it, and the
    place stretched between its local darkest and lightest reads."""
    frame, image = bench.make_frame(1308, 89, "glare", "qr", (640, 480))
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:stretched")]


def test_a_dense_qr_code_on_curved_film_under_glare_is_read_at_twice_its_size(bench):
    """A signed token's dense QR code on a curved label under film glare: zxing-cpp alone and every image of
    its place at the frame's scale miss it; the place at twice its size reads."""
    frame, image = bench.make_photo(316, 227, "curved+film-glare", "qr", (640, 480))
    assert frame.kind == "token"
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:upscaled")]


def test_an_ean13_under_a_hands_motion_is_read_with_the_motion_across_its_bars_undone(bench):
    """An EAN-13 smeared across its bars by a moving hand: zxing-cpp alone and every image of its place before
    miss it; the place with a line's blur across the bars undone (a Wiener filter, row by row) reads it, and
    the same place so filtered, read strip by strip, reads that number and no other."""
    frame, image = bench.make_photo(428, 227, "motion-blur", "ean13", (640, 480))
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:unblurred")]


def test_a_qr_code_on_a_phone_screen_is_read_with_its_moire_smoothed_away(bench):
    """A wallet code on a phone screen photographed: the screen's sub-pixels beat with the camera's into a moire
    finer than a module, and zxing-cpp alone and every image of its place before miss it; the place smoothed
    (a Gaussian of one pixel) reads."""
    frame, image = bench.make_photo(159, 97, "screen-moire", "qr", (1280, 720))
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:smoothed")]


def test_a_qr_code_under_a_hands_motion_in_low_light_is_read_with_the_motion_undone(bench):
    """A QR code smeared by a moving hand in low light, its noise amplified: sharpening along the motion
    misses it as zxing-cpp alone does; the motion undone along the direction its gradients say (a Wiener
    filter, which holds the noise back) reads."""
    frame, image = bench.make_photo(62, 97, "motion-blur+low-light", "qr", (640, 480))
    assert decoders.load("zxing").decode(image) == []
    assert [(r.text, r.decoder) for r in Cascade().decode(image)] == [(frame.text, "cascade:unblurred")]


def test_a_upca_of_number_system_2_is_read_as_a_upca_of_12_digits():
    """A UPC-A beginning with 2 (in-store, variable measure) whose price check digit does not follow a store rule is
    still the symbol its own check digit says: zxing-cpp reads it, so the cascade must too."""
    text = gs1.make_upca("21234567890")
    with pytest.raises(CodeError, match="price check digit"):
        gs1.decode(text).validate()
    image = in_frame(barcode_image("upca", text, module_px=3))
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)] == [("upca", text)]
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("upca", text)]


def test_an_out_of_focus_ean13_that_every_other_pass_misses_is_read_with_the_defocus_undone():
    image = photos.photograph([(barcode_image("ean13", EAN, module_px=5), 5)], [5.0], (640, 480), ("defocus",), 0.85,
                              np.random.default_rng(1))
    assert decoders.load("zxing").decode(image) == []
    [read] = Cascade().decode(image)
    assert (read.symbology, read.text, read.decoder) == ("ean13", EAN, "cascade:refocused")


def test_an_out_of_focus_qr_code_is_read_with_the_defocus_its_edges_show_undone():
    image = photos.photograph([(qr_image(PAYNOW, module_px=6), 6)], [6.0], (640, 480), ("defocus",), 0.9,
                              np.random.default_rng(0))
    assert decoders.load("zxing").decode(image) == []
    [read] = Cascade().decode(image)
    assert (read.text, read.decoder) == (PAYNOW, "cascade:refocused")


def test_the_ean8_in_the_middle_of_a_tilted_upca_is_no_read():
    """The middle 67 modules of this UPC-A make an EAN-8 (04623274) whose guards are parts of the digits beside it, and
    its check digit passes: a scan line across the tilted code's bars reads it, and zxing-cpp alone returns it. Bars
    run on past its guards where its quiet zone should be."""
    upca = "930462327462"
    image = photos.photograph([(barcode_image("upca", upca, module_px=2), 2)], [2.0], (320, 240), ("steep-angle",), 0.5,
                              np.random.default_rng(3))
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)] == [("ean8", "04623274")]
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("upca", upca)]


def test_a_long_code128_zxing_cpp_reads_is_kept_when_its_other_binariser_misreads_it_and_libzbar_agrees(bench):
    """zxing-cpp's global binariser, on the place cut out and brought down to 500 pixels, misreads this Code 128 (a
    text that passes its mod-103 check); libzbar reads it right on many scan lines. Two readers agree: the read stays."""
    frame, image = bench.make_photo(553, 257, "several", "code128", (1280, 720))
    assert frame.text in [r.text for r in decoders.load("zxing").decode(image)]
    texts = {r.text for r in Cascade().decode(image)}
    assert frame.text in texts and texts <= {frame.text, *frame.others}


def test_an_out_of_focus_ean13_misread_as_a_upca_is_refused(bench):
    """Defocused and moving, this EAN-13's left half reads as a UPC-A's (964777860963, its check digit passes) on every
    strip of its place; with the defocus its edges show undone, the place reads the EAN-13: two texts, no read."""
    frame, image = bench.make_handheld(457, 263, "defocus+motion-blur", "ean13", (320, 240))
    assert {r.text for r in Cascade().decode(image)} <= {frame.text}


def test_a_qr_code_under_a_hand_s_motion_is_read_with_the_motion_its_edges_show_undone(bench):
    """A 2.6-pixel-module QR code smeared by a motion of about two modules: the fixed 6-pixel line undoes too little;
    the length the region's edges show, undone, reads it."""
    frame, image = bench.make_photo(564, 257, "motion-blur", "qr", (640, 480))
    assert frame.text not in [r.text for r in decoders.load("zxing").decode(image)]
    [read] = Cascade().decode(image)
    assert (read.text, read.decoder) == (frame.text, "cascade:unblurred")


def test_a_micro_qr_made_up_by_sharpening_a_moving_qr_code_is_no_read(bench):
    """Out of focus and moving, this QR code's region sharpened along the motion reads as a Micro QR ("441387"): a
    filter's Micro QR is refused, and the passes after it read the QR code."""
    frame, image = bench.make_handheld(448, 269, "defocus+motion-blur", "qr", (640, 480))
    assert {r.symbology for r in Cascade().decode(image)} <= {"qr"}


def test_a_micro_qr_in_a_qr_codes_modules_is_no_read(bench):
    """An inverted QR code of a long token: zxing-cpp reads the QR code and, in its own modules, a Micro QR
    ("6846", held-out damage seed 281). The cascade keeps the QR code alone."""
    frame, image = bench.make_frame(1029, 281, "inverted", "qr", (1280, 720))
    assert "6846" in {r.text for r in decoders.load("zxing").decode(image)}
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("qr", frame.text)]


def test_a_few_scan_lines_misread_beside_the_code_read_on_many_is_no_rival(bench):
    """A hand's motion: in one pass zxing-cpp reads the EAN-13 on 38 scan lines and, on the 3 just above them, an
    EAN-13 whose check digit passes (held-out hand-held seed 271). The cascade kept the misread and refused the
    code (its strips read the misread too); the few lines' text is now a misread of them, disputing nothing."""
    frame, image = bench.make_handheld(1487, 271, "motion-blur", "ean13", (320, 240))
    assert [r.text for r in decoders.load("zxing").decode(image)] == ["2531231191222", frame.text]
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("ean13", frame.text)]


def test_an_out_of_focus_ean13_at_a_steep_angle_refocused_into_a_upca_is_refused(bench):
    """1.5-2 pixels a module, turned steeply and out of focus (held-out hand-held seed 283): zxing-cpp alone reads
    nothing; the place with its defocus undone read as a UPC-A (067300202015) whose left half the filter made up, on a
    few strips, at one radius. libzbar reads the EAN-13 in that same image: two texts, no read."""
    frame, image = bench.make_handheld(1625, 283, "defocus+steep-angle", "ean13", (320, 240))
    assert decoders.load("zxing").decode(image) == []
    assert {(r.symbology, r.text) for r in Cascade().decode(image)} <= {("ean13", frame.text)}


def test_a_steep_out_of_focus_ean13_read_as_a_upca_in_its_region_is_refused(bench):
    """Out of focus at a steep angle (hand-held seed 433), the region cut out reads a UPC-A (964706341419) whose left half
    is wrong on 13 scan lines. Its place with the defocus its edges show undone reads nothing; with 0.8 of it undone it
    reads the EAN-13: two texts, no read."""
    frame, image = bench.make_handheld(455, 433, "defocus+steep-angle", "ean13", (320, 240))
    assert {(r.symbology, r.text) for r in Cascade().decode(image)} <= {("ean13", frame.text)}


@pytest.mark.parametrize("made_as, text, symbology, read_as", [
    ("Code39", "429250", "code39", "429250"),  # a shelf label's
    ("Code93", "PARCEL 93", "code93", "PARCEL 93"),
    ("ITF", "05012345678900", "itf", "05012345678900"),  # ITF-14: a carton's GTIN, its GS1 check digit right
    ("Codabar", "A40156B", "codabar", "A40156B"),  # a library's, a blood bag's
    ("UPCE", "0425261", "upce", "0042100005264"),  # a small pack's: the GTIN-13 it stands for
])
def test_the_weak_symbologies_are_read_as_zxing_cpp_alone_reads_them(made_as, text, symbology, read_as):
    """A cascade never reads less than its best stage: a Code 39, Code 93, ITF, Codabar or UPC-E that zxing-cpp alone
    reads off a frame is read, once a second reading of its place (libzbar, zxing-cpp's other binariser) agrees."""
    import zxingcpp

    code = np.asarray(zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, made_as)).to_image(scale=3))
    frame = damage.damage(in_frame(code, size=(480, 640)), "noise", 0.3, rng=5)
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(frame)] == [(symbology, read_as)]
    assert [(r.symbology, r.text, r.decoder) for r in Cascade().decode(frame)] == [(symbology, read_as, "cascade:fast")]


@pytest.mark.parametrize("text", ["05012345678901", "123456"])
def test_an_itf_is_kept_only_as_an_itf_14_of_a_right_check_digit_or_of_8_digits_or_more(text):
    """A retail scanner's length rule: an ITF's one weak check lets a few bars of clutter read as a short one; an
    ITF-14 carries a GS1 check digit. zxing-cpp alone reads both of these; the cascade neither."""
    import zxingcpp

    code = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.ITF).to_image(scale=3))
    frame = in_frame(code, size=(480, 640))
    assert [r.text for r in decoders.load("zxing").decode(frame)] == [text]
    assert Cascade().decode(frame) == []


def test_clutter_that_zxing_cpp_alone_reads_as_a_codabar_is_refused(bench):
    """Photo seed 601 frame 403: a Code 128 and other codes on a cluttered counter, where zxing-cpp alone also reads
    a Codabar "A2-D" that is no code there. No second reading of its place agrees: the cascade refuses it, and reads
    the Code 128."""
    frame, image = bench.make_photo(403, 601, "steep-angle+several", "code128", (1280, 720))
    assert ("codabar", "A2-D") in [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)]
    texts = [r.text for r in Cascade().decode(image)]
    assert frame.text in texts and set(texts) <= {frame.text, *frame.others}


def test_an_ean13_that_zxing_cpp_alone_misreads_as_a_upc_e_is_refused_as_one(bench):
    """Hand-held seed 503 frame 184: a steep EAN-13 that zxing-cpp alone reads only as a UPC-E ("0188443000068", its
    check digit right). libzbar and zxing-cpp's other binariser do not read it so: the cascade refuses it, and
    reads the EAN-13 in the region it cuts out."""
    frame, image = bench.make_handheld(184, 503, "steep-angle", "ean13", (640, 480))
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)] == [("upce", "0188443000068")]
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("ean13", frame.text)]


def test_a_upc_e_that_zxing_cpp_reads_in_half_an_ean13_under_glare_is_refused(bench):
    """Photo seed 613 frame 390: an EAN-13 on film under glare at a steep angle that zxing-cpp alone reads only as
    the UPC-E "0156270000094" (its check digit right), and again so with its other binariser: one decoder's misread,
    twice. libzbar does not read it: the cascade refuses it and reads the EAN-13 in its region."""
    frame, image = bench.make_photo(390, 613, "film-glare+steep-angle", "ean13", (640, 480))
    assert [(r.symbology, r.text) for r in decoders.load("zxing").decode(image)] == [("upce", "0156270000094")]
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("ean13", frame.text)]


def test_a_code39_whose_text_starts_as_an_emv_payload_does_is_read():
    """A device label's Code 39 "001EC947D49B" (a MAC address) starts with "00" as an EMV payload does; EMV payloads
    come in QR codes only, so it is some other text, kept as zxing-cpp alone keeps it (it was refused as a broken
    EMV payload: found on the held-out real photos, ZXing's code39-3)."""
    import zxingcpp

    code = np.asarray(zxingcpp.create_barcode("001EC947D49B", zxingcpp.BarcodeFormat.Code39).to_image(scale=2))
    frame = damage.damage(in_frame(code, size=(480, 640)), "noise", 0.3, rng=5)
    assert [(r.symbology, r.text) for r in Cascade().decode(frame)] == [("code39", "001EC947D49B")]


def test_an_out_of_focus_ean13_is_read_before_the_passes_that_cannot_undo_a_defocus():
    """The passes that undo a defocus come before libzbar's and the 2-D filters, the radius the edges show first: a
    phone without autofocus held close is read within a third of the frame's work budget (main: only past two fifths)."""
    image = photos.photograph([(barcode_image("ean13", EAN, module_px=5), 5)], [5.0], (640, 480), ("defocus",), 0.85,
                              np.random.default_rng(1))
    [read] = Cascade(budget_px=cascade.DEFAULT_BUDGET_PX // 3).decode(image)
    assert (read.symbology, read.text, read.decoder) == ("ean13", EAN, "cascade:refocused")


def test_a_frame_nothing_reads_does_no_more_work_than_its_budget(bench, monkeypatch):
    """Hand-held seed 611 frame 196, a UPC-A out of focus under a hand's motion that no pass reads: the pixels every
    reader and filter touches, each at its cost (a zxing-cpp reading 1 a pixel, its full pass 4, libzbar 4, a 2-D Wiener
    filter 4 more, a 1-D code's row filter 1 more), stay within the budget and nothing is returned. Main charged a
    Wiener filter as one reading and spent twice its budget (about 37 M against 18.4 M)."""
    _, image, _ = bench.draw(196, 611, "handheld")
    work = []

    def counted(function, cost):
        def spy(*args, **kwargs):
            work.append(next(a for a in args if isinstance(a, np.ndarray)).size * cost(kwargs))
            return function(*args, **kwargs)
        return spy

    monkeypatch.setattr(decoders.ZxingDecoder, "read", counted(decoders.ZxingDecoder.read, lambda kw: 1 if kw.get("fast") else 4))
    monkeypatch.setattr(decoders.ZbarDecoder, "decode", counted(decoders.ZbarDecoder.decode, lambda kw: 4))
    for name, cost in (("_wiener", 4), ("_wiener_rows", 1)):
        if hasattr(cascade, name):  # main undid every blur with the 2-D filter
            monkeypatch.setattr(cascade, name, counted(getattr(cascade, name), lambda kw, cost=cost: cost))
    assert Cascade().decode(image) == []
    assert sum(work) <= cascade.DEFAULT_BUDGET_PX


def test_a_1d_codes_blur_is_undone_row_by_row_as_the_2d_filter_undoes_it():
    """The row filter a 1-D code's motion and defocus are undone with (a fifth of the time) makes the 2-D Wiener
    filter's image of a kernel that is one row, to a grey level: the same reads."""
    image = photos.photograph([(barcode_image("ean13", EAN, module_px=4), 4)], [4.0], (640, 480), ("defocus",), 0.7,
                              np.random.default_rng(2))[:, :, 0]
    row = np.array([0.5, 2.0, 2.6, 2.0, 0.5], np.float32)
    square = np.zeros((5, 5), np.float32)
    square[2] = row
    rows, whole = cascade._wiener_rows(image, row).astype(int), cascade._wiener(image, square).astype(int)
    assert np.abs(rows - whole).max() <= 1 and np.count_nonzero(rows != whole) < image.size // 1000


def test_a_2d_codes_motion_is_undone_once_a_region_and_at_its_size(bench, monkeypatch):
    """Hand-held seed 653 frame 113, an EAN-8 out of focus at a steep angle in a 320x240 frame, that no pass reads: the
    2-D passes undo the hand's motion of each region at the region's size, once a length, and the pass at twice its
    size reads those images brought to it. Main ran the Wiener filter again on the region at twice its size (four
    times the pixels, eight readings' time: a third of the frame's CPU), the same image but its finest frequencies."""
    _, image, _ = bench.draw(113, 653, "handheld")
    made = []
    wiener = cascade._wiener

    def spy(picture, kernel):
        made.append((picture.shape, kernel.tobytes()))
        return wiener(picture, kernel)

    monkeypatch.setattr(cascade, "_wiener", spy)
    assert Cascade().decode(image) == []
    assert made and all(max(shape) <= cascade.UPSCALED_MOST_PX for shape, _ in made)
    assert len(made) == len(set(made))


def test_an_out_of_focus_ean13_whose_bars_are_barely_resolved_misread_as_a_upca_is_refused(bench):
    """Out of focus at 320x240 (a defocus disc of 2.3 pixels, a module of 2), this EAN-13 (8882486099387) reads as the
    UPC-A 802796099387 with zxing-cpp alone, its check digit passing by chance; zxing-cpp's other binariser repeats the
    misread. On bars so blurred that reading is no second reading: the place sharpened reads another text, no read.
    Another (4004997635968 read as 084962635968) nothing else reads at all: it is no read either. A sharp UPC-A at the
    same size still reads."""
    for index, seed, misread in ((631, 661, "802796099387"), (541, 709, "084962635968")):
        frame, image = bench.make_handheld(index, seed, "defocus", "ean13", (320, 240))
        assert [r.text for r in decoders.load("zxing").decode(image)] == [misread]
        assert {r.text for r in Cascade().decode(image)} <= {frame.text}
    sharp, image = bench.make_handheld(631, 661, "none", "upca", (320, 240))
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("upca", sharp.text)]


def test_a_upca_misread_on_bars_barely_resolved_is_refused_where_their_focus_restored_reads_another(bench):
    """Out of focus in low light at 320x240 (a defocus disc of 1.2 modules, a module of 2 pixels), this UPC-A
    (360969588705) reads as 360969522105 with zxing-cpp alone, its check digit passing by chance; zxing-cpp's other
    binariser and the place sharpened repeat the misread (hand-held seed 743 frame 735). The scan lines across
    its bars with that defocus undone read the right UPC-A: another text, no read. An out-of-focus UPC-A read right
    (seed 787 frame 17, its bars as barely resolved) is still read."""
    frame, image = bench.make_handheld(735, 743, "defocus+low-light", "upca", (320, 240))
    assert [r.text for r in decoders.load("zxing").decode(image)] == ["360969522105"]
    assert {r.text for r in Cascade().decode(image)} <= {frame.text}
    blurred, image = bench.make_handheld(17, 787, "curved+defocus", "upca", (320, 240))
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("upca", blurred.text)]


def test_a_upca_misread_whose_sharpened_place_reads_another_text_strip_by_strip_is_refused(bench):
    """Out of focus and moving at 320x240 (a module of 2 pixels, the bars at 1.3 modules' defocus), this UPC-A
    (675127785835) reads as 675127125235 with zxing-cpp alone and in the cascade's first pass (hand-held seed 857 frame
    241). Its bars barely resolved, another reading must agree: the place sharpened reads the misread whole, but strip
    by strip it reads the right UPC-A too: no agreement, and no read. A UPC-A read right on bars as blurred (seed 787
    frame 17) is still read."""
    frame, image = bench.make_handheld(241, 857, "defocus+motion-blur", "upca", (320, 240))
    assert [r.text for r in decoders.load("zxing").decode(image)] == ["675127125235"]
    assert {r.text for r in Cascade().decode(image)} <= {frame.text}
    blurred, image = bench.make_handheld(17, 787, "curved+defocus", "upca", (320, 240))
    assert [(r.symbology, r.text) for r in Cascade().decode(image)] == [("upca", blurred.text)]


@given(hnp.arrays(np.float32, st.integers(1, 400), elements=st.floats(0, 255, width=32)),
       st.lists(st.floats(0, 100), min_size=1, max_size=4))
def test_the_percentiles_a_blur_is_measured_by_are_numpys_to_the_bit(values, shares):
    """The defocus and motion measures take their percentiles from one partial sort (a tenth of numpy's time on a
    place's few thousand values): the same figures, so the same radii and the same reads."""
    assert cascade._percentiles(values, tuple(shares)) == [float(v) for v in np.percentile(values, shares)]


@pytest.mark.parametrize("degrees", [0, 20, -35, 60])
def test_bars_turned_any_way_show_their_angle_and_a_qr_code_shows_none(degrees):
    """The candidate regions' gradients: bars turned ``degrees`` give the angle that turns them upright (within a
    3-degree bin), running one way alone; a QR code's modules, edges both ways, do not run one way alone (the 2-D
    passes read its region)."""
    bars = barcode_image("ean13", EAN, module_px=3)
    turned = cv2.warpAffine(bars, cv2.getRotationMatrix2D((bars.shape[1] / 2, bars.shape[0] / 2), degrees, 1.0),
                            bars.shape[::-1], borderValue=255)
    gx, gy = cv2.Sobel(turned, cv2.CV_32F, 1, 0), cv2.Sobel(turned, cv2.CV_32F, 0, 1)
    angle, lone = cascade._bar_angle(gx, gy)
    assert lone and (angle == 0.0 if abs(degrees) <= 5 else abs(angle - (-degrees)) <= 3)
    square = qr_image(PAYNOW, module_px=4)
    assert not cascade._bar_angle(cv2.Sobel(square, cv2.CV_32F, 1, 0), cv2.Sobel(square, cv2.CV_32F, 0, 1))[1]
