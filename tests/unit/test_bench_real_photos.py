"""scripts/bench_real_photos.py: its scoring conventions (pure), and its one-line answers to a wrong folder."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_real_photos.py"


@pytest.fixture(scope="module")
def photos_bench():
    spec = importlib.util.spec_from_file_location("bench_real_photos", SCRIPT)
    module = sys.modules["bench_real_photos"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_crlf_in_the_code_reads_as_the_lf_of_the_text_file(photos_bench):
    assert photos_bench.judge("qr", "MEBKM:\nURL:x", [], [("qr", "MEBKM:\r\nURL:x")]) == (True, [])


def test_zxing_cpps_names_of_control_characters_are_the_characters(photos_bench):
    assert photos_bench.judge("qr", "\x01\x10AD:SUB", [], [("qr", "<SOH><DLE>AD:SUB")]) == (True, [])


def test_databar_reads_as_its_gtin_whichever_decoder_says_it(photos_bench):
    for said in ("(01)02001234567893", "0102001234567893", "02001234567893"):
        assert photos_bench.judge("databar", "02001234567893", [], [("databar", said)]) == (True, [])
    expanded = "(01)98898765432106(3202)012345(15)991231"
    bare = expanded.replace("(", "").replace(")", "")  # libzbar's element string
    assert photos_bench.judge("databar-expanded", expanded, [], [("databar-expanded", bare)]) == (True, [])


def test_an_ean13_starting_with_0_read_as_its_upca_is_read_but_no_other_shortening(photos_bench):
    assert photos_bench.judge("ean13", "0012345678905", [], [("upca", "012345678905")]) == (True, [])
    assert photos_bench.judge("ean13", "4012345678901", [], [("upca", "012345678901")]) \
        == (False, ["upca '012345678901'"])


def test_another_code_in_the_frame_is_no_misread_but_a_wrong_text_beside_the_right_read_is(photos_bench):
    book = ("ean13", "9784872348880")
    other = ("ean13", "1920081045006")  # the book's second EAN-13, in the frame
    assert photos_bench.judge("ean13", "9784872348880", ["1920081045006"], [book, other]) == (True, [])
    assert photos_bench.judge("ean13", "5030159003930", [], [("ean13", "5030159003930"), ("ean13", "7034759003930")]) \
        == (True, ["ean13 '7034759003930'"])
    assert photos_bench.judge("ean13", "9784872348880", [], []) == (False, [])


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("where", ["missing", "empty", "under-a-file"])
def test_a_wrong_photo_folder_is_one_line_of_error(tmp_path, where):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    args = {"missing": ("--photos", str(tmp_path / "missing")), "empty": ("--photos", str(tmp_path / "empty")),
            "under-a-file": ("--fetch", str(tmp_path / "a-file" / "photos"))}[where]
    done = _run(*args)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("bench_real_photos: ") and done.stderr.count("\n") == 1, done.stderr
