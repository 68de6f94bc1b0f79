"""Damage profiles and camera frames: real changes, reproducible for a seed, calibrated, refused clearly."""

import math

import cv2
import numpy as np
import pytest
import zxingcpp

from pos_sim.domain.codes import schemes
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan.damage import PROFILES, DamageError, damage, measure_module, place_in_frame

PAYLOAD = schemes.paynow(mobile="91234567", merchant_name="KOPI CORNER", reference="INV00012345")
DAMAGES = [p for p in PROFILES if p != "none"]
GROWS, SHRINKS = {"rotation", "perspective"}, {"small"}


@pytest.fixture(scope="module")
def code() -> np.ndarray:
    return qr_image(PAYLOAD, module_px=6)


def texts(image: np.ndarray) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("profile", DAMAGES)
@pytest.mark.parametrize("colour", [False, True])
def test_each_profile_changes_the_image_and_keeps_its_type(code, profile, colour):
    image = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR) if colour else code
    before = image.copy()
    out = damage(image, profile, 0.5, 3)
    assert (image == before).all()  # the input is left alone
    assert out.dtype == np.uint8 and out.ndim == image.ndim and out.shape[2:] == image.shape[2:]
    if profile in GROWS:
        assert out.shape[0] >= image.shape[0] or out.shape[1] >= image.shape[1]
    elif profile in SHRINKS:
        assert out.shape[0] < image.shape[0] and out.shape[1] < image.shape[1]
    else:
        assert out.shape == image.shape
    assert out.shape != image.shape or not np.array_equal(out, image)


@pytest.mark.parametrize("profile", PROFILES)
def test_same_seed_same_pixels(code, profile):
    first = damage(code, profile, 0.7, 11)
    assert np.array_equal(first, damage(code, profile, 0.7, 11))
    assert np.array_equal(first, damage(code, profile, 0.7, np.random.default_rng(11)))


@pytest.mark.parametrize("profile", ["blur", "noise", "glare", "rotation", "perspective", "screen-photo"])
def test_other_seeds_other_damage(code, profile):
    assert not np.array_equal(damage(code, profile, 0.7, 1), damage(code, profile, 0.7, 2))


@pytest.mark.parametrize("profile", PROFILES)
def test_strength_zero_and_none_leave_the_pixels_alone(code, profile):
    out = damage(code, profile, 0.0, 5)
    assert out is not code and np.array_equal(out, code)
    assert np.array_equal(damage(code, "none", 1.0, 5), code)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_qr_lightly_damaged_by_any_profile_still_reads(code, profile, seed):
    assert texts(damage(code, profile, 0.3, seed)) == [PAYLOAD]


def test_small_brings_the_module_down_towards_two_pixels(code):
    assert measure_module(code) == 6
    assert measure_module(barcode_image("ean13", "5901234123457", 3)) == 3
    small = damage(code, "small", 1.0, 0)
    assert math.isclose(code.shape[0] / small.shape[0], 6 / 1.8, rel_tol=0.02)


def test_module_px_given_for_a_frame_scales_the_blur(code):
    fine = damage(code, "blur", 1.0, 4, module_px=1)
    coarse = damage(code, "blur", 1.0, 4, module_px=6)
    assert fine.std() > coarse.std()  # a wider kernel flattens more


@pytest.mark.parametrize("profile", ["sharpen", "", "BLUR", None])
def test_unknown_profile_lists_the_valid_ones(code, profile):
    with pytest.raises(DamageError, match="use one of none, blur, noise, .*screen-photo"):
        damage(code, profile)


@pytest.mark.parametrize("strength", [-0.1, 1.01, math.nan, True, "0.5", None])
def test_strength_outside_zero_to_one_is_refused(code, strength):
    with pytest.raises(DamageError, match="strength must be a number from 0 to 1"):
        damage(code, "blur", strength)


@pytest.mark.parametrize(
    "image", [np.zeros((50, 50), np.float32), np.zeros((50, 50, 4), np.uint8), np.zeros((4, 50), np.uint8), [[0, 255]]]
)
def test_what_is_not_an_image_is_refused(image):
    with pytest.raises(DamageError, match="uint8 array"):
        damage(image, "blur")


def test_damage_errors_are_value_errors(code):
    assert issubclass(DamageError, ValueError)
    with pytest.raises(DamageError, match="rng"):
        damage(code, "noise", 0.5, rng="seed")
    with pytest.raises(DamageError, match="module_px"):
        damage(code, "blur", 0.5, module_px=0)


@pytest.mark.parametrize("size", [(640, 480), (1280, 720)])
def test_place_in_frame_shows_the_code_where_it_says(code, size):
    frame, corners = place_in_frame(code, size, 7, fill=0.45)
    assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8
    quad = np.array(corners, np.float32)
    assert len(corners) == 4 and (quad >= 0).all() and (quad[:, 0] <= size[0]).all() and (quad[:, 1] <= size[1]).all()
    assert math.isclose(np.ptp(quad[:, 1]), 0.45 * size[1], rel_tol=0.15)
    (found,) = zxingcpp.read_barcodes(frame)
    assert found.text == PAYLOAD
    for point in (found.position.top_left, found.position.bottom_right):  # the code is inside its quiet zone
        assert cv2.pointPolygonTest(quad, (point.x, point.y), False) >= 0


def test_place_in_frame_is_reproducible_and_varies_with_the_seed(code):
    first, corners = place_in_frame(code, (640, 480), 3, fill=0.5)
    again, same = place_in_frame(code, (640, 480), np.random.default_rng(3), fill=0.5)
    assert np.array_equal(first, again) and corners == same
    assert not np.array_equal(first, place_in_frame(code, (640, 480), 4, fill=0.5)[0])


def test_place_in_frame_refuses_what_cannot_be_framed(code):
    wide = barcode_image("code128", "ABCDEFGHIJKLMNOPQRST", 4)
    with pytest.raises(DamageError, match="wider than the 640x480 frame"):
        place_in_frame(wide, (640, 480), 0, fill=0.9)
    for fill in (0, 1.5, math.nan):
        with pytest.raises(DamageError, match="fill"):
            place_in_frame(code, (640, 480), 0, fill=fill)
    for size in [(100, 100), (640,), "640x480", (640.0, 480)]:
        with pytest.raises(DamageError, match="frame size"):
            place_in_frame(code, size, 0, fill=0.5)
