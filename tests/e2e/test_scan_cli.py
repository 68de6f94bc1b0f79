"""`pos-sim scan` as QA runs it: files and folders, JSON lines, exit codes, live video, virtual scans."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import segno

from pos_sim.assets import ASSETS
from pos_sim.domain.codes import schemes
from pos_sim.render.barcodes import barcode_image, qr_image

PAYNOW = schemes.paynow(uen="201403121W")
EAN = "4006381333931"


def pos_sim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=120, env=env)


def lines(run: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def shelf(tmp_path):
    folder = tmp_path / "shelf"
    (folder / "inner").mkdir(parents=True)
    cv2.imwrite(str(folder / "qr.png"), qr_image(PAYNOW, module_px=4))
    cv2.imwrite(str(folder / "inner" / "ean.jpg"), barcode_image("ean13", EAN, module_px=3))
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 200), 255, np.uint8))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_scan_prints_one_json_line_per_code_and_exits_1_when_some_are_unread(tmp_path):
    folder = shelf(tmp_path)
    run = pos_sim("scan", "--json", str(folder))
    assert run.returncode == 1, run.stderr
    by_path = {line["path"]: line for line in lines(run)}
    qr = by_path[str(folder / "qr.png")]
    assert (qr["symbology"], qr["text"], qr["kind"]) == ("qr", PAYNOW, "emv-mpm")
    assert qr["decoder"].startswith("cascade") and qr["ms"] >= 0 and len(qr["corners"]) == 4
    ean = by_path[str(folder / "inner" / "ean.jpg")]
    assert (ean["symbology"], ean["text"], ean["kind"]) == ("ean13", EAN, "gs1")
    blank = by_path[str(folder / "blank.png")]
    assert blank["text"] is None and blank["error"] == "no code read"
    assert str(folder / "notes.txt") not in by_path  # folders give their images only


def test_every_image_read_exits_0_and_each_single_decoder_can_be_chosen(tmp_path):
    image = tmp_path / "qr.png"
    cv2.imwrite(str(image), qr_image(PAYNOW, module_px=4))
    for decoder in ("auto", "zxing", "zbar", "opencv"):
        run = pos_sim("scan", "--json", "--decoder", decoder, str(image))
        assert run.returncode == 0, (decoder, run.stderr)
        [line] = lines(run)
        assert line["text"] == PAYNOW and line["decoder"].startswith("cascade" if decoder == "auto" else decoder)
    human = pos_sim("scan", str(image))
    assert human.returncode == 0 and f"qr emv-mpm {PAYNOW}" in human.stdout


def test_a_code_that_names_no_charset_reads_in_the_charset_of_the_merchants_language(tmp_path):
    """A Chinese merchant's GBK code, a Japanese one's Shift_JIS code, a Taiwanese one's Big5 code, none with an ECI,
    read as their text by a terminal speaking the language (--language, else POS_SIM_LANGUAGE); an English-speaking
    terminal reads the GBK one as zxing-cpp guesses it (half-width katakana), not as Chinese."""
    codes = {"gbk": "北京烤鸭 128元", "cp932": "東京 ㈱山田商店 ①番", "big5": "台北市信義區市府路45號 鼎泰豐 250元"}
    for encoding, text in codes.items():
        segno.make_qr(text, encoding=encoding, eci=False, mode="byte").save(str(tmp_path / f"{encoding}.png"), scale=5)
    english = {name: value for name, value in os.environ.items() if name != "POS_SIM_LANGUAGE"}
    for args, env, encoding in ((["--language", "zh_Hans"], english, "gbk"),
                                ([], english | {"POS_SIM_LANGUAGE": "ja"}, "cp932"),
                                (["--language", "zh_Hant", "--decoder", "zxing"], english, "big5")):
        run = pos_sim("scan", "--json", *args, str(tmp_path / f"{encoding}.png"), env=env)
        assert run.returncode == 0, run.stderr
        assert [(line["symbology"], line["text"]) for line in lines(run)] == [("qr", codes[encoding])], (args, encoding)
    run = pos_sim("scan", "--json", str(tmp_path / "gbk.png"), env=english)
    assert run.returncode == 0 and lines(run)[0]["text"] != codes["gbk"]


def test_bad_usage_exits_2_with_a_message(tmp_path):
    for args in (["scan"], ["scan", str(tmp_path / "missing.png")], ["scan", "--decoder", "nope", "x"],
                 ["scan", "--damage", "blur"], ["scan", "--damage", "melted", "--text", "x"]):
        run = pos_sim(*args)
        assert run.returncode == 2 and "Traceback" not in run.stderr and run.stderr.strip(), args
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    run = pos_sim("scan", "--json", str(corrupt))
    assert run.returncode == 1 and "not an image" in lines(run)[0]["error"]


def test_a_virtual_scan_seeded_below_0_is_refused_in_one_line_not_an_internal_fault():
    run = pos_sim("scan", "--damage", "blur", "--text", "abc", "--seed", "-1")
    assert (run.returncode, run.stdout, run.stderr) == (2, "", "error: --seed -1: give 0 or more\n")


def test_live_video_prints_each_new_code_once(tmp_path):
    path = tmp_path / "counter.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    codes = [qr_image(PAYNOW, module_px=4), barcode_image("ean13", EAN, module_px=3)]
    for i in range(30):  # the QR for 10 frames, nothing for 10, then the barcode for 10
        frame = np.full((480, 640, 3), 220, np.uint8)
        if i < 10 or i >= 20:
            code = codes[0 if i < 10 else 1]
            frame[40 : 40 + code.shape[0], 40 : 40 + code.shape[1]] = code[..., None]
        writer.write(frame)
    writer.release()
    run = pos_sim("scan", "--json", "--camera", str(path))
    assert run.returncode == 0, run.stderr
    assert [(line["text"], line["path"]) for line in lines(run)] == [(PAYNOW, f"{path}#0"), (EAN, f"{path}#20")]


def test_virtual_scan_of_a_damaged_code(tmp_path):
    saved = tmp_path / "glare.png"
    run = pos_sim("scan", "--json", "--damage", "glare", "--strength", "0.7", "--text", PAYNOW, "--save", str(saved))
    assert run.returncode == 0, run.stderr
    [line] = lines(run)
    assert line["text"] == PAYNOW and line["path"] == "virtual:glare@0.7" and saved.exists()
    run = pos_sim("scan", "--json", "--damage", "inverted", "--text", EAN)
    assert lines(run)[0]["text"] == EAN and lines(run)[0]["symbology"] == "ean13"


NO_LIBZBAR = ("import ctypes.util, sys; found = ctypes.util.find_library; "  # a machine without the system's libzbar.so.0
              "ctypes.util.find_library = lambda name: None if name == 'zbar' else found(name); "
              "from pos_sim.cli import main; sys.exit(main(sys.argv[1:]))")


def test_without_libzbar_the_cascade_reads_on_and_the_zbar_decoder_says_what_to_install():
    image = str(ASSETS / "scenarios" / "images" / "kaya-spread-ean13.png")
    alone = subprocess.run([sys.executable, "-c", NO_LIBZBAR, "scan", "--decoder", "zbar", image],
                           capture_output=True, text=True, timeout=60)
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert alone.stderr.splitlines()[-1] == ("error: decoder zbar is not available here: Unable to find zbar shared library: "
                                             "install the system library libzbar0 (Debian, Ubuntu: apt-get install libzbar0; "
                                             "macOS: brew install zbar)")
    cascade = subprocess.run([sys.executable, "-c", NO_LIBZBAR, "scan", image], capture_output=True, text=True, timeout=60)
    assert cascade.returncode == 0 and "ean13 gs1 8886305100582" in cascade.stdout
    assert cascade.stderr.strip() == "decoder zbar left out: " + alone.stderr.splitlines()[-1].split(": ", 2)[2]
