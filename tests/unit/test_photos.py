"""The photo generator draws what real photos of codes have, readable at a fair strength, the same for a seed."""

import numpy as np
import pytest

from pos_sim.domain.codes import schemes
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan.cascade import Cascade
from pos_sim.scan.photos import CONDITIONS, photograph

PAYNOW = schemes.paynow(uen="201403121W", amount=None)
EAN = "4006381333931"
C128 = "ORDER-1001-XYZ"


def codes() -> list[tuple[np.ndarray, int]]:
    return [(qr_image(PAYNOW, 4), 4), (barcode_image("ean13", EAN, 3), 3), (barcode_image("code128", C128, 3), 3)]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_condition_at_a_fair_strength_leaves_the_code_readable(condition):
    image = photograph(codes(), [3.5, 3.0, 3.0], (1280, 720), (condition,), 0.3, np.random.default_rng(2))
    assert image.shape == (720, 1280, 3) and image.dtype == np.uint8
    assert PAYNOW in {r.text for r in Cascade().decode(image)}


def test_several_codes_share_the_frame():
    image = photograph(codes(), [3.5, 3.0, 3.0], (1280, 720), ("several",), 0.3, np.random.default_rng(3))
    assert {r.text for r in Cascade().decode(image)} == {PAYNOW, EAN, C128}


def test_the_same_seed_draws_the_same_photo_and_a_bad_condition_is_refused():
    first = photograph(codes(), [3.0] * 3, (640, 480), ("curved", "film-glare"), 0.7, np.random.default_rng(9))
    again = photograph(codes(), [3.0] * 3, (640, 480), ("curved", "film-glare"), 0.7, np.random.default_rng(9))
    assert np.array_equal(first, again)
    with pytest.raises(ValueError, match="unknown photo condition.*bokeh"):
        photograph(codes(), [3.0] * 3, (640, 480), ("bokeh",), 0.5, np.random.default_rng(9))
