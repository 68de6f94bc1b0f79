"""Photographs of codes as real cameras take them: what ``pos_sim.scan.damage``'s profiles lack.

``photograph(codes, size, conditions, strength, rng)`` draws a BGR camera frame of a cluttered
counter holding every code of ``codes`` (grayscale code images, ink 0 on paper 255, the first the
one a scan is for), under ``conditions`` at ``strength`` (0.2 a fair photo, 1 the worst a good
scanner still reads):

- ``curved``: a label round a bottle or can (a cylinder: bars crowd towards its sides, its shading);
- ``film-glare``: a specular streak on the plastic film over a label, and its crinkles;
- ``motion-blur``: a hand moving while the shutter is open (a line, any direction);
- ``depth-of-field``: a lens focused in front of or behind part of the scene (blur growing across it);
- ``low-light``: few photons (shot and read noise), the gain that brings them up, and JPEG;
- ``screen-moire``: the code on a phone screen, its sub-pixels beating with the camera's pixels;
- ``finger``: a finger over part of a code (never over all of what the code needs to be read);
- ``steep-angle``: a code turned 30-60 degrees in the frame, and tilted away from the camera;
- ``several``: every code of ``codes`` in the frame, not only the first;
- ``defocus``: a phone camera without autofocus held close: the whole frame out of focus, a lens's
  disc of confusion (not a Gaussian: its edges are sharp, and it wipes out some bar widths whole).

It is a second generator, for measuring on what was not tuned on: ``scripts/bench_scan.py
--corpus photo``. Every random choice comes from ``rng``: same seed, same pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pos_sim.scan.damage import counter_scene

CONDITIONS = (
    "curved", "film-glare", "motion-blur", "depth-of-field", "low-light", "screen-moire", "finger", "steep-angle",
    "several", "defocus",
)
SKIN = ((92, 120, 178), (120, 150, 210), (60, 90, 140), (140, 170, 225))  # BGR, dark to light


def photograph(
    codes: list[tuple[np.ndarray, int]], module_px: list[float], size: tuple[int, int], conditions: tuple[str, ...],
    strength: float, rng: np.random.Generator,
) -> np.ndarray:
    """A BGR frame of ``size`` (width, height) showing ``codes`` (each an image and the pixels a module
    it was rendered at), each at ``module_px`` pixels a module in the frame."""
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown photo condition(s) {', '.join(sorted(unknown))}: use {', '.join(CONDITIONS)}")
    width, height = size
    shown = codes if "several" in conditions else codes[:1]
    frame = counter_scene(width, height, rng)
    boxes: list[tuple[int, int, int, int]] = []
    for index, ((code, render_px), module) in enumerate(zip(shown, module_px)):
        card = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
        linear = code.shape[0] < code.shape[1] * 0.6  # a 1-D code is wider than tall
        if "finger" in conditions and index == 0:
            card = _finger(card, linear, strength, rng)
        if "curved" in conditions:
            card = _curved(card, strength, rng)
        if "screen-moire" in conditions and index == 0:
            card = _screen(card, strength, rng)
        steep = "steep-angle" in conditions
        placed = _pose(frame, card, module / render_px, boxes, steep, strength, rng)
        if placed is None:  # no room left beside the codes already in the frame
            continue
        frame, box = placed
        boxes.append(box)
    if "film-glare" in conditions:
        frame = _film_glare(frame, boxes[0], strength, rng)
    module = min(module_px[: len(shown)])
    if "depth-of-field" in conditions:
        frame = _depth_of_field(frame, module, strength, rng)
    if "defocus" in conditions:
        frame = _defocus(frame, module, strength)
    if "motion-blur" in conditions:
        frame = _motion_blur(frame, module, strength, rng)
    frame = _sensor(frame, rng, strength if "low-light" in conditions else 0.0)
    return frame


def _curved(card: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """The label round a cylinder whose axis runs along the card's height: seen from the front, a point
    at angle phi is at R sin(phi); shading falls off as cos(phi), with a shine where the light is."""
    h, w = card.shape[:2]
    half = math.radians(12 + 28 * s)  # half the arc the label covers: at most 80 degrees (a 37 mm EAN-13 on a can)
    radius = w / 2 / half
    out_w = int(2 * radius * math.sin(half))
    x = (np.arange(out_w, dtype=np.float32) - out_w / 2) / radius
    phi = np.arcsin(np.clip(x, -1, 1))
    map_x = np.tile((phi * radius + w / 2).astype(np.float32), (h, 1))
    map_y = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, out_w))
    bent = cv2.remap(card, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    shine_at = rng.uniform(-0.6, 0.6) * half
    light = 0.55 + 0.45 * np.cos(phi) + (0.25 + 0.35 * s) * np.exp(-(((phi - shine_at) / 0.12) ** 2))
    return np.clip(bent * light[None, :, None], 0, 255).astype(np.uint8)


def _finger(card: np.ndarray, linear: bool, s: float, rng: np.random.Generator) -> np.ndarray:
    """A fingertip over the code: over the top or bottom of a 1-D code's bars (leaving the middle rows to
    scan), over an edge of a QR code away from its finder patterns (within its error correction)."""
    h, w = card.shape[:2]
    out = card.copy()
    colour = np.array(SKIN[int(rng.integers(0, len(SKIN)))], np.float32)
    if linear:
        reach = (0.15 + 0.2 * s) * h
        cx, cy = rng.uniform(0.2, 0.8) * w, (0 if rng.random() < 0.5 else h)
        axes = (rng.uniform(0.08, 0.14) * w, reach)
    else:
        reach = (0.08 + 0.08 * s) * w
        side = int(rng.integers(0, 2))  # the bottom or the right edge, between finder patterns
        cx, cy = (rng.uniform(0.45, 0.6) * w, h) if side == 0 else (w, rng.uniform(0.45, 0.6) * h)
        axes = (reach * 0.8, reach) if side == 0 else (reach, reach * 0.8)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (round(cx), round(cy)), (round(axes[0]), round(axes[1])), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.02 * max(h, w)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 0.75 + 0.25 * np.clip(1 - np.hypot((xx - cx) / max(axes[0], 1), (yy - cy) / max(axes[1], 1)), 0, 1)
    skin = colour[None, None, :] * shade[:, :, None]
    return (out * (1 - mask[:, :, None]) + skin * mask[:, :, None]).astype(np.uint8)


def _screen(card: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    """The code lit on a phone screen: each screen pixel a red, a green and a blue stripe with dark gaps,
    which the camera samples at a slightly different pitch (the beat is the moire), in a dark body."""
    pitch = rng.uniform(1.4, 2.2)  # card pixels a screen pixel
    h, w = card.shape[:2]
    x = np.arange(w, dtype=np.float32) / pitch
    phase = x - np.floor(x)
    stripes = np.stack([(phase >= 2 / 3), (phase >= 1 / 3) & (phase < 2 / 3), (phase < 1 / 3)], axis=1)
    depth = 0.25 + 0.45 * s
    pattern = (1 - depth) + depth * stripes.astype(np.float32)
    y = np.arange(h, dtype=np.float32) / pitch
    rows = 1 - depth * 0.5 * ((y - np.floor(y)) > 0.8)
    lit = card.astype(np.float32) * pattern[None, :, :] * rows[:, None, None]
    lit = 40 + lit * rng.uniform(0.75, 0.95)  # a screen's black is not black; its white is not paper's
    bezel = max(4, int(0.06 * max(h, w)))
    return cv2.copyMakeBorder(np.clip(lit, 0, 255).astype(np.uint8), *(bezel,) * 4, cv2.BORDER_CONSTANT,
                              value=(25, 25, 28))


def _pose(frame: np.ndarray, card: np.ndarray, scale: float, taken: list[tuple[int, int, int, int]], steep: bool,
          s: float, rng: np.random.Generator, tries: int = 30) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """``card`` on a paper margin, scaled by ``scale`` (less when it would not fit the frame), turned and
    tilted, somewhere clear of the boxes ``taken``: the frame and the card's box (x, y, w, h), or None
    when there is no room."""
    fh, fw = frame.shape[:2]
    card = cv2.copyMakeBorder(card, *(max(2, card.shape[0] // 25),) * 4, cv2.BORDER_CONSTANT, value=(238, 240, 242))
    h, w = card.shape[:2]
    angle = math.radians(rng.uniform(30, 30 + 30 * s) * rng.choice((-1, 1)) if steep else rng.uniform(-8, 8))
    tilt = rng.uniform(0.0, 0.12 + 0.2 * s) if steep else rng.uniform(0, 0.08)
    outline = np.float32([[0, 0], [w, 0], [w, h], [0, h]]) - (w / 2, h / 2)
    squeeze = np.float32([[1 - tilt, 1], [1 + tilt, 1], [1 + tilt, 1], [1 - tilt, 1]])  # the far side looks smaller
    turn = np.float32([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    posed = (outline * squeeze) @ turn.T * scale
    posed *= min(0.95 * fw / np.ptp(posed[:, 0]), 0.95 * fh / np.ptp(posed[:, 1]), 1.0)
    low = -posed.min(axis=0)
    high = np.float32([fw, fh]) - posed.max(axis=0)
    for _ in range(tries):
        at = posed + rng.uniform(low, np.maximum(low, high)).astype(np.float32)
        x0, y0 = at.min(axis=0)
        x1, y1 = at.max(axis=0)
        box = (int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1)
        if not any(_overlap(box, other) for other in taken):
            break
    else:
        return None
    matrix = cv2.getPerspectiveTransform((outline + (w / 2, h / 2)).astype(np.float32), at.astype(np.float32))
    shown = cv2.warpPerspective(card, matrix, (fw, fh), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(np.full((h, w), 1.0, np.float32), matrix, (fw, fh), flags=cv2.INTER_LINEAR)
    return (frame * (1 - alpha[:, :, None]) + shown * alpha[:, :, None]).astype(np.uint8), box


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _film_glare(frame: np.ndarray, slot: tuple[int, int, int, int], s: float, rng: np.random.Generator) -> np.ndarray:
    """A specular streak on plastic film near the code of interest, and the thin bright lines of its crinkles."""
    h, w = frame.shape[:2]
    x0, y0, sw, sh = slot
    cx, cy = x0 + rng.uniform(0.3, 0.7) * sw, y0 + rng.uniform(0.3, 0.7) * sh
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    along = (xx - cx) * math.cos(theta) + (yy - cy) * math.sin(theta)
    across = -(xx - cx) * math.sin(theta) + (yy - cy) * math.cos(theta)
    length, breadth = rng.uniform(0.15, 0.35) * min(sw, sh), rng.uniform(0.02, 0.05 + 0.05 * s) * min(sw, sh)
    glare = (0.45 + 0.5 * s) * np.exp(-((along / length) ** 2) - ((across / breadth) ** 2))
    crinkle = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(2, 6))):
        points = np.stack([rng.uniform(x0, x0 + sw, 4), rng.uniform(y0, y0 + sh, 4)], axis=1).astype(np.int32)
        cv2.polylines(crinkle, [points], False, float(rng.uniform(0.2, 0.4 + 0.3 * s)), 2, cv2.LINE_AA)
    glare = np.clip(glare + cv2.GaussianBlur(crinkle, (0, 0), 1.5), 0, 1)[:, :, None]
    return (frame + (255 - frame.astype(np.float32)) * glare).astype(np.uint8)


def _depth_of_field(frame: np.ndarray, module: float, s: float, rng: np.random.Generator) -> np.ndarray:
    """Blur growing away from the plane in focus, across the frame in a random direction."""
    h, w = frame.shape[:2]
    radius = (0.3 + 0.5 * s) * module
    blurred = cv2.GaussianBlur(frame, (0, 0), radius)
    theta = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xx / w - 0.5) * math.cos(theta) + (yy / h - 0.5) * math.sin(theta)) + rng.uniform(-0.2, 0.2)
    weight = np.clip(np.abs(ramp) * 1.6, 0, 1)[:, :, None]
    return (frame * (1 - weight) + blurred * weight).astype(np.uint8)


def _defocus(frame: np.ndarray, module: float, s: float) -> np.ndarray:
    """A fixed-focus lens too close to the code: every point a disc (radius 0.4-1.1 modules), its rim softened."""
    radius = (0.2 + 0.9 * s) * module
    r = math.ceil(radius) + 1
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    disc = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1)  # antialiased rim
    return cv2.filter2D(frame, -1, disc / disc.sum(), borderType=cv2.BORDER_REPLICATE)


def _motion_blur(frame: np.ndarray, module: float, s: float, rng: np.random.Generator) -> np.ndarray:
    """The hand moving while the shutter is open: a line kernel up to 1.3 modules long, any direction."""
    length = 1 + (0.3 + 1.0 * s) * module
    r = math.ceil(length / 2)
    angle = rng.uniform(0, math.pi)
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.line(kernel, (round((r - dx) * 16), round((r - dy) * 16)), (round((r + dx) * 16), round((r + dy) * 16)),
             1.0, 1, cv2.LINE_AA, 4)
    return cv2.filter2D(frame, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _sensor(frame: np.ndarray, rng: np.random.Generator, low_light: float) -> np.ndarray:
    """The sensor and its processing: photons (shot noise grows as the light falls), read noise, the gain
    that brings a dim frame up, and JPEG (harder the darker, as a phone's does)."""
    light = 1.0 - 0.95 * low_light  # the share of a good exposure's photons
    full_well = 4000.0  # photons at white, in a good exposure
    photons = frame.astype(np.float32) / 255 * full_well * light
    noisy = photons + rng.normal(0, 1, frame.shape).astype(np.float32) * np.sqrt(photons + 4.0)
    out = np.clip(noisy / (full_well * light) * 255, 0, 255).astype(np.uint8)
    quality = int(92 - 55 * low_light)
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
