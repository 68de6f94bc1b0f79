"""``pos-sim scan``: read codes as a terminal's scanner does, from images, folders, a camera or a video,
or a virtual scan of a rendered code with chosen damage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pos_sim.cli.errors import EXIT_OK, EXIT_UNREAD, UsageError
from pos_sim.cli.settings import merchant_language
from pos_sim.domain import codes
from pos_sim.language import LANGUAGES, N_, _
from pos_sim.scan import damage, frames, scanner


def add_scan_command(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser(
        "scan",
        help=N_("read codes from images, folders, a camera or a video, or a virtual scan"),
        description="Read payment codes and barcodes. Exit 0 when every image was read, 1 when some were not.",
    )
    scan.add_argument("paths", nargs="*", metavar="PATH", help="image files and folders")
    scan.add_argument("--json", action="store_true", help="one JSON object per line per code found")
    scan.add_argument("--decoder", choices=scanner.DECODERS, default="auto", help="auto is the cascade (default)")
    scan.add_argument("--expect", choices=codes.KINDS[:-1], help="only accept codes of this kind")
    scan.add_argument("--language", metavar="LANG",
                      help=f"the merchant's language ({', '.join(LANGUAGES)}; default: POS_SIM_LANGUAGE, else the config "
                           "file's, else en): its messages, and the charset a code that names none is read in "
                           "(ja Shift_JIS, zh_Hans GB 18030, zh_Hant Big5)")
    live = scan.add_mutually_exclusive_group()
    live.add_argument("--camera", metavar="SOURCE", help="camera index, stream URL or video file: print each new code once")
    live.add_argument("--damage", metavar="PROFILE", choices=damage.PROFILES, help="virtual scan of --text damaged by PROFILE")
    scan.add_argument("--frames", type=int, metavar="N", help="with --camera: stop after N frames")
    scan.add_argument("--text", help="with --damage: the payload to render and read")
    scan.add_argument("--strength", type=float, default=0.5, help="with --damage: 0 (none) to 1 (hardest)")
    scan.add_argument("--symbology", choices=["qr", "ean13", "ean8", "upca", "code128"], help="with --damage: how to draw --text")
    scan.add_argument("--seed", type=int, default=0, help="with --damage: the random seed of the damage")
    scan.add_argument("--save", type=Path, metavar="FILE", help="with --damage: write the damaged image")
    scan.set_defaults(run=run_scan)


def run_scan(args: argparse.Namespace) -> int:
    modes = [bool(args.paths), args.camera is not None, args.damage is not None]
    if sum(modes) != 1:
        raise UsageError(_("give image PATHs, or --camera SOURCE, or --damage PROFILE --text TEXT (one of them)"))
    if args.damage is not None and not args.text:
        raise UsageError(_("--damage needs --text, the payload to render"))
    decoder = scanner.decoder_named(args.decoder, args.expect, merchant_language(args))
    if args.camera is not None:
        if Path(args.camera).is_file():
            source = frames.video(args.camera)
        else:
            source = frames.camera(int(args.camera) if args.camera.isdigit() else args.camera, max_frames=args.frames)
        for origin, read in scanner.read_live(source, decoder):
            print_read(args, origin, read)
        return EXIT_OK
    if args.damage is not None:
        if args.seed < 0:  # numpy's generator takes none below 0
            raise UsageError(_("--seed {seed}: give 0 or more").format(seed=args.seed))
        image, reads = scanner.virtual_scan(
            args.text, decoder, profile=args.damage, strength=args.strength, symbology=args.symbology, seed=args.seed
        )
        if args.save:
            save_image(image, args.save)
        results = [scanner.ImageResult(f"virtual:{args.damage}@{args.strength}", reads, None if reads else "no code read")]
    else:
        missing = [p for p in args.paths if not Path(p).exists()]
        if missing:
            raise UsageError(_("{path}: no such file or folder").format(path=missing[0]))
        results = scanner.read_images(args.paths, decoder)
    unread = 0
    for result in results:
        for read in result.reads:
            print_read(args, result.origin, read)
        if result.error:
            unread += 1
            if args.json:
                print(json.dumps({"path": result.origin, "text": None, "error": result.error}), flush=True)
            else:
                print(f"{result.origin}: {result.error}", file=sys.stderr)
    return EXIT_OK if unread == 0 else EXIT_UNREAD


def print_read(args: argparse.Namespace, origin: str, read) -> None:
    kind = codes.classify(read.text).kind
    if args.json:
        line = {
            "path": origin, "symbology": read.symbology, "text": read.text, "kind": kind,
            "decoder": read.decoder, "ms": round(read.ms, 2), "corners": [list(p) for p in read.corners],
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
    else:
        print(f"{origin}: {read.symbology} {kind} {read.text}  ({read.decoder}, {read.ms:.1f} ms)", flush=True)


def save_image(image, path: Path) -> None:
    import cv2

    if not cv2.imwrite(str(path), image):
        raise UsageError(_("cannot write {path}: unknown image format or unwritable folder").format(path=path))
