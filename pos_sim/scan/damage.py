"""Damage a code image the way a shop counter does, and put it in a camera frame.

``damage(image, profile, strength, rng)`` returns a new uint8 image with the same channels (gray or
BGR). Strength runs from 0 (the image unchanged) to 1 (the worst a real counter shows that a good
scanner still reads). Sizes in pixels scale with the code's module (its narrowest bar or QR module,
measured from the image), so a strength means the same on a code of 3 or 8 pixels a module. The
size stays, except "rotation" and "perspective" (the canvas grows to hold the turned code) and
"small" (the image shrinks). "blur", "noise" and "jpeg" are the camera's: they apply to a whole
frame too, given the code's ``module_px`` in it. Every random choice comes from ``rng``: same
seed, same pixels.

``place_in_frame(code, size, rng, fill=...)`` draws the camera frame around a code: a cluttered
counter, the code on its paper or phone, uneven light, a camera's slight blur, noise and vignetting.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from pos_sim.scan.decoders import Corners, gray

PROFILES: tuple[str, ...] = (
    "none",
    "blur",
    "noise",
    "glare",
    "low-contrast",
    "rotation",
    "perspective",
    "small",
    "jpeg",
    "inverted",
    "screen-photo",
)
SMALLEST_MODULE_PX = 1.8  # "small" at strength 1: pixels per module
MAX_TILT_DEGREES = 52  # "perspective" at strength 1

Rng = np.random.Generator | int | None


class DamageError(ValueError):
    """A damage request that cannot be met: unknown profile, strength outside [0, 1], bad image."""


def generator(rng: Rng) -> np.random.Generator:
    """``rng`` itself, or a generator seeded with it (None: fresh entropy, not reproducible)."""
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, np.integer, np.random.Generator))):
        raise DamageError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def _within(value: object, low: float, high: float) -> bool:
    """Whether ``value`` is a real number (not a bool) from ``low`` to ``high``."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and low <= value <= high


def _check_image(image: object) -> None:
    ok = isinstance(image, np.ndarray) and image.dtype == np.uint8
    if not ok or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3) or min(image.shape[:2]) < 8:
        shown = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise DamageError(f"an image is a uint8 array, gray (h, w) or BGR (h, w, 3), at least 8x8; got {shown}")


