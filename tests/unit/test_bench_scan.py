"""scripts/bench_scan.py, smoke-tested: a tiny corpus, every decoder, the report's shape (no timings)."""

import json
import re

import numpy as np


def test_a_quick_run_reports_every_decoder_by_symbology_damage_and_size(bench, tmp_path, capsys):
    out = tmp_path / "scan.json"
    assert bench.main(["--quick", "--frames", "40", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["frames"] == 40 and set(report["decoders"]) <= {"zxing", "zbar", "opencv", "cascade"}
    assert {"zxing", "cascade"} <= set(report["decoders"])
    for name, result in report["decoders"].items():
        assert set(result["success"]) == {"qr", "ean13", "code128", "all"}
        assert sum(result["success"][s]["n"] for s in ("qr", "ean13", "code128")) == 40
        assert set(result["by_category"]) == set(bench.CATEGORIES)
        assert set(result["ms"]) == {"all", "640x480", "1280x720"} and result["ms"]["all"]["n"] == 40
        assert result["false_reads"] == len(result["false"]) and name in printed
    assert len(report["per_frame"]) == 40 and set(report["per_frame"][0]["results"]) == set(report["decoders"])
    for heading in ("Reads: success rate by symbology", "Time per frame", "Median time against zxing-cpp alone's",
                    "Success rate by damage and symbology"):
        assert heading in printed
    ratio = report["decoders"]["cascade"]["ms"]["all"]["median"] / report["decoders"]["zxing"]["ms"]["all"]["median"]
    assert re.search(rf"cascade\s+{ratio:.2f}x", printed)  # the cascade's median against zxing-cpp alone's, all frames


def test_zxing_reads_most_undamaged_qr_frames(bench):
    zxing = bench.load_decoders(["zxing"])["zxing"]
    frames = [bench.make_frame(i, 5, "none", "qr", bench.SIZES[i % 2]) for i in range(8)]
    assert all(image.dtype == np.uint8 and image.shape[2] == 3 for _, image in frames)
    read = sum(frame.text in [r.text for r in zxing.decode(image)] for frame, image in frames)
    assert read >= 7


def test_the_corpus_is_the_same_for_a_seed(bench):
    first, pixels = bench.make_frame(17, 3, "glare+perspective", "ean13", (640, 480))
    again, same = bench.make_frame(17, 3, "glare+perspective", "ean13", (640, 480))
    assert first == again and np.array_equal(pixels, same)
    assert pixels.shape == (480, 640, 3) and 0.2 <= first.strength <= 1.0


def test_a_quick_run_of_the_photo_corpus_reports_every_photo_condition(bench, tmp_path, capsys):
    out = tmp_path / "photo.json"
    frames = len(bench.PHOTO_CATEGORIES)
    assert bench.main(["--corpus", "photo", "--frames", str(frames), "--decoders", "zxing,cascade", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["corpus"] == "photo" and "photo corpus" in capsys.readouterr().out
    assert {f["category"] for f in report["per_frame"]} == set(bench.PHOTO_CATEGORIES)
    assert set(report["decoders"]["cascade"]["by_category"]) == set(bench.PHOTO_CATEGORIES)


def test_a_photo_of_several_codes_names_the_others_and_reading_them_is_no_false_read(bench):
    frame, image = bench.make_photo(9, 4, "several", "qr", (1280, 720))
    again, same = bench.make_photo(9, 4, "several", "qr", (1280, 720))
    assert frame == again and np.array_equal(image, same) and 1 <= len(frame.others) <= 2
    cascade = bench.load_decoders(["cascade"])["cascade"]
    texts = {r.text for r in cascade.decode(image)}
    assert frame.text in texts and texts <= {frame.text, *frame.others}


def test_a_quick_run_of_the_handheld_corpus_reports_upca_and_ean8_on_small_frames(bench, tmp_path, capsys):
    out = tmp_path / "handheld.json"
    frames = len(bench.HANDHELD_CATEGORIES) * len(bench.HANDHELD_SYMBOLOGIES)
    assert bench.main(["--corpus", "handheld", "--frames", str(frames), "--decoders", "zxing", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    result = report["decoders"]["zxing"]
    assert set(result["success"]) == {"ean13", "upca", "ean8", "code128", "qr", "all"}
    assert all(result["success"][s]["n"] == len(bench.HANDHELD_CATEGORIES) for s in bench.HANDHELD_SYMBOLOGIES)
    assert set(result["ms"]) == {"all", "640x480", "320x240"} and "upca" in printed and "320x240" in printed
    upca = [f for f in report["per_frame"] if f["symbology"] == "upca"]
    assert all(len(f["text"]) == 12 for f in upca) and any(f["results"]["zxing"]["ok"] for f in upca)


def test_a_handheld_photo_is_the_same_for_a_seed_and_a_small_out_of_focus_frame(bench):
    first, pixels = bench.make_handheld(5, 3, "defocus", "ean8", (320, 240))
    again, same = bench.make_handheld(5, 3, "defocus", "ean8", (320, 240))
    assert first == again and np.array_equal(pixels, same) and pixels.shape == (240, 320, 3)
    assert len(first.text) == 8 and first.module_px >= 1.5
