"""Each decoder adapter reads real rendered codes, reports where they are, and a missing library is
left out with a message instead of crashing."""

import logging
import sys

import numpy as np
import pytest

from pos_sim.domain.codes import schemes
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan import decoders

PAYNOW = schemes.paynow(uen="201403121W")


def frame_with(code: np.ndarray, at: tuple[int, int], size=(480, 640)) -> np.ndarray:
    frame = np.full(size, 235, np.uint8)
    y, x = at
    frame[y : y + code.shape[0], x : x + code.shape[1]] = code
    return frame


@pytest.mark.parametrize("name", decoders.NAMES)
def test_each_decoder_reads_a_qr_and_reports_its_corners(name):
    code = qr_image(PAYNOW, module_px=5)
    frame = frame_with(code, (60, 100))
    [read] = [r for r in decoders.load(name).decode(frame) if r.symbology == "qr"]
    assert read.text == PAYNOW and read.raw == PAYNOW.encode() and read.decoder == name and read.ms > 0
    quiet = 4 * 5
    top_left, _, bottom_right, _ = read.corners
    assert abs(top_left[0] - (100 + quiet)) <= 3 and abs(top_left[1] - (60 + quiet)) <= 3
    assert abs(bottom_right[0] - (100 + code.shape[1] - quiet)) <= 4


@pytest.mark.parametrize("name", ["zxing", "zbar"])
def test_retail_and_code128_barcodes(name):
    frame = frame_with(barcode_image("ean13", "4006381333931", module_px=3), (40, 40), size=(480, 900))
    frame[300 : 300 + 120, 40 : 40 + 500] = 235
    c128 = barcode_image("code128", "ORDER-1001-XYZ", module_px=2)
    frame[300 : 300 + c128.shape[0], 40 : 40 + c128.shape[1]] = c128
    reads = {(r.symbology, r.text) for r in decoders.load(name).decode(frame)}
    assert reads == {("ean13", "4006381333931"), ("code128", "ORDER-1001-XYZ")}


def test_several_codes_in_one_frame():
    frame = np.full((480, 900), 235, np.uint8)
    for i, text in enumerate(["https://a.example/1", "https://a.example/2"]):
        code = qr_image(text, module_px=4)
        frame[40 : 40 + code.shape[0], 40 + 420 * i : 40 + 420 * i + code.shape[1]] = code
    reads = decoders.load("zxing").decode(frame)
    assert sorted(r.text for r in reads) == ["https://a.example/1", "https://a.example/2"]
    assert reads[0].corners != reads[1].corners


def test_a_missing_library_is_left_out_and_said_once(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "pyzbar", None)  # as if libzbar's binding were not installed
    monkeypatch.setattr(decoders, "_reported", set())
    with caplog.at_level(logging.WARNING):
        assert decoders.load("zbar") is None
        assert decoders.load("zbar") is None
    assert len([r for r in caplog.records if "decoder zbar left out" in r.message]) == 1
    assert decoders.available()["zbar"] is not None and decoders.available()["zxing"] is None


def test_nothing_in_a_blank_frame():
    for name in decoders.NAMES:
        assert decoders.load(name).decode(np.full((240, 320, 3), 200, np.uint8)) == []