def _like(image: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    """``bgr`` back in the channels of ``image``."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if image.ndim == 2 else bgr


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


def measure_module(image: np.ndarray) -> float:
    """The code's module in pixels: a low percentile of the dark and light runs across its middle."""
    _, ink = cv2.threshold(gray(image), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    h, w = ink.shape
    lines = [ink[h // 4 : 3 * h // 4 : max(1, h // 40)], ink[:, w // 4 : 3 * w // 4 : max(1, w // 40)].T]
    runs = []
    for block in lines:
        row, col = np.nonzero(np.diff(block.astype(np.int8), axis=1))
        inside = row[1:] == row[:-1]  # a run between two edges of the same line (not touching the border)
        runs.append(np.diff(col)[inside])
    found = np.concatenate(runs)
    return float(np.clip(np.percentile(found, 25), 1, 32)) if found.size else 1.0


def _border_colour(image: np.ndarray) -> tuple[float, ...]:
    """The median of the outermost pixels: the paper or screen the code sits on."""
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, 1 if image.ndim == 2 else 3)
    return tuple(float(v) for v in np.median(edge, axis=0))


def _warp_to_fit(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """``image`` warped so its corners land on ``corners``, on a canvas just holding them."""
    h, w = image.shape[:2]
    corners = corners - corners.min(axis=0)
    size = np.ceil(corners.max(axis=0)).astype(int) + 1
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    return cv2.warpPerspective(
        image, matrix, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
        borderValue=_border_colour(image),
    )


def _blur(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Defocus (a disk) or motion (a line at any angle), up to 0.6 and 1.4 modules."""
    if rng.random() < 0.5:
        radius = 0.2 + 0.6 * s * m
        r = math.ceil(radius)
        y, x = np.mgrid[-r : r + 1, -r : r + 1]
        kernel = np.clip(radius + 0.5 - np.hypot(x, y), 0, 1).astype(np.float32)
    else:
        length = 1 + 1.4 * s * m
        r = math.ceil(length / 2)
        angle = rng.uniform(0, math.pi)
        dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
        kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
        shift = 4  # cv2.line's fractional bits: sub-pixel end points
        ends = [(round((r + sx) * 16), round((r + sy) * 16)) for sx, sy in ((-dx, -dy), (dx, dy))]
        cv2.line(kernel, ends[0], ends[1], 1.0, 1, cv2.LINE_AA, shift)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _noise(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """A cheap webcam's sensor: Gaussian luminance noise and row banding (its ISP smooths the colour noise)."""
    h, w = image.shape[:2]
    grain = (2 + 18 * s) * rng.standard_normal((h, w), dtype=np.float32)
    grain += rng.normal(0, 5 * s, (h, 1)).astype(np.float32)
    grain = np.rint(grain).astype(np.int16)
    return cv2.add(image, grain if image.ndim == 2 else cv2.merge([grain] * 3), dtype=cv2.CV_8U)


def _glare(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """A specular highlight: an elliptic blob, burnt white at its core, over part of the code."""
    h, w = image.shape[:2]
    side = min(h, w)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    a = (0.06 + 0.16 * s) * side * rng.uniform(0.8, 1.25)
    b = a * rng.uniform(0.35, 0.8)
    turn = rng.uniform(0, math.pi)
    y, x = np.ogrid[:h, :w]
    u = (x - cx) * math.cos(turn) + (y - cy) * math.sin(turn)
    v = -(x - cx) * math.sin(turn) + (y - cy) * math.cos(turn)
    blob = np.exp(-((u / a) ** 2 + (v / b) ** 2)).astype(np.float32)
    sheen = 0.15 * s * (x / w).astype(np.float32)  # the reflection's wide, faint wash
    light = np.clip((1.0 + 0.6 * s) * blob + sheen, 0, 1)
    if image.ndim == 3:
        light = light[..., None]
    return _to_uint8(image + (255.0 - image) * light)


def _low_contrast(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Faded print or a dim screen: the ink-to-paper range shrinks to 8 % at strength 1."""
    keep = 1 - 0.92 * s
    middle = rng.uniform(80, 170)
    return _to_uint8(middle + (image.astype(np.float32) - 127.5) * keep)


def _rotation(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Turned in its plane by up to 180 degrees times the strength."""
    h, w = image.shape[:2]
    angle = math.radians(rng.uniform(-180, 180) * s)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) - (w / 2, h / 2)
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return _warp_to_fit(image, corners @ turn.T)


def _perspective(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """A screen tilted away from the camera about a random axis, up to MAX_TILT_DEGREES."""
    h, w = image.shape[:2]
    tilt = math.radians(MAX_TILT_DEGREES * s)
    axis = rng.uniform(0, math.pi)
    ux, uy = math.cos(axis), math.sin(axis)
    c, n = math.cos(tilt), math.sin(tilt)
    # Rodrigues' rotation about the in-plane axis (ux, uy, 0)
    turn = np.array(
        [
            [c + ux * ux * (1 - c), ux * uy * (1 - c), uy * n],
            [ux * uy * (1 - c), c + uy * uy * (1 - c), -ux * n],
            [-uy * n, ux * n, c],
        ]
    )
    flat = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], float) - (w / 2, h / 2, 0)
    points = flat @ turn.T
    distance = 1.6 * max(w, h)  # a phone held close to a wide lens
    projected = points[:, :2] * (distance / (distance + points[:, 2:]))
    return _warp_to_fit(image, projected)


def _small(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Far from the camera: resampled so a module spans from its size down to SMALLEST_MODULE_PX."""
    scale = min(1.0, (SMALLEST_MODULE_PX / m) ** s)
    h, w = image.shape[:2]
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _jpeg(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Compressed hard: JPEG quality from 95 down to 5 (4:2:0 chroma for colour)."""
    quality = round(95 - 90 * s)
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    flags = cv2.IMREAD_GRAYSCALE if image.ndim == 2 else cv2.IMREAD_COLOR
    return cv2.imdecode(data, flags)


def _inverted(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """Dark mode: light code on a dark screen, its light modules blooming and greying with strength."""
    light = 255.0 - image.astype(np.float32)
    glow = cv2.GaussianBlur(light, (0, 0), 0.2 + 0.5 * s * m)
    light = light * (1 - 0.6 * s) + glow * 0.6 * s
    dark, bright = rng.uniform(8, 20) + 40 * s, 250 - 80 * s
    return _to_uint8(dark + light * ((bright - dark) / 255))


def _screen_photo(image: np.ndarray, s: float, rng: np.random.Generator, m: float) -> np.ndarray:
    """A photo of a phone screen: moire, slight blur, colour cast and gamma.

    Each image pixel is a screen pixel of R, G and B stripes over a black matrix; the camera's pixel
    grid, a few percent off the screen's pitch and turned a little, samples them into the beat
    fringes of moire (a cosine model of the stripes, evaluated at each camera pixel).
    """
    h, w = image.shape[:2]
    zoom = 1 + rng.uniform(0.02, 0.08) * rng.choice((-1, 1))
    turn = math.radians(rng.uniform(-3, 3))
    y, x = np.ogrid[0:h, 0:w]
    u = ((x * math.cos(turn) + y * math.sin(turn)) * zoom).astype(np.float32)  # screen pixels under each camera pixel
    v = ((y * math.cos(turn) - x * math.sin(turn)) * zoom).astype(np.float32)
    depth = 0.25 + 0.3 * s
    rows = 1 - 0.25 * depth * (1 + np.cos(2 * np.pi * v))  # the black matrix between pixel rows
    stripes = [rows * (1 - depth * (1 - np.cos(2 * np.pi * (u - (k + 0.5) / 3))) / 2) for k in (2, 1, 0)]  # B, G, R
    bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    seen = cv2.multiply(bgr, cv2.merge(stripes), dtype=cv2.CV_8U, scale=1 / (1 - depth / 2) / (1 - depth / 4))
    seen = cv2.GaussianBlur(seen, (0, 0), 0.3 + 0.2 * s * m)
    gamma = math.exp(rng.uniform(-0.5, 0.5) * s)
    cast = 1 + rng.uniform(-0.25, 0.25, 3) * s
    levels = np.arange(256) / 255
    curves = np.stack([255 * levels**gamma * c for c in cast], axis=-1)  # gamma and cast, one lookup per channel
    return _like(image, cv2.LUT(seen, _to_uint8(curves).reshape(256, 1, 3)))


_BY_MODULE = ("blur", "small", "inverted", "screen-photo")  # the profiles whose sizes are in modules
_DAMAGES: dict[str, Callable[[np.ndarray, float, np.random.Generator, float], np.ndarray]] = {
    "blur": _blur,
    "noise": _noise,
    "glare": _glare,
    "low-contrast": _low_contrast,
    "rotation": _rotation,
    "perspective": _perspective,
    "small": _small,
    "jpeg": _jpeg,
    "inverted": _inverted,
    "screen-photo": _screen_photo,
}


def damage(
    image: np.ndarray, profile: str, strength: float = 0.5, rng: Rng = 0, *, module_px: float | None = None
) -> np.ndarray:
    """A new image: ``image`` with ``profile`` damage at ``strength`` (0 none .. 1 hard but readable).

    ``module_px``: the code's module in pixels, when the image holds more than the code (a camera
    frame); measured from the image when not given.
    """
    _check_image(image)
    if profile not in PROFILES:
        raise DamageError(f"unknown damage profile {profile!r}: use one of {', '.join(PROFILES)}")
    if not _within(strength, 0, 1):
        raise DamageError(f"damage strength must be a number from 0 to 1, got {strength!r}")
    if module_px is not None and not _within(module_px, 0.5, 64):
        raise DamageError(f"module_px must be a number of pixels from 0.5 to 64, got {module_px!r}")
    gen = generator(rng)
    if profile == "none" or strength == 0:
        return image.copy()
    m = module_px if module_px is not None else measure_module(image) if profile in _BY_MODULE else 1.0
    return _DAMAGES[profile](image, float(strength), gen, float(m))


_WORDS = ("TOTAL", "SALE", "CASH", "QTY", "12.50", "SGD", "THANK YOU", "No.0042", "VAT", "PROMO", "9:41", "MILK 1L")


def _counter(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A counter top: a tinted low-frequency texture, wood grain half the time (drawn at 1/4 size)."""
    w, h = width // 4, height // 4
    coarse = rng.normal(0, 1, (h // 6 + 2, w // 6 + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        x = np.arange(w, dtype=np.float32) * rng.uniform(0.12, 0.5)
        texture = np.sin(x[None, :] + 3 * texture) + 0.3 * texture
    base = rng.uniform(60, 200, 3).astype(np.float32)
    tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    small = _to_uint8(base + texture[..., None] * 18 * tint)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def counter_scene(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A BGR frame of a shop counter and the things on it, with no code yet."""
    frame = _counter(width, height, rng)
    _clutter(frame, rng)
    return frame


def _clutter(frame: np.ndarray, rng: np.random.Generator) -> None:
    """Things on the counter: boxes, coins, cables, a receipt and printed words, drawn in place."""
    height, width = frame.shape[:2]
    unit = min(width, height)
    for _ in range(int(rng.integers(6, 14))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        kind = rng.integers(0, 5)
        if kind == 0:
            w, h = (rng.uniform(0.08, 0.35, 2) * unit).astype(int)
            cv2.rectangle(frame, (x, y), (x + int(w), y + int(h)), colour, -1)
        elif kind == 1:
            cv2.circle(frame, (x, y), int(rng.uniform(0.02, 0.08) * unit), colour, -1, cv2.LINE_AA)
        elif kind == 2:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(frame, (x, y), end, colour, int(rng.integers(2, 9)), cv2.LINE_AA)
        elif kind == 3:  # a receipt: white paper, lines of small print
            w, h = int(rng.uniform(0.15, 0.3) * unit), int(rng.uniform(0.3, 0.6) * unit)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (235, 238, 240), -1)
            for line in range(y + 12, y + h - 6, 14):
                text = " ".join(rng.choice(_WORDS, 2))
                cv2.putText(frame, text, (x + 6, line), cv2.FONT_HERSHEY_PLAIN, 0.8, (40, 40, 40), 1, cv2.LINE_AA)
        else:
            text = str(rng.choice(_WORDS))
            cv2.putText(frame, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.5, 1.6), colour, 2, cv2.LINE_AA)


def _card(
    code: np.ndarray, scale: float, room: tuple[float, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The code resized by ``scale`` on its paper or screen margin, sometimes in a phone's dark body.

    Returns the card (BGR), its mask and the code's corners on it; the card fits in ``room``.
    """
    h, w = code.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    shown = cv2.resize(code, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    shown = shown if shown.ndim == 3 else cv2.cvtColor(shown, cv2.COLOR_GRAY2BGR)
    spare = max(0, int(min(room[0] - size[0], room[1] - size[1]) / 2))
    margin = min(spare, int(rng.uniform(0.03, 0.12) * max(size)))
    bezel = min(spare - margin, int(rng.uniform(0.03, 0.08) * max(size))) if rng.random() < 0.5 else 0
    pad = margin + bezel
    body = (rng.uniform(10, 45),) * 3
    card = cv2.copyMakeBorder(shown, *(margin,) * 4, cv2.BORDER_CONSTANT, value=_border_colour(shown))
    card = cv2.copyMakeBorder(card, *(bezel,) * 4, cv2.BORDER_CONSTANT, value=body)
    mask = np.zeros(card.shape[:2], np.uint8)
    radius = max(1, pad // 2)
    inner = (card.shape[1] - 1 - radius, card.shape[0] - 1 - radius)
    cv2.rectangle(mask, (radius, 0), (inner[0], card.shape[0] - 1), 255, -1)
    cv2.rectangle(mask, (0, radius), (card.shape[1] - 1, inner[1]), 255, -1)
    for cx in (radius, inner[0]):
        for cy in (radius, inner[1]):
            cv2.circle(mask, (cx, cy), radius, 255, -1, cv2.LINE_AA)
    corners = np.float32([[pad, pad], [pad + size[0], pad], [pad + size[0], pad + size[1]], [pad, pad + size[1]]])
    return card, mask, corners


def place_in_frame(
    code: np.ndarray, size: tuple[int, int], rng: Rng, *, fill: float
) -> tuple[np.ndarray, Corners]:
    """A BGR camera frame of ``size`` (width, height) showing ``code`` over a cluttered counter.

    The code is scaled to ``fill`` of the frame height and set on a margin of its own background
    colour (paper, a phone screen), at a random place and a slight tilt, under uneven light; the
    camera adds slight blur, noise and vignetting. Returns the frame and the corners of ``code``
    in it, clockwise from its top left.
    """
    _check_image(code)
    width, height = size if isinstance(size, tuple) and len(size) == 2 else (0, 0)
    if not all(isinstance(v, int) for v in (width, height)) or not (160 <= width <= 4096 and 120 <= height <= 4096):
        raise DamageError(f"a frame size is (width, height) from (160, 120) to (4096, 4096), got {size!r}")
    if not _within(fill, 0, 1) or fill == 0:
        raise DamageError(f"fill is the fraction of the frame height the code takes, in (0, 1], got {fill!r}")
    gen = generator(rng)
    scale = fill * height / code.shape[0]
    if code.shape[1] * scale > width:
        raise DamageError(
            f"a {code.shape[1]}x{code.shape[0]} code at fill {fill:.2f} is {code.shape[1] * scale:.0f} px wide, "
            f"wider than the {width}x{height} frame"
        )
    frame = counter_scene(width, height, gen)
    card, mask, corners = _card(code, scale, (width * 0.98, height * 0.98), gen)
    ch, cw = card.shape[:2]
    outline = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    angle = math.radians(gen.uniform(-6, 6))
    turn = np.float32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    posed = (outline - (cw / 2, ch / 2)) @ turn.T + gen.normal(0, 0.01 * max(cw, ch), (4, 2)).astype(np.float32)
    if np.ptp(posed[:, 0]) > width or np.ptp(posed[:, 1]) > height:  # no room to tilt: straight on
        posed = outline - (cw / 2, ch / 2)
    low = -posed.min(axis=0)
    high = np.float32([width, height]) - posed.max(axis=0)
    posed = posed + gen.uniform(low, np.maximum(low, high)).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(outline, posed.astype(np.float32))
    x0, y0 = np.floor(posed.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.minimum(np.ceil(posed.max(axis=0)).astype(int) + 1, (width, height))
    to_box = np.float64([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]]) @ matrix
    box = (int(x1 - x0), int(y1 - y0))
    shown = cv2.warpPerspective(card, to_box, box, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(mask, to_box, box, flags=cv2.INTER_LINEAR).astype(np.float32) / 255
    frame[y0:y1, x0:x1] = cv2.blendLinear(shown, frame[y0:y1, x0:x1], alpha, 1 - alpha)
    placed = cv2.perspectiveTransform(corners[None], matrix)[0]
    return _camera(frame, gen), tuple((round(float(x)), round(float(y))) for x, y in placed)


def _camera(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the camera adds: uneven light and vignetting, slight blur, sensor noise."""
    height, width = frame.shape[:2]
    y, x = np.ogrid[-1 : 1 : (height // 8) * 1j, -1 : 1 : (width // 8) * 1j]
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    light = rng.uniform(0.8, 1.05) + gx * x + gy * y - rng.uniform(0.1, 0.35) * (x * x + y * y) / 2
    light = cv2.resize(_to_uint8(light * 200), (width, height), interpolation=cv2.INTER_LINEAR)
    frame = cv2.multiply(frame, cv2.cvtColor(light, cv2.COLOR_GRAY2BGR), scale=1 / 200)
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.3, 0.7))
    # uniform bytes at half size, bilinearly enlarged: about 52 levels of spread, correlated like a demosaiced sensor
    grain = rng.integers(0, 256, (height // 2, width // 2, 3), dtype=np.uint8)
    grain = cv2.resize(grain, (width, height), interpolation=cv2.INTER_LINEAR)
    k = rng.uniform(1.5, 4) / 52
    return cv2.addWeighted(frame, 1.0, grain, k, -127.5 * k)
