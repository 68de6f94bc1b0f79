#!/usr/bin/env python3
"""How well, and how fast, each decoder and the cascade read codes in realistic camera frames.

A seeded corpus is drawn in memory (nothing is cached on disk): 640x480 and 1280x720 frames of a
cluttered counter with one code in them, a QR code (EMV merchant payloads, Alipay+ payment codes,
long signed tokens), an EAN-13 or a Code 128, under every damage profile of ``pos_sim.scan.damage``
at strengths from 0.2 to 1.0, some combined. Every decoder reads every frame in the same run, on
one core (frames are drawn in batches on every core between the decodes, when there are several: drawing is
never timed, nor runs beside a decode).
A read succeeds when the code's text is among the reads; a false read is a read whose text is no
code in the frame.

``--corpus photo`` draws a second corpus, of what real photographs have and the damage profiles
lack (``pos_sim.scan.photos``: labels round bottles, glare on film, a moving hand, shallow depth of
field, low light, a phone screen's moire, fingers, steep angles, several codes in a frame).
``--corpus handheld`` draws a third, of what public sample sets of hand-held phone photos have and
the other two lack: small frames (640x480, 320x240) from phones without autofocus held close (the
code out of focus, ``defocus``), and the retail codes those sets are full of, UPC-A and EAN-8 beside
EAN-13, Code 128 and QR (a UPC-A read counts only as a UPC-A of 12 digits).
Run: .venv/bin/python scripts/bench_scan.py [--corpus damage|photo|handheld] [--seed N] [--quick] [--markdown] [--json FILE]
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread a process, set before numpy and OpenCV start their thread pools
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
# Run as a script on a machine of several cores, frames are drawn ahead in a second process (never timed).
DRAW_APART = __name__ == "__main__" and (os.cpu_count() or 1) > 1

import argparse
import base64
import json
import math
import multiprocessing
import statistics
import string
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from pos_sim.domain.codes import emv_mpm, gs1, schemes, wallet
from pos_sim.domain.money import Money
from pos_sim.render.barcodes import barcode_image, qr_image
from pos_sim.scan import decoders
from pos_sim.scan.cascade import Cascade
from pos_sim.scan.damage import PROFILES, damage, place_in_frame
from pos_sim.scan.photos import CONDITIONS, photograph

DEFAULT_FRAMES = 2200
QUICK_FRAMES = 200
DRAW_BATCH = 40  # frames drawn at once, when drawn apart: a 1280x720 batch is about 110 MB
SIZES = ((640, 480), (1280, 720))
SYMBOLOGIES = ("qr", "ean13", "code128")
CAMERA = ("blur", "noise", "jpeg")  # damage the camera does: to the whole frame, after the code is placed
COMBINED = ("small+blur", "glare+perspective", "screen-photo+jpeg", "low-contrast+noise")
PAIR_SHARE = 0.65  # each damage of a pair at this share of the frame's strength: a pair at 1.0 is hard, not hopeless
CATEGORIES = PROFILES + COMBINED
PHOTO_PAIRS = ("curved+film-glare", "motion-blur+low-light", "steep-angle+several", "finger+depth-of-field",
               "screen-moire+low-light", "curved+steep-angle", "film-glare+steep-angle")  # odd: every size meets each
PHOTO_CONDITIONS = tuple(c for c in CONDITIONS if c != "defocus")  # the photo corpus as it was before defocus
PHOTO_CATEGORIES = ("none", *PHOTO_CONDITIONS, *PHOTO_PAIRS)
HANDHELD_CATEGORIES = ("none", "defocus", "motion-blur", "low-light", "steep-angle", "defocus+steep-angle",
                       "defocus+low-light", "defocus+motion-blur", "curved+defocus")  # odd: every size meets each
HANDHELD_SYMBOLOGIES = ("ean13", "upca", "ean8", "code128", "qr")
HANDHELD_SIZES = ((640, 480), (320, 240))
HANDHELD_FILL = (0.45, 0.9)  # the share of the frame's width a hand-held code spans, quiet zones and all
HANDHELD_MODULE_PX = 1.5  # pixels a module at least, where the code fits the frame so
HANDHELD_CODE128_CHARS = (6, 13)
PHOTO_MODULE_PX = (2.2, 5.0)  # pixels a module the camera sees in a photo
BANDS = ("0", "0.2-0.47", "0.47-0.73", "0.73-1.0")  # strength bands ("0": the undamaged frames)
MODULE_BINS = ((0, 2), (2, 3), (3, 4), (4, 99))  # pixels a module, in the frame
MODULE_PX = (2.5, 5.5)  # pixels a module the camera sees, before "small"
NAMES = ("KOPI CORNER", "NASI LEMAK 88", "SUNRISE MART", "BANGKOK NOODLE", "MAMA SHOP", "FRESH JUICE CO")
CITIES = ("SINGAPORE", "BANGKOK", "HONG KONG", "KUALA LUMPUR", "JAKARTA", "SAO PAULO")
EAN_PREFIXES = ("45", "49", "50", "400", "690", "880", "885", "888", "890", "899", "955", "978")
ALPHANUMERIC = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Frame:
    """One corpus frame: what is in it and how it was damaged (the pixels travel beside it)."""

    index: int
    symbology: str
    kind: str  # emv, wallet, token, ean13, upca, ean8, code128
    text: str
    category: str
    strength: float
    size: str
    module_px: float  # pixels a module of the code spans in the frame (before tilt and perspective)
    others: tuple[str, ...] = ()  # other codes in the frame: reading them is no false read


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _amount(rng: np.random.Generator, currency: str) -> Money | None:
    return Money.of_minor(int(rng.integers(100, 2_000_000)), currency) if rng.random() < 0.7 else None


def emv_payload(rng: np.random.Generator) -> str:
    """A merchant-presented EMV QR payload of a national scheme or an Alipay+ merchant."""
    name, city = str(rng.choice(NAMES)), str(rng.choice(CITIES))
    match int(rng.integers(0, 7)):
        case 0:
            return schemes.promptpay(phone="08" + _digits(rng, 8), amount=_amount(rng, "THB"))
        case 1:
            return schemes.paynow(mobile="9" + _digits(rng, 7), amount=_amount(rng, "SGD"), merchant_name=name,
                                  reference="INV" + _digits(rng, 8))
        case 2:
            return schemes.fps(fps_id=_digits(rng, 9), amount=_amount(rng, "HKD"), merchant_name=name)
        case 3:
            return schemes.duitnow(acquirer_id="890053", account=_digits(rng, 12), merchant_name=name,
                                   merchant_city=city, amount=_amount(rng, "MYR"))
        case 4:
            return schemes.qris(nmid="ID" + _digits(rng, 13), merchant_name=name, merchant_city=city, mcc="5812",
                                amount=_amount(rng, "IDR"))
        case 5:
            return schemes.pix(key=f"{_digits(rng, 8)}-{_digits(rng, 4)}", merchant_name=name, merchant_city=city,
                               amount=_amount(rng, "BRL"), txid="TX" + _digits(rng, 10))
        case _:
            amount = _amount(rng, "SGD")
            return emv_mpm.build({
                "point_of_initiation": "12" if amount else "11",
                "merchant_accounts": {"26": {"guid": "COM.ALIPAYPLUS", "01": _digits(rng, 16)}},
                "mcc": "5812",
                "currency": "702",
                "amount": amount.major_str() if amount else None,
                "country": "SG",
                "merchant_name": name,
                "merchant_city": city,
                "additional_data": {"05": "ORD" + _digits(rng, 12), "07": "T" + _digits(rng, 4)},
            })


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _claims(claims: dict) -> str:
    return _b64(json.dumps(claims, separators=(",", ":")).encode())


def token_payload(rng: np.random.Generator) -> str:
    """A signed token like a wallet's dynamic code: a JWT (ES256) of about 200-400 characters."""
    header = _b64(b'{"alg":"ES256","typ":"JWT"}')
    claims = {"sub": _digits(rng, 16), "exp": 1_790_000_000 + int(rng.integers(0, 10**6)), "nonce": ""}
    signature = _b64(rng.bytes(64))
    bare = len(header) + len(_claims(claims)) + len(signature) + 2
    claims["nonce"] = _b64(rng.bytes(max(3, (int(rng.integers(200, 401)) - bare) * 9 // 16)))  # 16/9 chars a byte
    return ".".join((header, _claims(claims), signature))


def code_text(symbology: str, rng: np.random.Generator) -> tuple[str, str]:
    """(kind, text) of a random code of ``symbology``."""
    if symbology == "ean13":
        prefix = str(rng.choice(EAN_PREFIXES))
        return "ean13", gs1.make_ean13(prefix + _digits(rng, 12 - len(prefix)))
    if symbology == "upca":
        return "upca", gs1.make_upca(_digits(rng, 11))
    if symbology == "ean8":
        return "ean8", gs1.make_ean8(_digits(rng, 7))
    if symbology == "code128":
        return "code128", "".join(rng.choice(list(ALPHANUMERIC), int(rng.integers(8, 21))))
    kind = str(rng.choice(("emv", "wallet", "token"), p=(0.45, 0.25, 0.3)))
    if kind == "emv":
        return kind, emv_payload(rng)
    if kind == "wallet":
        return kind, wallet.make_alipay_plus_code(_digits(rng, 6), _digits(rng, 16))
    return kind, token_payload(rng)


def make_frame(index: int, seed: int, category: str, symbology: str, size: tuple[int, int]) -> tuple[Frame, np.ndarray]:
    """Frame ``index`` of the corpus of ``seed`` and its BGR pixels: the same every time."""
    rng = np.random.default_rng([seed, index])
    kind, text = code_text(symbology, rng)
    module = rng.uniform(*MODULE_PX)
    render_px = math.ceil(module)
    code = qr_image(text, render_px) if symbology == "qr" else barcode_image(symbology, text, render_px)
    strength = 0.0 if category == "none" else float(rng.uniform(0.2, 1.0))
    profiles = category.split("+")
    each = strength * (PAIR_SHARE if len(profiles) > 1 else 1)
    shrink = 1.0  # what "small" did to the module
    for profile in (p for p in profiles if p not in CAMERA):
        damaged = damage(code, profile, each, rng, module_px=render_px * shrink)
        shrink *= damaged.shape[0] / code.shape[0] if profile == "small" else 1
        code = damaged
    width, height = size
    # "small" sets the code's final scale itself; otherwise the camera sees `module` pixels a module
    scale = 1.0 if "small" in profiles else module / render_px
    scale = min(scale, 0.95 * width / code.shape[1], 0.9 * height / code.shape[0])
    frame, _ = place_in_frame(code, size, rng, fill=code.shape[0] * scale / height)
    seen_px = render_px * shrink * scale
    for profile in (p for p in profiles if p in CAMERA):
        frame = damage(frame, profile, each, rng, module_px=seen_px)
    return Frame(index, symbology, kind, text, category, strength, f"{width}x{height}", round(seen_px, 2)), frame


def make_photo(index: int, seed: int, category: str, symbology: str, size: tuple[int, int]) -> tuple[Frame, np.ndarray]:
    """Frame ``index`` of the photo corpus of ``seed`` and its BGR pixels: the same every time. With
    "several", one or two other codes (of other symbologies) share the frame."""
    rng = np.random.default_rng([seed, index, 1])
    conditions = tuple(category.split("+")) if category != "none" else ()
    strength = 0.0 if category == "none" else float(rng.uniform(0.2, 1.0))
    symbologies = [symbology] + [str(s) for s in rng.permutation([s for s in SYMBOLOGIES if s != symbology])]
    symbologies = symbologies[: 1 + int(rng.integers(1, 3))] if "several" in conditions else symbologies[:1]
    codes, texts, modules = [], [], []
    for each in symbologies:
        kind, text = code_text(each, rng)
        modules_across = (qr_image(text, 1) if each == "qr" else barcode_image(each, text, 1)).shape[1]
        module = min(float(rng.uniform(*PHOTO_MODULE_PX)), 0.9 * size[0] / modules_across)  # it fits the frame
        render_px = math.ceil(module)
        codes.append((qr_image(text, render_px) if each == "qr" else barcode_image(each, text, render_px), render_px))
        texts.append((kind, text))
        modules.append(module)
    image = photograph(codes, modules, size, conditions, strength, rng)
    width, height = size
    frame = Frame(index, symbology, texts[0][0], texts[0][1], category, strength, f"{width}x{height}",
                  round(modules[0], 2), tuple(t for _, t in texts[1:]))
    return frame, image


def make_handheld(index: int, seed: int, category: str, symbology: str, size: tuple[int, int]) -> tuple[Frame, np.ndarray]:
    """Frame ``index`` of the hand-held corpus of ``seed`` and its BGR pixels: the same every time. The
    code fills HANDHELD_FILL of the frame's width, as a phone held close to it shows it."""
    rng = np.random.default_rng([seed, index, 2])
    conditions = tuple(category.split("+")) if category != "none" else ()
    strength = 0.0 if category == "none" else float(rng.uniform(0.2, 1.0))
    if symbology == "code128":  # a shelf or parcel label's: a 20-character one would be under a pixel a module at 320
        kind, text = "code128", "".join(rng.choice(list(ALPHANUMERIC), int(rng.integers(*HANDHELD_CODE128_CHARS))))
    else:
        kind, text = code_text(symbology, rng)
    modules_across = (qr_image(text, 1) if symbology == "qr" else barcode_image(symbology, text, 1)).shape[1]
    fits = 0.95 * size[0] / modules_across
    module = min(fits, max(HANDHELD_MODULE_PX, float(rng.uniform(*HANDHELD_FILL)) * size[0] / modules_across))
    render_px = math.ceil(module)
    code = qr_image(text, render_px) if symbology == "qr" else barcode_image(symbology, text, render_px)
    image = photograph([(code, render_px)], [module], size, conditions, strength, rng)
    width, height = size
    return Frame(index, symbology, kind, text, category, strength, f"{width}x{height}", round(module, 2)), image


def categories(corpus: str) -> tuple[str, ...]:
    return {"photo": PHOTO_CATEGORIES, "handheld": HANDHELD_CATEGORIES}.get(corpus, CATEGORIES)


def symbologies(corpus: str) -> tuple[str, ...]:
    return HANDHELD_SYMBOLOGIES if corpus == "handheld" else SYMBOLOGIES


def sizes(corpus: str) -> tuple[tuple[int, int], ...]:
    return HANDHELD_SIZES if corpus == "handheld" else SIZES


def plan(index: int, corpus: str = "damage") -> tuple[str, str, tuple[int, int]]:
    """Category, symbology and size of frame ``index``: every 3 x categories frames hold every combination."""
    chosen, drawn = categories(corpus), symbologies(corpus)
    category = chosen[index % len(chosen)]
    symbology = drawn[index // len(chosen) % len(drawn)]
    if category == "inverted":  # a screen's dark mode shows QR codes; EAN/UPC have no inverse mode (ISO/IEC 15420)
        symbology = "qr"
    shapes = sizes(corpus)
    return category, symbology, shapes[index % len(shapes)]


def band(strength: float) -> str:
    return BANDS[0] if strength == 0 else BANDS[1 + min(2, int((strength - 0.2) / (0.8 / 3)))]


def load_decoders(names: list[str]) -> dict[str, decoders.Decoder]:
    loaded: dict[str, decoders.Decoder] = {}
    for name in names:
        decoder = Cascade() if name == "cascade" else decoders.load(name)
        if decoder is None:
            print(f"bench_scan: decoder {name} left out (its library does not load)", file=sys.stderr)
        else:
            loaded[name] = decoder
    return loaded


Outcomes = dict[str, list[dict]]  # decoder -> per frame: read or not, false reads, ms, error


def draw(index: int, seed: int, corpus: str = "damage") -> tuple[Frame, np.ndarray, float]:
    """Frame ``index`` as the plan has it, its pixels and the seconds it took to draw."""
    started = time.perf_counter()
    make = {"photo": make_photo, "handheld": make_handheld}.get(corpus, make_frame)
    frame, image = make(index, seed, *plan(index, corpus))
    return frame, image, time.perf_counter() - started


def _one_thread() -> None:
    cv2.setNumThreads(1)


def drawn(frames: int, seed: int, corpus: str) -> Iterator[tuple[Frame, np.ndarray, float]]:
    """The corpus, in order: drawn by every core in batches of DRAW_BATCH while the decoders wait (DRAW_APART; a
    process drawing beside a decode made it dearer through the shared cache: a 1280x720 p95 of 52 ms against 47
    alone), else here."""
    if not DRAW_APART:
        yield from (draw(index, seed, corpus) for index in range(frames))
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(os.cpu_count(), mp_context=context, initializer=_one_thread) as pool:
        for start in range(0, frames, DRAW_BATCH):
            batch = [pool.submit(draw, index, seed, corpus) for index in range(start, min(start + DRAW_BATCH, frames))]
            yield from [each.result() for each in batch]  # all drawn before the first is decoded


def run(frames: int, seed: int, chosen: dict[str, decoders.Decoder], kind: str = "damage") -> tuple[list[Frame], Outcomes, float]:
    """Every decoder on every frame: the frames, each decoder's outcome on each, seconds spent drawing."""
    outcomes: Outcomes = {name: [] for name in chosen}
    corpus: list[Frame] = []
    drawing = 0.0
    started = time.perf_counter()
    for index, (frame, image, seconds) in enumerate(drawn(frames, seed, kind)):
        drawing += seconds
        corpus.append(frame)
        for name, decoder in chosen.items():
            t0 = time.thread_time()  # this thread's CPU, not the time other processes take (the decoders use no other thread)
            try:
                reads, error = decoder.decode(image), None
            except Exception as exc:  # a decoder that throws on a frame is a finding, not a crash
                reads, error = [], f"{type(exc).__name__}: {exc}"
            ms = (time.thread_time() - t0) * 1000
            texts = [r.text for r in reads]
            false = sorted({t for t in texts if t != frame.text and t not in frame.others})
            ok = any(r.text == frame.text and r.symbology == frame.symbology for r in reads)  # a UPC-A as a UPC-A
            outcomes[name].append({"ok": ok, "false": false, "ms": round(ms, 3), "error": error})
        if frames >= 200 and (index + 1) % (frames // 10) == 0:
            print(f"bench_scan: {index + 1}/{frames} frames, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return corpus, outcomes, drawing


def _rate(oks: list[bool]) -> dict:
    return {"ok": sum(oks), "n": len(oks), "rate": sum(oks) / len(oks) if oks else None}


def _times(ms: list[float]) -> dict:
    ordered = sorted(ms)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)] if ordered else None
    return {"median": statistics.median(ordered) if ordered else None, "p95": p95, "n": len(ordered)}


def summarise(corpus: list[Frame], results: list[dict], chosen: tuple[str, ...] = CATEGORIES,
              codes: tuple[str, ...] = SYMBOLOGIES, shapes: tuple[tuple[int, int], ...] = SIZES) -> dict:
    """One decoder's success rates (by symbology, damage x symbology, strength, QR kind), false reads, times;
    ``codes`` the corpus's symbologies, ``shapes`` its frame sizes."""
    pairs = list(zip(corpus, results))

    def oks(test) -> list[bool]:
        return [r["ok"] for f, r in pairs if test(f)]

    def times(test) -> dict:
        return _times([r["ms"] for f, r in pairs if test(f)])

    false = [
        {"frame": f.index, "category": f.category, "strength": round(f.strength, 2), "code": f.text, "read": t}
        for f, r in pairs for t in r["false"]
    ]
    return {
        "success": {s: _rate(oks(lambda f: f.symbology == s)) for s in codes}
        | {"all": _rate(oks(lambda f: True))},
        "by_category": {
            c: {s: _rate(oks(lambda f: f.category == c and f.symbology == s)) for s in codes} for c in chosen
        },
        "by_band": {b: _rate(oks(lambda f: band(f.strength) == b)) for b in BANDS},
        "by_module_px": {_bin(lo, hi): _rate(oks(lambda f: lo <= f.module_px < hi)) for lo, hi in MODULE_BINS},
        "by_kind": {k: _rate(oks(lambda f: f.kind == k)) for k in ("emv", "wallet", "token")},
        "false_reads": len(false),
        "false": false,
        "errors": [{"frame": f.index, "error": r["error"]} for f, r in pairs if r["error"]],
        "ms": {"all": times(lambda f: True)} | {f"{w}x{h}": times(lambda f: f.size == f"{w}x{h}") for w, h in shapes},
        "seconds": sum(r["ms"] for r in results) / 1000,
    }


def _bin(low: float, high: float) -> str:
    return f"<{high}" if low == 0 else f"{low}+" if high == 99 else f"{low}-{high}"


def _short(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[:most] + "...")


def against_zxing(decoded: dict, names: list[str], shapes: list[str], markdown: bool) -> list[str]:
    """Each other decoder's median time as a multiple of zxing-cpp alone's on the same frames, all and by size
    (issue 15: the cascade at most 1.5x); nothing when zxing-cpp is not among ``names``."""
    if "zxing" not in names:
        return []
    base = decoded["zxing"]["ms"]
    rows = [[n, *(f"{decoded[n]['ms'][k]['median'] / base[k]['median']:.2f}x" if base[k]["median"] else "-"
                  for k in ("all", *shapes))] for n in names if n != "zxing"]
    return ["", "Median time against zxing-cpp alone's", table(["decoder", "all", *shapes], rows, markdown)]


def _pct(rate: dict) -> str:
    return "-" if rate["rate"] is None else f"{100 * rate['rate']:.0f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(headers: list[str], rows: list[list[str]], markdown: bool, labels: int = 1) -> str:
    """Rows under headers, the first ``labels`` columns left-aligned text, the rest right-aligned figures."""
    if markdown:
        rule = "|" + "|".join("---" if i < labels else "---:" for i in range(len(headers))) + "|"
        return "\n".join(["| " + " | ".join(headers) + " |", rule] + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(c) for c in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < labels else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(row) for row in rows])


def threads() -> str:
    """The threads the decoders may use: the benchmark's timings are one thread's, so one core's."""
    opencv, omp = cv2.getNumThreads(), os.environ.get("OMP_NUM_THREADS", "unset")
    return "one thread" if opencv == 1 and omp == "1" else f"{opencv} OpenCV threads, OMP_NUM_THREADS {omp}"


def render(report: dict, markdown: bool) -> str:
    decoded = report["decoders"]
    names = list(decoded)
    shown = list(decoded[names[0]]["by_category"])
    shapes = [f"{w}x{h}" for w, h in sizes(report["corpus"])]
    codes = symbologies(report["corpus"])
    out = [
        f"{report['frames']} frames ({report['corpus']} corpus, seed {report['seed']}), {report['frames_by_size']}, "
        f"drawn in {report['generate_s']:.0f} s ({report['drawing']}); decoders on {report['threads']}; "
        f"whole run {report['wall_s']:.0f} s, load average {report['load_average']:.1f} at the end",
        "",
        "Reads: success rate by symbology, false reads, decoder errors",
        table(
            ["decoder", *codes, "all", "false reads", "errors"],
            [[n, *(_pct(decoded[n]["success"][s]) for s in (*codes, "all")), str(decoded[n]["false_reads"]),
              str(len(decoded[n]["errors"]))] for n in names],
            markdown,
        ),
        "",
        "Time per frame, ms of the decoding thread's CPU (median / p95)",
        table(
            ["decoder", "all", *shapes, "total s"],
            [[n, *(f"{_ms(ms[k]['median'])} / {_ms(ms[k]['p95'])}" for k in ("all", *shapes)),
              f"{decoded[n]['seconds']:.0f}"] for n, ms in ((n, decoded[n]["ms"]) for n in names)],
            markdown,
        ),
        *against_zxing(decoded, names, shapes, markdown),
        "",
        "Success rate by damage strength (all symbologies)",
        table(["strength", *names], [[b, *(_pct(decoded[n]["by_band"][b]) for n in names)] for b in BANDS], markdown),
        "",
        "Success rate by pixels a module in the frame (all symbologies)",
        table(["px/module", *names], [[b, *(_pct(decoded[n]["by_module_px"][b]) for n in names)]
                                      for b in (_bin(lo, hi) for lo, hi in MODULE_BINS)], markdown),
        "",
        "Success rate by QR payload kind",
        table(["kind", *names], [[k, *(_pct(decoded[n]["by_kind"][k]) for n in names)]
                                 for k in ("emv", "wallet", "token")], markdown),
        "",
        "Success rate by damage and symbology (strengths 0.2-1.0; n frames each)",
        table(
            ["damage", "symbology", "n", *names],
            [[c, s, str(decoded[names[0]]["by_category"][c][s]["n"]),
              *(_pct(decoded[n]["by_category"][c][s]) for n in names)] for c in shown for s in codes],
            markdown,
            labels=2,
        ),
    ]
    with_false = [c for c in shown if any(f["category"] == c for n in names for f in decoded[n]["false"])]
    if with_false:
        out += ["", "False reads by damage (reads whose text is no code in the frame)", table(
            ["damage", *names], [[c, *(str(sum(f["category"] == c for f in decoded[n]["false"])) for n in names)]
                                 for c in with_false], markdown)]
    for n in names:
        out += [f"false read by {n}, frame {f['frame']} ({f['category']} {f['strength']}): "
                f"{_short(f['read'])}, code {_short(f['code'])}" for f in decoded[n]["false"][:5]]
        out += [f"{n} failed on frame {e['frame']}: {e['error']}" for e in decoded[n]["errors"][:5]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    choices = (*decoders.NAMES, "cascade")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, help=f"corpus size (default {DEFAULT_FRAMES}; {QUICK_FRAMES} if --quick)")
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK_FRAMES}-frame corpus, for the test suite")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--corpus", choices=("damage", "photo", "handheld"), default="damage",
                        help="damage: the damage profiles in a counter scene (default); photo: photo realism; "
                             "handheld: small, out-of-focus phone photos, UPC-A and EAN-8 too")
    parser.add_argument("--decoders", default=",".join(choices), help=f"comma-separated, of {', '.join(choices)}")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results and every frame's to FILE")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    args = parser.parse_args(argv)
    frames = args.frames if args.frames is not None else QUICK_FRAMES if args.quick else DEFAULT_FRAMES
    if frames < 1 or args.seed < 0:
        parser.error(f"--frames must be at least 1 and --seed at least 0, got {frames} and {args.seed}")
    names = [n.strip() for n in args.decoders.split(",") if n.strip()]
    unknown = [n for n in names if n not in choices]
    if unknown or not names:
        parser.error(f"unknown decoder(s) {', '.join(unknown) or '(none given)'}: use {', '.join(choices)}")
    if args.json and not args.json.resolve().parent.is_dir():
        parser.error(f"--json {args.json}: no such directory {args.json.resolve().parent}")
    chosen = load_decoders(names)
    if not chosen:
        print("bench_scan: no decoder could be loaded", file=sys.stderr)
        return 1
    started = time.perf_counter()
    corpus, outcomes, drawing = run(frames, args.seed, chosen, args.corpus)
    report = {
        "frames": frames,
        "corpus": args.corpus,
        "seed": args.seed,
        "frames_by_size": ", ".join(f"{sum(f.size == f'{w}x{h}' for f in corpus)} at {w}x{h}" for w, h in sizes(args.corpus)),
        "generate_s": drawing,
        "wall_s": time.perf_counter() - started,
        "threads": threads(),
        "drawing": "in batches on every core, apart from the decodes" if DRAW_APART else "in line",
        "load_average": os.getloadavg()[0],
        "decoders": {name: summarise(corpus, results, categories(args.corpus), symbologies(args.corpus), sizes(args.corpus))
                     for name, results in outcomes.items()},
    }
    print(render(report, args.markdown))
    if args.json:
        per_frame = [asdict(f) | {"results": {n: outcomes[n][i] for n in outcomes}} for i, f in enumerate(corpus)]
        try:
            args.json.write_text(json.dumps(report | {"per_frame": per_frame}, indent=1), encoding="utf-8")
        except OSError as exc:
            print(f"bench_scan: could not write {args.json}: {exc.strerror}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(1)
    sys.exit(main())
