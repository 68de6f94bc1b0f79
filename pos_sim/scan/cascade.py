"""The decoder cascade: the fast path first, then preprocessing where a first pass fails.

Passes, cheap or likely first, each tried only while nothing valid has been read and the frame's work
budget lasts (pixels read, each pass charged its cost in readings of them, never time: the same frame gives the
same reads on a quiet or a loaded machine):

1. zxing-cpp on the frame as it is, no retries (most frames end here); this pass and pass 3 also read
   the codes of strong checks a counter meets beside them (``AS_SEEN_ONLY``: Data Matrix, PDF417,
   Aztec, GS1 DataBar), as zxing-cpp alone reads them; the passes below look for the others only;
2. candidate regions (where strong gradients are dense), each cut out, upscaled when small and
   turned so a 1-D code's bars stand upright (the angle comes from the region's gradients); the
   regions no read of pass 1 explains are read even after it found a code (several codes a frame);
3. zxing-cpp on the frame with its own retries (90-degree turns, downscaling, inversion): the same
   reading as zxing-cpp alone, and always paid for, whatever the budget (the passes before it leave
   room for it), so the cascade reads what zxing-cpp alone reads;
4. the 1-D codes OpenCV's barcode detector locates, each cut out along its turned rectangle with a
   quiet zone, bars upright (it finds codes whose bars a tilt or clutter hide from pass 2);
5. the frame inverted, for 1-D codes in dark mode (zxing-cpp's 1-D readers ignore inversion);
6. each region sharpened (blur), binarised after smoothing (noise), and contrast-equalised;
7. for 2-D codes only, each candidate region stretched between its local darkest and lightest (glare) and smoothed
   (a phone screen's moire); not a region whose gradients run one way alone (a 1-D code's bars: across them, at most
   CROSSED_SHARE of the strength along them), nor in the passes for 2-D codes below;
8. the blurs a region's edges show undone, where they read most for their cost (hand-held seed 611: the defocus the
   edges show read 37 of the 39 frames the three radii read): for 1-D codes, the detector's places and the regions
   whose gradients show bars with a lens's defocus undone across the bars (a phone without autofocus held close: the
   disc's spread, of the radius the region's edges show); for 2-D codes, each region with that defocus undone (a
   Wiener filter of a disc), then sharpened along a hand's motion and with that motion undone (Wiener filters), when
   its gradients show one; for 1-D codes, a hand's motion across the bars undone (two lengths), then the defocus at
   the two other shares of the radius;
9. libzbar on each region, a different reader that gets some codes zxing-cpp misses (at four readings' cost a pixel,
   the pass that reads least for it);
10. for 2-D codes, the regions whose gradients do not run one way alone, up to UPSCALED_MOST_PX across, at twice their size, as they are,
   with the motion undone (the region's own images of the lengths its edges show, brought to twice its size: a Wiener
   filter there took five to ten readings' time), sharpened along a hand's motion, and stretched.

A 1-D code's bars stand upright in its region, so its blurs are undone row by row (``_wiener_rows``: the 2-D filter's
image to a grey level, a fifth of the time).

Every read is validated before it is returned (``valid``): EAN/UPC check digits (the symbol's own:
a store's price check digit in a number-system-2 UPC-A is the till's business, not the scanner's), the CRC and
structure of EMV payloads, the wallet code format when the caller expects a wallet code. A read
that validates is kept when nothing disagrees with it (``Cascade._disputed``): a 1-D read's place
is read a second time, and a different text there refuses it. Where the read is weak (a short
1-D code, a read made only after the image was sharpened, binarised or equalised, which can make
bars up, or libzbar's on a few scan lines, whose Code 128 misreads can pass their check) another
reading must agree. An EAN/UPC read's place is also read strip by strip across its bars: a second
text there refuses it. On bars barely resolved (a defocus disc of a module's radius or more)
zxing-cpp's other binariser repeats zxing-cpp's misreads: there the place's sharpened, binarised and
equalised images, or libzbar, must read the read's text; and a read of the frame as it is, zxing-cpp's own, is
read again on the scan lines across its bars with that defocus undone: another text there refuses it (the sharpened
place repeated a UPC-A misread the refocused lines read right). A 1-D read with a motion or a defocus undone is kept
only when the place, so filtered at each length or radius, read strip by strip, reads its text and no other, and libzbar reads no
other EAN/UPC there on more scan lines than it reads this one (a steep EAN-13 out of focus whose left half the
filter made up read as a UPC-A; libzbar read the EAN-13). A read whose
place lies in a code of stronger checks read in the same pass is a misread of part of it (a UPC-A
in a Code 128's bars) and is refused; so is a 1-D read in the place of a stronger 1-D read of any
pass, and an EAN-8 whose quiet zone holds bars (``_quiet``: the middle of a UPC-A or EAN-13). A Micro QR
code is read only off an unfiltered image: a QR code's region sharpened along a motion read as one. A wrong read is worse than
no read. UPC-E, Code 39, Code 93, ITF and Codabar (``WEAK``: UPC-E's short symbol, one weak check or none, which
clutter reads as: zxing-cpp alone read "A2-D" as a Codabar in photo seed 601 frame 403, and halves of EAN-13s as
UPC-Es) are read in the two passes on the frame as it is, as zxing-cpp alone reads them, and kept only when they pass
a retail scanner's length rule (an ITF-14's GS1 check digit, ITF_LEAST digits otherwise) and a second reading of
their place agrees (``Cascade._confirmed``: libzbar, or zxing-cpp's other binariser; for a UPC-E, libzbar).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cached_property, partial

import cv2
import numpy as np

from pos_sim.domain import codes
from pos_sim.domain.errors import CodeError
from pos_sim.scan import decoders
from pos_sim.scan.decoders import Corners, Read, gray

RETAIL = ("ean13", "ean8", "upca")  # EAN/UPC: one mod-10 check digit
LINEAR = (*RETAIL, "code128")
AS_SEEN_ONLY = ("datamatrix", "pdf417", "aztec", "databar", "databar-limited", "databar-expanded")  # strong checks, read as seen
WEAK = ("upce", "code39", "code93", "itf", "codabar")  # one weak check or none: read as seen, kept when a second reading agrees
SYMBOLOGIES = ("qr", "microqr", *LINEAR, *AS_SEEN_ONLY, *WEAK)  # what the cascade reads, whichever library reads it
AS_IS = ("fast", "full")  # the passes of zxing-cpp on the frame as it is, the only ones that read the weak symbologies
ITF14 = 14  # an ITF-14 (a carton's GTIN) carries the GS1 check digit
ITF_LEAST = 8  # digits an ITF of another length has at least (a scanner's length rule: clutter reads as short ITFs)
DEFAULT_BUDGET_PX = 20 * 1280 * 720  # pixels read a frame, each pass charged its cost: about 20 readings of a 1280x720 frame
FULL_COST = 4  # zxing-cpp with its retries reads the frame about 4 times (turned, downscaled, inverted)
ZBAR_COST = 4  # libzbar takes about four times zxing-cpp's time a pixel (hand-held seed 611: 26 against 6 us a 1,000)
ROWS_COST = 2  # a 1-D code's motion or defocus undone row by row (``_wiener_rows``) and read: about two readings
MATRIX_COSTS = {"unblurred": 5, "refocused": 5, "deblurred": 2, "stretched": 2}  # a 2-D pass's filter and reading,
# in readings: a two-dimensional Wiener filter takes about four readings' time, sharpening or stretching one
UPSCALED_COSTS = {**MATRIX_COSTS, "unblurred": 2}  # at twice a region's size, the region's motion undone is brought to
# it (about one reading's time) and read
ZBAR_LINES = 8  # libzbar scan lines that read the same text, from which its 1-D read is its own second reading
STRONG_CODE128 = 6  # Code 128 characters from which its mod-103 check character makes a lone read safe
PREPROCESSED = ("sharpened", "binarised", "equalised")
AS_SEEN = ("fast", "region", "full", "located", "inverted", "upscaled", "zbar")  # passes that read an image unfiltered
LOCATE_COST = 2  # OpenCV's 1-D detector takes about one to one and a half zxing-cpp readings' time
MOST_LOCATED = 3  # the 1-D codes the detector found that are read, the largest first
LOCATED_PX = 480  # the width a located code is brought to, at least: zxing-cpp's 1-D readers want 2+ pixels a module
ANGLE_BINS = 60  # 3 degrees a bin
CROSSED_SHARE = 0.1  # gradient strength across a region's strongest direction, as a share of it, under which it holds a 1-D
# code's bars alone: no 2-D pass there (1-D codes' regions: 0.05 typically; a QR code smeared by a hand's motion: 0.14 and up)
BAR_SHARE = 0.25  # the share of gradient strength within 4.5 degrees of the peak that says "1-D code" (even: 0.05)
MOTION_ANISOTROPY = 0.6  # gradient energy across a hand's motion at most this share of that along it: a motion blur
MOTION_PX = 6  # the line a region is sharpened along, in the region's (upscaled) pixels
MOTION_SHARES = (1.0, 1.2)  # the lengths of a hand's motion undone in a 2-D code's region: of the one its edges show
MOTION_LEAST_PX = 3  # a shorter motion is no blur to undo
STRETCH_PX = 9  # the window of the local darkest and lightest a region is stretched between
SMOOTH_SIGMA = 1.0  # the Gaussian a region is smoothed with: a phone screen's moire, finer than a module, fades
UPSCALED_MOST_PX = 640  # regions read by the 2-D passes at twice their size too: a dense QR code's modules under 3 pixels
UNBLUR_PX = (5, 7)  # the lengths of a hand's motion across a 1-D code's bars that are undone, in the region's pixels
DEFOCUS_SHARES = (1.0, 0.8, 1.2)  # the radii of a lens's defocus undone across a 1-D code's bars: of the one its edges show
DEFOCUS_GAIN = 1.1  # the radius undone in a 2-D code's region, as a share of the one its edges show (which runs low)
DEFOCUS_LEAST_PX = 1.5  # a smaller radius is no defocus to undo (a sharp region's edges show about 1)
UNBLUR_NOISE = 0.02  # the Wiener filter's noise-to-signal ratio: how far it trusts the frequencies a motion nearly erased
EAN8_MODULES = 67  # an EAN-8's modules, guard to guard
EAN13_MODULES = 95  # an EAN-13's (a UPC-A's) modules, guard to guard
UNRESOLVED_MODULES = 1.0  # a defocus disc's radius, in modules, from which an EAN/UPC read's bars are barely resolved
QUIET_ZONE_MODULES = 11  # an EAN/UPC's widest quiet zone (an EAN-13's left), in modules
QUIET_MODULES = 6  # of an EAN-8's 7-module quiet zone, how far beyond its guards the paper must be quiet
QUIET_SHARE = 0.5  # the swing beyond an EAN-8's guards, as a share of the swing across its bars, that is bars
THIN_SHARE = 4  # a 1-D read on this share or less of the scan lines of another text read in its place is a misread of them
STRIP_ROWS = 16  # rows a strip of an EAN/UPC read's place is read in: zxing-cpp keeps a 1-D text two rows agree on
SHARE_ROWS = 5  # scan lines a share of a defocus is undone on: DEFOCUS_SHARES of them stacked are the 15 lines zxing-cpp's
# fast 1-D reading scans


Transform = Callable[[Corners], Corners]


def _same(corners: Corners) -> Corners:
    return corners


def valid(read: Read, expect: str | None = None) -> bool:
    """Whether ``read`` passes the checks its content allows; ``expect`` a kind from codes.KINDS."""
    if read.symbology in RETAIL:  # the symbol's own check digit: a price check digit is a store's rule, not the symbol's
        if codes.gs1.SYMBOLOGIES.get(len(read.text)) != read.symbology or not read.text.isdigit() \
                or read.text[-1] != codes.gs1.check_digit(read.text[:-1]):
            return False
    kind = codes.classify(read.text).kind
    if kind in ("emv-mpm", "emv-cpm") and read.symbology in (*LINEAR, *WEAK):
        return expect is None  # EMV payloads come in QR codes only: a Code 128 or Code 39 of "00..." is some other text
    if kind in ("emv-mpm", "emv-cpm", "wallet-paycode"):
        try:
            codes.parse(read.text)
        except CodeError:
            return False
    return expect is None or kind == expect


class Cascade:
    """Reads every code in a frame, trying cheap passes before expensive ones."""

    name = "cascade"

    def __init__(self, *, expect: str | None = None, budget_px: int = DEFAULT_BUDGET_PX,
                 charset: str | None = None) -> None:
        import zxingcpp

        self._zxing = decoders.ZxingDecoder(charset=charset)  # a 2-D code that names no charset: read in it if it can
        retail = [getattr(zxingcpp.BarcodeFormat, f) for f in ("EAN13", "EAN8", "UPCA")]
        linear = [*retail, zxingcpp.BarcodeFormat.Code128]
        self._retail = zxingcpp.BarcodeFormats(retail)
        self._linear = zxingcpp.BarcodeFormats(linear)
        matrix = [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode]
        self._matrix = zxingcpp.BarcodeFormats(matrix)
        self._formats = zxingcpp.BarcodeFormats([*matrix, *linear])
        as_seen_only = [getattr(zxingcpp.BarcodeFormat, f) for f in ("DataMatrix", "PDF417", "Aztec", "DataBar",
                                                                     "DataBarLimited", "DataBarExpanded")]
        weak = [getattr(zxingcpp.BarcodeFormat, f) for f in ("UPCE", "Code39", "Code93", "ITF", "Codabar")]
        self._weak = zxingcpp.BarcodeFormats([*linear, *weak])  # what a weak read's place is read again for
        self._as_seen = zxingcpp.BarcodeFormats([*matrix, *linear, *as_seen_only, *weak])
        self._zbar = decoders.load("zbar")
        self._locator = cv2.barcode.BarcodeDetector()
        self.expect = expect
        self.budget_px = budget_px

    def decode(self, image: np.ndarray) -> list[Read]:
        started = time.perf_counter()
        frame = gray(image)
        found: dict[tuple[str, str], Read] = {}
        met: list[tuple[str, Corners]] = []  # every valid 1-D text of an earlier pass, kept or not, where it was in the frame
        for stage, seen, reads, back in self._passes(frame, found):
            earlier = list(met)
            met += [(read.text, back(read.corners)) for read in reads if read.symbology in LINEAR and valid(read)]
            for read in reads:
                key = (read.symbology, read.text)
                if key in found or read.symbology not in SYMBOLOGIES or not valid(read, self.expect):
                    continue
                if any(_check_strength(other) > _check_strength(read) and _about(_centre(read.corners), other.corners)
                       and valid(other) for other in reads):
                    continue  # a misread of part of a code whose checks are stronger (a UPC-A in a Code 128's bars)
                if read.symbology == "microqr" and stage not in AS_SEEN:
                    continue  # a filter's Micro QR: M1-M2 symbols detect errors, barely correct them (part of a QR code)
                if read.symbology == "ean8" and not _quiet(seen, read.corners):
                    continue  # bars run on past an EAN-8's guards: the middle of a longer code (a UPC-A's holds one)
                beside = [other for other in reads if other.symbology in LINEAR and other.text != read.text
                          and (_about(_centre(read.corners), other.corners) or _about(_centre(other.corners), read.corners))
                          ] if read.symbology in LINEAR else []
                if any(_lines(other.corners) >= THIN_SHARE * _lines(read.corners) for other in beside):
                    continue  # a few scan lines' misread beside the code many lines read (both in one pass of zxing-cpp)
                thin = {other.text for other in beside if THIN_SHARE * _lines(other.corners) <= _lines(read.corners)}
                place = back(read.corners)
                rivals = any(other.text not in {read.text, *thin} and _overlap(other.corners, read.corners) for other in reads) \
                    or any(text not in {read.text, *thin} and _overlap(corners, place) for text, corners in earlier)
                if read.symbology in WEAK and (stage not in AS_IS or rivals or not self._confirmed(seen, read)):
                    continue  # read off the frame as it is only, as zxing-cpp alone reads them, and confirmed
                if self._disputed(seen, read, stage, rivals, thin):
                    continue
                found[key] = replace(read, corners=back(read.corners), decoder=f"{self.name}:{stage}")
        ms = (time.perf_counter() - started) * 1000  # reported, never a reason to stop
        return [replace(read, ms=ms) for read in found.values() if not _within_stronger(read, found.values())]

    def _passes(self, frame: np.ndarray, found: dict) -> Iterator[tuple[str, np.ndarray, list[Read], Transform]]:
        """(stage, the image the reads are in, the reads, the map of their corners to the frame),
        while the pixels read stay within the budget. Once something is ``found``, only the candidate
        regions that hold no read yet are read (another code may be there), and then no more. The
        full pass is paid for from the start (``reserved``): no pass before it can spend its share."""
        spent = 0
        reserved = frame.size * FULL_COST  # zxing-cpp's own full pass is always paid for: what it reads, the cascade reads

        def afford(image: np.ndarray, cost: int = 1) -> bool:
            nonlocal spent
            spent += image.size * cost
            return spent + reserved <= self.budget_px

        afford(frame)
        yield "fast", frame, self._zxing.read(frame, formats=self._as_seen, fast=True), _same
        candidates, ways = [], []  # each made only when read: the one about a read made already is not
        for box, gradients in _candidates(frame):
            if not any(_holds(box, read.corners) for read in found.values()):
                ways.append(gradients())
                candidates.append(_Region.candidate(frame, box, ways[-1][0], upscaled=not found))
                if afford(candidates[-1].image):
                    yield "region", candidates[-1].image, self._read(candidates[-1].image, fast=True), candidates[-1].back
        if found:
            return
        barred = [region for region, (angle, _) in zip(candidates, ways) if angle is not None]  # a 1-D code's gradients
        squared = [region for region, (_, lone) in zip(candidates, ways) if not lone]  # not a 1-D code's bars alone: 2-D codes too
        regions = candidates  # nothing found: every one was made
        reserved = 0
        afford(frame, FULL_COST)  # its share, reserved so far, now spent
        yield "full", frame, self._zxing.read(frame, formats=self._as_seen), _same
        located: list[_Region] = []
        if not found and afford(frame, LOCATE_COST):
            located = [_Region.located(frame, corners) for corners in self._locate(frame)]
            for region in located:
                if not found and afford(region.image):
                    yield "located", region.image, self._read(region.image, fast=True, linear_only=True), region.back
            regions = candidates + located
        if not found and afford(frame):
            inverted = 255 - frame
            yield "inverted", inverted, self._read(inverted, fast=True, linear_only=True), _same
        for region in regions:
            if found:
                return  # the images below are not even made
            for stage, image in _variants(region.image):
                if not found and afford(image):
                    yield stage, region.image, self._read(image, fast=True), region.back
        for region in squared:  # nor the places OpenCV's 1-D detector found, nor a 1-D code's bars: they hold no 2-D code
            yield from self._matrix_passes(region, _matrix_cleaned(region.image), found, afford)
        radii = [region.defocus if not found else 0.0 for region in located + barred]
        focused = [(region, radius) for region, radius in zip(located + barred, radii) if radius >= DEFOCUS_LEAST_PX]
        yield from self._refocus_passes(focused, DEFOCUS_SHARES[:1], found, afford)  # the radius the edges show reads most
        blurred = [(region, region.defocus) for region in (squared if not found else ())]
        for region, radius in blurred:  # a 2-D code out of focus: its defocus undone
            if radius >= DEFOCUS_LEAST_PX and not found and afford(region.image, MATRIX_COSTS["refocused"]):
                refocused = _wiener(region.image, _disc(DEFOCUS_GAIN * radius))
                yield "refocused", region.image, self._zxing.read(refocused, formats=self._matrix, fast=True), region.back
        for region in squared:  # a 2-D code under a hand's motion: sharpened along it, and it undone
            yield from self._matrix_passes(region, _matrix_moving(region), found, afford)
        for region in barred:  # a hand's motion across a 1-D code's bars undone
            for length in UNBLUR_PX:
                if not found and afford(region.image, ROWS_COST):
                    yield "unblurred", region.image, self._read(_unblurred(region.image, length), fast=True, linear_only=True), region.back
        yield from self._refocus_passes(focused, DEFOCUS_SHARES[1:], found, afford)
        for region in regions:
            if not found and self._zbar is not None and afford(region.image, ZBAR_COST):
                yield "zbar", region.image, self._zbar.decode(region.image), region.back
        for region in squared:
            if not found and max(region.image.shape) <= UPSCALED_MOST_PX:
                larger = region.upscaled()
                yield from self._matrix_passes(larger, _matrix_variants(region, larger), found, afford, UPSCALED_COSTS)

    def _matrix_passes(self, region: _Region, images: Iterator[tuple[str, np.ndarray]], found: dict,
                       afford: Callable[[np.ndarray, int], bool], costs: dict[str, int] = MATRIX_COSTS,
                       ) -> Iterator[tuple[str, np.ndarray, list[Read], Transform]]:
        """``images`` of ``region`` read for 2-D codes, each made only when reached, while nothing is ``found`` and
        the budget lasts (each charged its stage's ``costs``)."""
        for stage, image in images:
            if found or not afford(image, costs.get(stage, 1)):
                return
            yield stage, region.image, self._zxing.read(image, formats=self._matrix, fast=True), region.back

    def _refocus_passes(self, focused: list[tuple[_Region, float]], shares: tuple[float, ...], found: dict,
                        afford: Callable[[np.ndarray, int], bool]) -> Iterator[tuple[str, np.ndarray, list[Read], Transform]]:
        """Each region of a 1-D code out of focus (with the defocus radius its edges show) with ``shares`` of that
        defocus undone across its bars, while nothing is ``found`` and the budget lasts."""
        for region, radius in focused:
            for share in shares:
                if not found and afford(region.image, ROWS_COST):
                    refocused = _refocused(region.image, share * radius)
                    yield "refocused", region.image, self._read(refocused, fast=True, linear_only=True), region.back

    def _locate(self, frame: np.ndarray) -> list[np.ndarray]:
        """The corners of the 1-D codes OpenCV's detector finds in ``frame``, the largest first."""
        ok, corners = self._locator.detect(frame)
        if not ok or corners is None:
            return []
        return sorted(corners, key=lambda c: -cv2.contourArea(c.astype(np.float32)))[:MOST_LOCATED]

    def _disputed(self, image: np.ndarray, read: Read, stage: str, rivals: bool, thin: set[str]) -> bool:
        """Whether a second, independent reading of the place of a 1-D read disagrees with it, or
        fails to agree with a weak one.

        A 1-D code carries one check character: an EAN/UPC misread passes its mod-10 check digit
        one time in ten, a Code 128 misread its mod-103 one far less. An EAN/UPC read's place is first
        read strip by strip (``_strip_texts``): a second text there refuses it. The place is read again with
        zxing-cpp's other binariser, then with libzbar. A different text (and not the read's own)
        refuses the read, unless libzbar, asked when zxing-cpp's other binariser reads another text, reads the read's
        own on many lines (that binariser misread a long Code 128 zxing-cpp alone read right, photo seed 257 frame
        553: two readers agree). No text refuses only a weak read: an EAN-8, a Code 128 shorter than
        STRONG_CODE128, a read with ``rivals`` (another text in the same place, in the same pass),
        any 1-D read off a preprocessed image, or libzbar's read on fewer than ZBAR_LINES of its
        scan lines (libzbar's misreads were seen on one to four), unless zxing-cpp reads the read's
        text, and no other, in another image of the place: the place sharpened, binarised or
        equalised (not the image the read was made in). An EAN/UPC read made where zxing-cpp alone does not look (a
        region, the detector's places, preprocessed images) whose place is out of focus (its edges show a disc of
        DEFOCUS_LEAST_PX or more) is read with that defocus undone (at each of DEFOCUS_SHARES of it: a steep EAN-13 read
        as a UPC-A, held-out hand-held seed 433 frame 455, read right only at 0.8), and another text there refuses it (an EAN-13
        blurred to a UPC-A that passes its check; reads on the frame itself are zxing-cpp's own, kept as before). An EAN/UPC read that nothing confirmed is
        looked at in those images too, and a different text there refuses it (faded print and noise
        gave zxing-cpp EAN-13 misreads that these images read right). Looking there at every
        EAN/UPC read, confirmed too, was tried: it refused true reads zxing-cpp alone keeps. A read
        with a hand's motion or a defocus undone (``RESTORED``) is kept only when its place, undone at each length or
        radius, read strip by strip (any 1-D symbology), reads its text and no other; and, an EAN/UPC read, when
        libzbar reads no other EAN/UPC text in those images on more scan lines than it reads the read's. The ``thin`` texts, read
        in the same pass on a few of the scan lines that read this one (THIN_SHARE), dispute nothing anywhere. Where an
        EAN/UPC read's bars are barely resolved (``_unresolved``: a defocus disc of a module's radius or more) the other
        binariser's agreement is no second reading (it repeated zxing-cpp's UPC-A misread of an EAN-13 out of focus at
        two pixels a module, hand-held seed 661 frame 631): the place sharpened, binarised and equalised is read in its
        stead, and libzbar, and the read is kept only where one of them reads its text (hand-held seed 709 frame 541: a
        UPC-A misread nothing else read, refused; the sharpened region then read the EAN-13). A read of zxing-cpp's own
        (the frame as it is) on bars so blurred is read again on the scan lines across its bars with their defocus
        undone (``_refocused_lines``): another EAN/UPC text there refuses it (hand-held seed 743 frame 735, a UPC-A
        whose sharpened place repeated the misread; its focus restored, the lines read the right UPC-A).
        """
        if read.symbology not in LINEAR:
            return False
        crop = _around(image, read.corners)
        span = _spanned(image, read.corners, crop)
        if read.symbology in RETAIL and self._strip_texts(crop, read.corners, span) - {read.text, *thin}:
            return True
        # how blurred the bars of zxing-cpp's own reading of the frame are, in modules (other stages: below, when asked)
        blur = _bars_defocus(image, read) if read.symbology in RETAIL and stage in AS_IS else 0.0
        unresolved = blur >= UNRESOLVED_MODULES
        if unresolved and self._refocused_lines(image, read, blur) - {read.text, *thin}:
            return True  # on bars barely resolved, the scan lines read one text; with their focus restored, another
        if read.symbology in RETAIL and stage not in (*AS_IS, *RESTORED):  # not zxing-cpp's own reading
            radius = _defocus_radius(crop)
            if radius >= DEFOCUS_LEAST_PX and {r.text for share in DEFOCUS_SHARES for r in self._zxing.read(
                    _refocused(crop, share * radius), formats=self._retail, fast=True)} - {read.text, *thin}:
                return True  # out of focus, the bars read one text; their focus restored (at any of the radii tried), another
        if stage in RESTORED and rivals:
            return True  # a filter's invention, where another text was read: no second reading settles it
        if stage in RESTORED:  # every kernel's image of the place, strip by strip, reads the read's text and no other,
            # and the place sharpened, binarised and equalised reads no other (a defocus undone, a UPC-A misread of a
            # steep, small EAN-13 at every radius that the sharpened place read right)
            restored = RESTORED[stage](crop)
            if set().union(*(self._strip_texts(each, read.corners, linear=True) for each in restored)) - thin != {read.text}:
                return True
            if read.symbology in RETAIL and self._zbar is not None:  # libzbar's reading of those images
                lines = {}  # text: the most scan lines that read it in one image
                for other in (other for each in restored for other in self._zbar.decode(each)
                              if other.symbology in RETAIL and _check_strength(other) >= _check_strength(read)):
                    lines[other.text] = max(lines.get(other.text, 0), other.lines)
                if max((count for text, count in lines.items() if text not in {read.text, *thin}), default=0) > lines.get(read.text, 0):
                    return True  # libzbar reads another EAN/UPC there, on more lines than the read's: a half the filter made up
            return bool(set().union(*self._variant_texts(crop, stage)) - {read.text, *thin})
        texts = {r.text for r in self._zxing.read(crop, formats=self._linear, fast=True, binarizer="global")} - thin
        if read.symbology in RETAIL and read.text in texts and (unresolved if stage in AS_IS else _unresolved(image, read)):
            # the other binariser repeats a misread of bars barely resolved: another reading must agree
            return not (self._variant_agrees(crop, read, stage, span, thin)
                        or (stage != "zbar" and self._zbar is not None
                            and read.text in {r.text for r in self._zbar.decode(crop) if r.lines >= ZBAR_LINES}))
        if read.text not in texts and self._zbar is not None and stage != "zbar":  # none, or another text: libzbar too
            texts |= {r.text for r in self._zbar.decode(crop) if r.lines >= ZBAR_LINES} - thin  # a misread on a few lines refuses nothing
        if texts:
            return read.text not in texts
        strength = _check_strength(read)
        # libzbar's Code 128 misreads pass its check, but on a few scan lines: a text many lines read is its own second reading
        weak = rivals or stage in PREPROCESSED or (stage == "zbar" and read.lines < ZBAR_LINES) or strength == 0
        if not weak and strength == 2:
            return False  # a long Code 128: its mod-103 check makes a lone read safe
        others = set().union(*self._variant_texts(crop, stage)) - thin
        return others != {read.text} if weak else bool(others - {read.text})

    def _refocused_lines(self, image: np.ndarray, read: Read, blur: float) -> set[str]:
        """The EAN/UPC texts zxing-cpp reads on the SHARE_ROWS scan lines across the middle of ``read``'s bars in
        ``image``, its quiet zones too (``_scan_lines``), with a defocus of ``blur`` modules' radius undone across the
        bars at each of DEFOCUS_SHARES of it: the lines stacked, a share each, and read once (its 15 scan lines)."""
        lines, radius = _scan_lines(image, read, QUIET_ZONE_MODULES, SHARE_ROWS), blur * _module(read)
        half = math.ceil(max(DEFOCUS_SHARES) * radius)
        spreads = np.repeat([_spread(share * radius, half) for share in DEFOCUS_SHARES], len(lines), axis=0)
        stacked = _wiener_rows(np.vstack([lines] * len(DEFOCUS_SHARES)), spreads)
        return {r.text for r in self._zxing.read(stacked, formats=self._retail, fast=True)}

    def _variant_agrees(self, crop: np.ndarray, read: Read, stage: str, lines: tuple[int, int], thin: set[str]) -> bool:
        """Whether one of the images of an EAN/UPC read's place ``crop`` sharpened, binarised and equalised
        (``_variants``, but the one the read was made in) reads its text and, read strip by strip across its scan
        ``lines`` (``_strip_texts``), no other EAN/UPC text but the ``thin`` ones: on bars barely resolved and moving,
        the place sharpened read a UPC-A misread whole, and strip by strip the right UPC-A beside it (hand-held seed 857
        frame 241). The whole image is read first: strip by strip, no strip of a real photo's EAN-13 on bars as blurred
        read its text (zxing's ean13-4/15.png)."""
        return any(name != stage and read.text in {r.text for r in self._zxing.read(other, formats=self._linear, fast=True)}
                   and not self._strip_texts(other, read.corners, lines) - {read.text, *thin} for name, other in _variants(crop))

    def _variant_texts(self, crop: np.ndarray, stage: str) -> Iterator[set[str]]:
        """The 1-D texts zxing-cpp reads in each image of a read's place sharpened, binarised and equalised
        (``_variants``), but the one the read was made in: each image made and read only when reached."""
        for name, other in _variants(crop):
            if name != stage:
                yield {r.text for r in self._zxing.read(other, formats=self._linear, fast=True)}

    def _confirmed(self, image: np.ndarray, read: Read) -> bool:
        """Whether a read of a weak symbology (``WEAK``: UPC-E's short symbol, Code 39, Code 93, ITF and Codabar, one
        weak check or none, which clutter and noise read as) passes its length rule and a second reading of its place
        agrees with it: libzbar, or zxing-cpp with its other binariser, reads its text there, and no reading there
        reads another 1-D text. A UPC-E only libzbar confirms: zxing-cpp's other binariser repeats its UPC-E misreads
        of half an EAN-13 (photo seed 613 frame 390, under glare at a steep angle)."""
        if not _weak_rule(read):
            return False
        crop = _around(image, read.corners)
        zbar = {r.text for r in self._zbar.decode(crop) if r.symbology in (*LINEAR, *WEAK)} if self._zbar is not None else set()
        zxing = {r.text for r in self._zxing.read(crop, formats=self._weak, fast=True, binarizer="global")}
        agree = zbar if read.symbology == "upce" else zbar | zxing
        return any(_same_code(text, read.text) for text in agree) and all(_same_code(text, read.text) for text in zbar | zxing)

    def _strip_texts(self, crop: np.ndarray, corners: Corners, lines: tuple[int, int] | None = None, *,
                     linear: bool = False) -> set[str]:
        """The EAN/UPC texts (every 1-D one when ``linear``) zxing-cpp reads in ``crop`` (a read's place), a strip of
        STRIP_ROWS scan lines at a time across the bars: from a strip before the first of the read's scan ``lines``
        (``_spanned``) to a strip past the last, or the whole place. On a whole image zxing-cpp returns the first text two scan lines
        agree on and looks no further there; under strong perspective the rows where the bars are
        narrowest agreed on a misread that passed its check digit (a UPC-A in an EAN-13 whose first
        digit is 6, damage seed 89 frame 1776) while other rows read the code right. Read strip by
        strip, the place shows every text its rows hold: more than one is a misread among them. Beyond the read's lines
        the strips read nothing but misreads of true reads on the tuned seeds (hand-held 743, 877): a second text is
        looked for on its lines; a blur undone must read the read's text somewhere in the place."""
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        across = crop if max(xs) - min(xs) >= max(ys) - min(ys) else np.ascontiguousarray(crop.T)  # scan lines run along rows
        first, last = (lines[0] - STRIP_ROWS, lines[1] + STRIP_ROWS) if lines else (0, across.shape[0])
        return {r.text for top in range(max(0, first), min(last + 1, across.shape[0]), STRIP_ROWS)
                for r in self._zxing.read(across[top : top + STRIP_ROWS], formats=self._linear if linear else self._retail, fast=True)}

    def _read(self, image: np.ndarray, *, fast: bool, linear_only: bool = False) -> list[Read]:
        return self._zxing.read(image, formats=self._linear if linear_only else self._formats, fast=fast)


def _holds(box: tuple[int, int, int, int], corners: Corners) -> bool:
    """Whether a region's ``box`` (x, y, w, h) is about the code at ``corners`` (in the frame): its centre is within
    the code's bounding box grown by a quarter each way."""
    x, y, w, h = box
    return _about((x + w / 2, y + h / 2), corners)


def _check_strength(read: Read) -> int:
    """How unlikely a misread of ``read``'s symbology passes its checks: a 2-D code's Reed-Solomon
    code, a long Code 128's mod-103 character, an EAN-13's (a UPC-A's) mod-10 digit, then EAN-8 and short Code 128,
    then the weak symbologies."""
    if read.symbology in WEAK:
        return -1
    if read.symbology not in LINEAR:
        return 3
    if read.symbology == "code128":
        return 2 if len(read.text) >= STRONG_CODE128 else 0
    return 1 if read.symbology in ("ean13", "upca") else 0


def _within_stronger(read: Read, found) -> bool:
    """Whether ``read`` lies in the place of a read it is part of, made in any pass: a 1-D read in another's of
    stronger checks (a scan line across a tilted UPC-A's bars reads an EAN-8 there), a Micro QR in a QR code's
    (a QR code's finder pattern and the modules beside it make a Micro QR symbol: an inverted token read "6846")."""
    if read.symbology == "microqr":
        return any(other.symbology == "qr" and _about(_centre(read.corners), other.corners) for other in found)
    return read.symbology in (*LINEAR, *WEAK) and any(
        other.symbology in (*LINEAR, *WEAK) and _check_strength(other) > _check_strength(read)
        and _about(_centre(read.corners), other.corners) for other in found)


def _weak_rule(read: Read) -> bool:
    """The length and check rules a retail scanner applies to a weak symbology: a UPC-E (zxing-cpp gives it expanded, 13
    digits) passes its check digit; an ITF-14 its GS1 check digit, an ITF of another length has ITF_LEAST digits."""
    text = read.text
    if read.symbology == "upce" or (read.symbology == "itf" and len(text) == ITF14):
        return text.isdigit() and text[-1] == codes.gs1.check_digit(text[:-1])
    return read.symbology != "itf" or len(text) >= ITF_LEAST


def _same_code(text: str, other: str) -> bool:
    """Whether two reads are of the same text: a UPC-E that zxing-cpp gives as a GTIN-13 and libzbar as a UPC-A are."""
    short, long = sorted((text, other), key=len)
    return text == other or (len(long) == 13 and long.isdigit() and long == "0" + short)


def _quiet(image: np.ndarray, corners: Corners) -> bool:
    """Whether the paper beyond each end of the EAN-8 read at ``corners`` is quiet for QUIET_MODULES of its modules:
    no swing there of more than QUIET_SHARE of the swing across its bars. The scan line runs between the middles of
    two opposite sides, the pair across which the image goes between dark and light most often and
    most deeply (the bars). The middle 67
    modules of every UPC-A and of many EAN-13s make an EAN-8 whose guards are parts of the digits beside them; one
    in ten passes its check digit. Where the image ends before the quiet zone does, what is there is judged."""
    points = [np.array(p, np.float32) for p in corners]
    best: tuple[float, np.ndarray, np.ndarray, float] | None = None
    for a, b, c, d in ((0, 3, 1, 2), (0, 1, 3, 2)):  # left and right ends; top and bottom ends
        start, end = (points[a] + points[b]) / 2, (points[c] + points[d]) / 2
        length = float(np.linalg.norm(end - start))
        if length < EAN8_MODULES:
            continue
        inside = _profile(image, start, end, np.arange(0, length + 1, dtype=np.float32) / length)
        swing = float(np.ptp(inside)) if inside.size else 0.0
        across = _edges(inside) * swing  # many edges of a full swing: noise along a bar has many of a small one
        if best is None or across > best[0]:
            best = (across, start, end, swing)
    if best is None:
        return True  # too short to measure: the other checks decide
    _, start, end, swing = best
    length = float(np.linalg.norm(end - start))
    along, module = (end - start) / length, length / EAN8_MODULES
    beyond = np.arange(1, QUIET_MODULES * module + 1, dtype=np.float32) / (QUIET_MODULES * module)
    for near, far in ((end + along * module / 2, end + along * QUIET_MODULES * module),
                      (start - along * module / 2, start - along * QUIET_MODULES * module)):
        outside = _profile(image, near, far, beyond)
        if outside.size > 2 and float(np.ptp(outside)) > QUIET_SHARE * swing:
            return False
    return True


def _edges(profile: np.ndarray) -> int:
    """How many times ``profile`` goes from dark to light or back: from below a quarter of its swing under its middle
    to above a quarter over it (noise along a bar crosses the middle often, but not both marks)."""
    if profile.size < 2:
        return 0
    middle, swing = (float(profile.max()) + float(profile.min())) / 2, float(np.ptp(profile))
    marks = np.where(profile > middle + swing / 4, 1, np.where(profile < middle - swing / 4, -1, 0))
    marks = marks[marks != 0]
    return int(np.count_nonzero(np.diff(marks)))


def _profile(image: np.ndarray, start: np.ndarray, end: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The image's values along the line from ``start`` to ``end`` at ``steps`` (shares of the way), within the
    image, averaged over three parallel lines a pixel apart (noise)."""
    points = start[None, :] + steps[:, None] * (end - start)[None, :]
    inside = (points[:, 0] >= 0) & (points[:, 0] <= image.shape[1] - 1) & (points[:, 1] >= 0) & (points[:, 1] <= image.shape[0] - 1)
    points = points[inside]
    if not len(points):
        return np.zeros(0, np.float32)
    direction = (end - start) / max(float(np.linalg.norm(end - start)), 1e-6)
    normal = np.array([-direction[1], direction[0]], np.float32)
    shifts = np.array([-1, 0, 1], np.float32)[:, None]  # the three lines, remapped at once
    rows = cv2.remap(image, (points[:, 0] + shifts * normal[0]).astype(np.float32),
                     (points[:, 1] + shifts * normal[1]).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.mean(rows, axis=0, dtype=np.float32)


def _lines(corners: Corners) -> float:
    """How many scan lines a 1-D read's place spans: zxing-cpp's corners run along its first scan line, then back
    along its last."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = corners
    return (math.hypot(x3 - x0, y3 - y0) + math.hypot(x2 - x1, y2 - y1)) / 2 + 1


def _overlap(a: Corners, b: Corners) -> bool:
    """Whether the bounding boxes of two reads' corners meet."""
    (ax, ay), (bx, by) = zip(*a), zip(*b)
    return min(ax) <= max(bx) and min(bx) <= max(ax) and min(ay) <= max(by) and min(by) <= max(ay)


def _about(point: tuple[float, float], corners: Corners) -> bool:
    """Whether ``point`` is within the bounding box of ``corners`` grown by a quarter and 8 pixels each way."""
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    grow_x, grow_y = (max(xs) - min(xs)) / 4 + 8, (max(ys) - min(ys)) / 4 + 8
    return min(xs) - grow_x <= point[0] <= max(xs) + grow_x and min(ys) - grow_y <= point[1] <= max(ys) + grow_y


def _centre(corners: Corners) -> tuple[float, float]:
    return sum(x for x, _ in corners) / len(corners), sum(y for _, y in corners) / len(corners)


def _around(frame: np.ndarray, corners: Corners, most_px: int = 500) -> np.ndarray:
    """The region of ``corners`` with a margin (1-D corners may be a line), at most ``most_px`` across."""
    crop = frame[_window(corners)]
    factor = most_px / max(crop.shape)
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else crop


def _window(corners: Corners) -> tuple[slice, slice]:
    """The rows and columns of a frame ``_around`` cuts out for ``corners``: their box and a margin."""
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    width, height = max(xs) - min(xs), max(ys) - min(ys)
    mx, my = width * 15 // 100 + 10, max(height, width) * 3 // 10 + 10
    return slice(max(0, min(ys) - my), max(ys) + my), slice(max(0, min(xs) - mx), max(xs) + mx)


def _spanned(frame: np.ndarray, corners: Corners, crop: np.ndarray) -> tuple[int, int]:
    """The scan lines of ``crop`` (``_around`` of ``corners`` in ``frame``; its rows, or its columns where the bars run
    across the frame's rows) that a 1-D read at ``corners`` spans: first and last."""
    rows, columns = _window(corners)
    scale = crop.shape[0] / frame[rows, columns].shape[0]  # below 1 where the place was brought down to ``_around``'s size
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    if max(xs) - min(xs) >= max(ys) - min(ys):
        return math.floor((min(ys) - rows.start) * scale), math.ceil((max(ys) - rows.start) * scale)
    return math.floor((min(xs) - columns.start) * scale), math.ceil((max(xs) - columns.start) * scale)


def _unresolved(image: np.ndarray, read: Read) -> bool:
    """Whether the bars of an EAN/UPC read are barely resolved in ``image``: the disc of the lens's defocus their edges
    show (``_bars_defocus``) has a radius of a module or more, so a one-module bar or space is spread over its neighbours
    on both sides and a one-module error in a digit's widths reads as another digit, which the mod-10 check passes one
    time in ten."""
    return _bars_defocus(image, read) >= UNRESOLVED_MODULES


def _bars_defocus(image: np.ndarray, read: Read) -> float:
    """The radius, in modules, of the disc of the lens's defocus that the edges of the STRIP_ROWS scan lines across the
    middle of an EAN/UPC read's bars show in ``image`` (``_defocus_radius``)."""
    return _defocus_radius(_scan_lines(image, read)) / _module(read)


def _module(read: Read) -> float:
    """The width of an EAN/UPC read's module, in pixels: its length over its modules, guard to guard."""
    return math.dist(read.corners[0], read.corners[1]) / (EAN8_MODULES if read.symbology == "ean8" else EAN13_MODULES)


def _scan_lines(image: np.ndarray, read: Read, beyond: float = 0.0, rows: int = STRIP_ROWS) -> np.ndarray:
    """The ``rows`` scan lines across the middle of an EAN/UPC read's bars in ``image``, reaching ``beyond`` of its
    modules past each end, as the rows of the image returned (turned when they run down ``image``'s columns)."""
    (cx, cy), top = _centre(read.corners), rows // 2
    xs, ys = [x for x, _ in read.corners], [y for _, y in read.corners]
    reach = round(beyond * _module(read))
    if max(xs) - min(xs) >= max(ys) - min(ys):
        return image[max(0, round(cy) - top) : round(cy) - top + rows, max(0, min(xs) - reach) : max(xs) + reach + 1]
    return np.ascontiguousarray(image[max(0, min(ys) - reach) : max(ys) + reach + 1, max(0, round(cx) - top) : round(cx) - top + rows].T)


def _candidates(frame: np.ndarray, most: int = 3) -> list[tuple[tuple[int, int, int, int], Callable[[], tuple[float | None, bool]]]]:
    """Where codes likely are, found on a reduced frame where strong gradients are dense: boxes (x, y, w, h), each
    with the way its gradients run (``_bar_angle``, worked out when asked: the angle that turns the bars of a 1-D code
    upright, None for a 2-D code, clutter; and whether they run one way alone, a 1-D code's bars: no 2-D code there)."""
    scale = 4 if frame.shape[1] > 960 else 2
    small = cv2.resize(frame, (frame.shape[1] // scale, frame.shape[0] // scale), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    energy = cv2.convertScaleAbs(cv2.blur(np.abs(gx) + np.abs(gy), (5, 5)))
    _, mask = cv2.threshold(energy, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:most]:
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < 64:
            continue
        pad = max(w, h) // 4 + 2
        x0, y0 = max(0, x - pad), max(0, y - pad)
        x1, y1 = min(small.shape[1], x + w + pad), min(small.shape[0], y + h + pad)
        found.append(((x0 * scale, y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale),
                      partial(_bar_angle, gx[y : y + h, x : x + w], gy[y : y + h, x : x + w])))
    return found


def _bar_angle(gx: np.ndarray, gy: np.ndarray) -> tuple[float | None, bool]:
    """Degrees to turn a region so its strongest shared gradient direction runs horizontally (a 1-D
    code's bars upright), when one direction stands out as a 1-D code's does (0 within 5 degrees of
    upright); None when none does (a QR code, clutter). The direction is the peak of a histogram of gradient directions weighted
    by strength, which noise and clutter around a code spread but do not move. And whether that direction stands
    alone: the one across it has at most CROSSED_SHARE of its strength (a 1-D code's bars; a QR code's modules have
    edges both ways, as strong)."""
    weight = (gx * gx + gy * gy).ravel()
    bins = np.floor(np.arctan2(gy, gx).ravel() * (ANGLE_BINS / np.pi)).astype(np.intp)  # 3-degree bins of -180..180
    bins %= ANGLE_BINS  # a direction and its opposite are one: the histogram over 0-180 degrees
    counts = np.bincount(bins, weights=weight, minlength=ANGLE_BINS)
    smooth = counts + np.roll(counts, 1) + np.roll(counts, -1)  # a peak split between two bins
    peak = int(np.argmax(smooth))
    if smooth[peak] < BAR_SHARE * counts.sum():
        return None, False
    lone = bool(smooth[(peak + ANGLE_BINS // 2) % ANGLE_BINS] <= CROSSED_SHARE * smooth[peak])
    angle = (peak + 0.5) * 180 / ANGLE_BINS
    angle = angle - 180 if angle > 90 else angle
    return (angle if abs(angle) > 5 else 0.0), lone


class _Region:
    """A part of the frame cut out as an image of its own (upright, upscaled when small), and the
    map of its points back to the frame: ``matrix`` takes frame points to the image's."""

    def __init__(self, image: np.ndarray, matrix: np.ndarray) -> None:
        self.image, self.matrix = image, matrix
        self._unblurred: dict[int, np.ndarray] = {}

    @cached_property
    def motion(self) -> float | None:
        """The direction of a hand's motion its gradients show (``_motion``), worked out once."""
        return _motion(self.image)

    @cached_property
    def defocus(self) -> float:
        """The radius of the lens's defocus its edges show (``_defocus_radius``), worked out once: a region of a 1-D
        code's bars that a 2-D code's edges could make is looked at as both."""
        return _defocus_radius(self.image)

    @cached_property
    def motion_length(self) -> float:
        """The length of that motion its sharpest edges show (``_motion_length``), worked out once."""
        return _motion_length(self.image, self.motion) if self.motion is not None else 0.0

    def unblurred(self, length: int) -> np.ndarray:
        """This region with a hand's motion of ``length`` pixels along ``motion`` undone (``_unblurred``), made once:
        the 2-D passes at the region's size and at twice it read the same image."""
        if length not in self._unblurred:
            self._unblurred[length] = _unblurred(self.image, length, self.motion)
        return self._unblurred[length]

    @classmethod
    def candidate(cls, frame: np.ndarray, box: tuple[int, int, int, int], angle: float | None, *,
                  upscaled: bool = True) -> _Region:
        """The box (x, y, w, h), upscaled when small (and ``upscaled``) and turned by ``angle`` degrees on a canvas that
        holds it all."""
        x, y, w, h = box
        crop = frame[y : y + h, x : x + w]
        factor = max(1.0, min(4.0, 400 / max(w, h))) if upscaled else 1.0
        if factor > 1.0:
            crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        matrix = np.array([[factor, 0, -x * factor], [0, factor, -y * factor], [0, 0, 1]])
        if not angle:
            return cls(crop, matrix)
        ch, cw = crop.shape
        turn = cv2.getRotationMatrix2D((cw / 2, ch / 2), angle, 1.0)
        cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
        size = (int(ch * sin + cw * cos), int(ch * cos + cw * sin))
        turn[0, 2] += size[0] / 2 - cw / 2
        turn[1, 2] += size[1] / 2 - ch / 2
        turned = cv2.warpAffine(crop, turn, size, flags=cv2.INTER_LINEAR, borderValue=255)
        return cls(turned, np.vstack([turn, [0, 0, 1]]) @ matrix)

    @classmethod
    def located(cls, frame: np.ndarray, corners: np.ndarray) -> _Region:
        """A 1-D code that OpenCV's detector found at ``corners`` (a turned rectangle), with a quiet
        zone's margin, its bars upright and at least LOCATED_PX pixels wide."""
        points = corners.astype(np.float32)
        if np.linalg.norm(points[2] - points[1]) > np.linalg.norm(points[1] - points[0]):
            points = np.roll(points, -1, axis=0)  # the long side (across the bars) first
        across, along = points[1] - points[0], points[3] - points[0]
        length, height = float(np.linalg.norm(across)), float(np.linalg.norm(along))
        u, v = across / max(length, 1.0), along / max(height, 1.0)
        mx, my = length * 0.12 + 8, height * 0.1 + 4
        source = np.array([points[0] - u * mx - v * my, points[1] + u * mx - v * my,
                           points[2] + u * mx + v * my, points[3] - u * mx + v * my], np.float32)
        factor = max(1.0, LOCATED_PX / (length + 2 * mx))
        width, tall = round((length + 2 * mx) * factor), round((height + 2 * my) * factor)
        target = np.array([(0, 0), (width, 0), (width, tall), (0, tall)], np.float32)
        matrix = cv2.getPerspectiveTransform(source, target)
        return cls(cv2.warpPerspective(frame, matrix, (width, tall), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
                   matrix)

    def upscaled(self) -> _Region:
        """This region at twice its size."""
        return _Region(_twice(self.image), np.diag([2.0, 2.0, 1.0]) @ self.matrix)

    def back(self, corners: Corners) -> Corners:
        points = cv2.perspectiveTransform(np.array(corners, dtype=np.float32)[None], np.linalg.inv(self.matrix))[0]
        return tuple((round(float(px)), round(float(py))) for px, py in points)


def _twice(image: np.ndarray) -> np.ndarray:
    """``image`` at twice its size."""
    return cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)


def _motion(image: np.ndarray) -> float | None:
    """The direction of a hand's motion in ``image``, in degrees from its rows, when its gradients show one:
    where their energy is weakest (the structure tensor's smaller eigenvector), at most MOTION_ANISOTROPY of
    the strongest direction's; None otherwise."""
    gx, gy = cv2.Sobel(image, cv2.CV_32F, 1, 0), cv2.Sobel(image, cv2.CV_32F, 0, 1)
    xx, yy, xy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    spread = np.hypot((xx - yy) / 2, xy)
    across, along = (xx + yy) / 2 - spread, (xx + yy) / 2 + spread  # gradient energy least and most
    if along and across < MOTION_ANISOTROPY * along:
        return float(np.degrees(np.arctan2(2 * xy, xx - yy)) / 2 + 90)
    return None


def _matrix_variants(region: _Region, larger: _Region) -> Iterator[tuple[str, np.ndarray]]:
    """``larger`` (``region`` at twice its size) as it is, with a hand's motion undone, sharpened along that motion, and
    stretched between its local darkest and lightest, the filters twice as wide. The motion is undone at the region's
    size and that image brought to twice it (``_motions_undone``; the region's pass made it already: a Wiener filter of
    four times the pixels and a line twice as long took five to ten readings' time for the same image, its finest
    frequencies aside). Read for 2-D codes only: their Reed-Solomon code refuses what the filters make up, where a 1-D
    code's check digit would not; and in a 1-D code the bars, not a motion, decide which way the gradients run."""
    yield "upscaled", larger.image
    yield from ((stage, _twice(undone)) for stage, undone in _motions_undone(region, fixed=False))
    if larger.motion is not None:
        yield "deblurred", _sharpened_along(larger.image, larger.motion, 2)
    yield "stretched", _stretched(larger.image, 2)


def _matrix_moving(region: _Region) -> Iterator[tuple[str, np.ndarray]]:
    """``region`` sharpened along a hand's motion, then with it undone (Wiener filters), when its gradients show one;
    nothing otherwise. For 2-D codes."""
    if region.motion is not None:
        yield "deblurred", _sharpened_along(region.image, region.motion)
        yield from _motions_undone(region)


def _matrix_cleaned(image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """``image`` (a region) stretched between its local darkest and lightest (glare's wash lifts the dark modules, a
    burnt core aside), and smoothed (a phone screen's moire, finer than a module, fades). For 2-D codes."""
    yield "stretched", _stretched(image)
    yield "smoothed", cv2.GaussianBlur(image, (0, 0), SMOOTH_SIGMA)


def _sharpened_along(image: np.ndarray, degrees: float, scale: int = 1) -> np.ndarray:
    """``image`` sharpened along a hand's motion ``degrees`` from its rows: less a line of MOTION_PX (``scale`` times)."""
    length = MOTION_PX * scale
    line = np.zeros((length + 1, length + 1), np.float32)
    line[length // 2, :] = 1
    turn = cv2.getRotationMatrix2D((length / 2, length / 2), -degrees, 1.0)
    line = cv2.warpAffine(line, turn, line.shape[::-1], flags=cv2.INTER_LINEAR)
    smeared = cv2.filter2D(image, cv2.CV_32F, line / line.sum(), borderType=cv2.BORDER_REPLICATE)
    return np.clip(3.0 * image - 2.0 * smeared, 0, 255).astype(np.uint8)


def _stretched(image: np.ndarray, scale: int = 1) -> np.ndarray:
    """``image`` stretched between its darkest and lightest in a window of STRETCH_PX (``scale`` times) about each pixel."""
    side = STRETCH_PX * scale
    window = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    dark = cv2.blur(cv2.erode(image, window), (side, side)).astype(np.float32)
    span = cv2.blur(cv2.dilate(image, window), (side, side)).astype(np.float32)
    span -= dark
    np.maximum(span, 8, out=span)
    stretched = np.subtract(image, dark, dtype=np.float32)  # in place from here: a region's float images are large
    stretched *= 255
    stretched /= span
    return np.clip(stretched, 0, 255, out=stretched).astype(np.uint8)


def _motions_undone(region: _Region, *, fixed: bool = True) -> Iterator[tuple[str, np.ndarray]]:
    """``region`` with a hand's motion, when its gradients show one, undone by a Wiener filter: a line of MOTION_PX
    (when ``fixed``: at twice the size, that line's image is read sharpened already), then of the lengths its edges
    show."""
    if region.motion is None:
        return
    shown = region.motion_length
    for length in dict.fromkeys((*((MOTION_PX,) if fixed else ()), *(round(share * shown) for share in MOTION_SHARES))):
        if length >= MOTION_LEAST_PX:
            yield "unblurred", region.unblurred(length)


def _motion_length(image: np.ndarray, degrees: float) -> float:
    """The length, in pixels, of the hand's motion ``degrees`` from the rows that would blur ``image``'s sharpest
    edges as they are: a motion of length L spreads a step between dark and light over L, its slope along the
    motion 1 / L of the step. The step is the image's range (2nd to 98th percentile), the slope its strongest (99.5th)."""
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
    turn = math.radians(degrees)
    along = np.abs(cv2.Sobel(smooth, cv2.CV_32F, 1, 0) * math.cos(turn) + cv2.Sobel(smooth, cv2.CV_32F, 0, 1) * math.sin(turn)) / 8
    dark, light = _percentiles(smooth[::2, ::2], (2, 98))
    steepest, = _percentiles(along[::2, ::2], (99.5,))
    return float(light - dark) / steepest if steepest > 0 else 0.0


def _unblurred(image: np.ndarray, length: int, degrees: float = 0.0) -> np.ndarray:
    """``image`` with a hand's motion of ``length`` pixels, ``degrees`` from its rows, undone: a Wiener filter
    of that line. For a 1-D code with its bars upright, along the rows: only the motion across the bars
    blurs them, whichever way the hand moved."""
    size = length | 1
    line = np.zeros((size, size), np.float32)
    line[size // 2, (size - length) // 2 : (size - length) // 2 + length] = 1
    if not degrees:
        return _wiener_rows(image, line[size // 2])
    turn = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), -degrees, 1.0)
    return _wiener(image, cv2.warpAffine(line, turn, (size, size), flags=cv2.INTER_LINEAR))


def _refocused(image: np.ndarray, radius: float) -> np.ndarray:
    """``image`` of a 1-D code, bars upright, with a lens's defocus of ``radius`` pixels undone: a Wiener filter of
    the disc's spread across the bars (a half ellipse: the chord of the disc at each distance from its centre).
    A disc wipes out bars whose width is near its diameter's zeros, where a Gaussian only fades them."""
    return _wiener_rows(image, _spread(radius))


def _spread(radius: float, half: int | None = None) -> np.ndarray:
    """A lens's disc of ``radius`` pixels spread across a 1-D code's bars: the chord of the disc at each distance from its
    centre, out to ``half`` pixels each way (the radius rounded up)."""
    half = math.ceil(radius) if half is None else half
    x = np.arange(-half, half + 1, dtype=np.float32)
    return np.sqrt(np.clip(radius * radius - x * x, 0, None)) + 1e-3


def _defocus_radius(image: np.ndarray) -> float:
    """The radius, in pixels, of the lens's disc of confusion that would blur ``image``'s sharpest edges as they are:
    a disc of radius r spreads a step between dark and light over 2r, its steepest slope 2 / (pi r) of the step.
    The step is the image's range (2nd to 98th percentile), the slope its strongest gradients' (99.5th)."""
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0).astype(np.float32)
    gx, gy = cv2.Sobel(smooth, cv2.CV_32F, 1, 0) / 8, cv2.Sobel(smooth, cv2.CV_32F, 0, 1) / 8
    dark, light = _percentiles(smooth[::2, ::2], (2, 98))  # every fourth pixel: the same figures, a quarter the sorting
    steepest, = _percentiles(np.hypot(gx[::2, ::2], gy[::2, ::2]), (99.5,))
    return 2 * float(light - dark) / (math.pi * steepest) if steepest > 0 else 0.0


def _percentiles(values: np.ndarray, shares: tuple[float, ...]) -> list[float]:
    """The percentiles of ``values`` at ``shares`` (0-100), as ``np.percentile`` gives them (linear between the two
    nearest ranks, its rounding too), from one partial sort: a tenth of its time on the few thousand values of a place."""
    flat, last = values.ravel(), values.size - 1
    ranks = [share / 100 * last for share in shares]
    below = [math.floor(rank) for rank in ranks]
    ordered = np.partition(flat, sorted({*below, *(min(rank + 1, last) for rank in below)}))
    found = []
    for rank, low in zip(ranks, below):
        a, b, t = ordered[low], ordered[min(low + 1, last)], rank - low
        step = float(b - a)  # in the values' own type, as numpy does
        found.append(float(b) - step * (1 - t) if t >= 0.5 else float(a) + step * t)
    return found


def _disc(radius: float) -> np.ndarray:
    """A lens's disc of confusion of ``radius`` pixels, its rim antialiased."""
    half = math.ceil(radius) + 1
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    return np.clip(radius + 0.5 - np.hypot(x, y), 0, 1)


def _refocuses(image: np.ndarray) -> list[np.ndarray]:
    """``image`` of a 1-D code, bars upright, with each of DEFOCUS_SHARES of the defocus its edges show undone across its
    bars (the radius worked out once)."""
    radius = _defocus_radius(image)
    return [_refocused(image, share * radius) for share in DEFOCUS_SHARES]


def _unblurs(image: np.ndarray) -> list[np.ndarray]:
    """``image`` of a 1-D code, bars upright, with a hand's motion across its bars undone at each of UNBLUR_PX."""
    return [_unblurred(image, length) for length in UNBLUR_PX]


def _wiener(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` with the blur of ``kernel`` (square, odd, centred) undone by a Wiener filter of noise-to-signal
    ratio UNBLUR_NOISE, on OpenCV's DFT (at the sizes it is fast at), the borders replicated."""
    size = kernel.shape[0]
    pad = 2 * size
    height, width = image.shape[0] + 2 * pad, image.shape[1] + 2 * pad
    tall, wide = cv2.getOptimalDFTSize(height), cv2.getOptimalDFTSize(width)  # sizes OpenCV's DFT is fast at
    padded = cv2.copyMakeBorder(image, pad, pad + tall - height, pad, pad + wide - width, cv2.BORDER_REPLICATE)
    placed = np.zeros((tall, wide), np.float32)
    placed[:size, :size] = kernel / kernel.sum()
    response = cv2.dft(np.roll(placed, (-(size // 2), -(size // 2)), axis=(0, 1)), flags=cv2.DFT_COMPLEX_OUTPUT)
    spectrum = cv2.mulSpectrums(cv2.dft(padded.astype(np.float32), flags=cv2.DFT_COMPLEX_OUTPUT), response, 0, conjB=True)
    spectrum /= (response[..., 0] ** 2 + response[..., 1] ** 2 + UNBLUR_NOISE)[..., None]
    sharp = cv2.idft(spectrum, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)[pad : pad + image.shape[0], pad : pad + image.shape[1]]
    return np.clip(sharp, 0, 255).astype(np.uint8)


def _wiener_rows(image: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``image`` with the blur of ``row`` (odd, centred) along its rows undone: ``_wiener`` of a kernel that is that one
    row, the same image to a grey level, each row filtered on its own (one-dimensional DFTs and one row of the filter
    broadcast down the image: a fifth of the time). A 2-D ``row`` holds a kernel for each row of ``image``."""
    size = row.shape[-1]
    pad = 2 * size
    width = image.shape[1] + 2 * pad
    wide = cv2.getOptimalDFTSize(width)
    padded = cv2.copyMakeBorder(image, 0, 0, pad, pad + wide - width, cv2.BORDER_REPLICATE)
    kernels = np.atleast_2d(row)
    placed = np.zeros((len(kernels), wide), np.float32)
    placed[:, :size] = kernels / kernels.sum(axis=1, keepdims=True)
    response = cv2.dft(np.roll(placed, -(size // 2), axis=1), flags=cv2.DFT_COMPLEX_OUTPUT | cv2.DFT_ROWS)
    power = response[..., 0] ** 2 + response[..., 1] ** 2 + UNBLUR_NOISE
    inverse = np.empty((len(kernels), wide), np.complex64)
    inverse.real, inverse.imag = response[..., 0] / power, -response[..., 1] / power
    spectrum = cv2.dft(padded.astype(np.float32), flags=cv2.DFT_COMPLEX_OUTPUT | cv2.DFT_ROWS)
    spectrum.view(np.complex64)[..., 0] *= inverse
    sharp = cv2.idft(spectrum, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT | cv2.DFT_ROWS)[:, pad : pad + image.shape[1]]
    return np.clip(sharp, 0, 255).astype(np.uint8)


def _variants(image: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """``image`` sharpened (blur), binarised after smoothing (noise, low contrast), and contrast-equalised."""
    yield "sharpened", cv2.addWeighted(image, 2.0, cv2.GaussianBlur(image, (0, 0), 2.0), -1.0, 0)
    smooth = cv2.GaussianBlur(image, (0, 0), 1.5)
    yield "binarised", cv2.adaptiveThreshold(smooth, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 3)
    yield "equalised", cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 4)).apply(smooth)


# the 1-D stages whose images undo a blur: the images of a place each kernel's filter makes, for Cascade._disputed
RESTORED = {"unblurred": _unblurs, "refocused": _refocuses}
