"""`pos-sim code parse|make` as a user runs it: real processes, exit codes, stdout and stderr."""

import json
import subprocess
import sys

import pytest
import zxingcpp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from pos_sim.cli import main

BEST_TRANSPORT = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST "
    "TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A6008667"
    "0902ME91320016A0112233449988770708123456786304A13A"
)


def pos_sim(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pos_sim", *args], input=stdin, capture_output=True, timeout=60
    )


def test_parse_json_prints_the_fields_of_the_emvco_example():
    run = pos_sim("code", "parse", "--json", BEST_TRANSPORT)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["kind"] == "emv-mpm" and report["valid"] is True and report["error"] is None
    fields = report["fields"]
    assert fields["merchant_accounts"]["29"] == {"guid": "D15600000000", "05": "A93FO3230Q"}
    assert (fields["currency"], fields["currency_alpha"], fields["amount"]) == ("156", "CNY", "23.72")
    assert fields["language_template"] == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert fields["crc"] == "A13A" and fields["tip_indicator"] == "01"
    assert [o["id"] for o in report["objects"]][:3] == ["00", "01", "29"]
    assert report["objects"][2]["children"][0] == {"id": "00", "length": 12, "offset": 16, "value": "D15600000000"}


def test_invalid_payload_exits_2_with_one_line_saying_what_and_where():
    run = pos_sim("code", "parse", "--json", BEST_TRANSPORT[:-4] + "ABCD")
    assert run.returncode == 2
    report = json.loads(run.stdout)
    assert report["valid"] is False and "computed A13A" in report["error"] and report["fields"]["crc"] == "ABCD"
    assert run.stderr.decode().count("\n") == 1 and "tag 63" in run.stderr.decode()
    run = pos_sim("code", "parse", "00020101021226590016A01101000000000002705303031058")
    assert run.returncode == 2 and run.stdout == b""
    assert run.stderr.decode().startswith("error: emv-mpm: ") and "offset" in run.stderr.decode()


def test_a_bad_barcode_is_said_in_the_merchants_language_and_its_json_stays_english():
    import os

    run = subprocess.run([sys.executable, "-m", "pos_sim", "code", "parse", "--json", "4006381333932"], capture_output=True,
                         timeout=60, text=True, env={**os.environ, "POS_SIM_LANGUAGE": "th"})
    assert run.returncode == 2 and json.loads(run.stdout)["error"] == "wrong check digit: expected 1, found 2 (offset 12)"
    assert run.stderr == "ข้อผิดพลาด: gs1: เลขตรวจสอบผิด: ควรเป็น 1 แต่เป็น 2 (ตำแหน่ง 12)\n", run.stderr


@pytest.mark.parametrize("lang, text, said, english", [
    ("ja", BEST_TRANSPORT[:-4] + "ABCD", "エラー：emv-mpm: CRC ABCD がペイロードと一致しません (計算値 A13A) (タグ 63, 位置 240)",
     "CRC ABCD does not match the payload (computed A13A) (tag 63, offset 240)"),
    ("zh_Hant", "RC1:abc", "錯誤：ride-code: 'a' 不是 base45 字元（0-9、A-Z、空格、$%*+-./:）（base45 為大寫） (位置 4)",
     "'a' is not a base45 character (0-9, A-Z, space, $%*+-./:) (base45 is upper case) (offset 4)"),
    ("ms", "(01)09521234543214", "ralat: gs1: AI (01): digit semak salah: sepatutnya 3, didapati 4 (kedudukan 17)",
     "AI (01): wrong check digit: expected 3, found 4 (offset 17)"),
], ids=["emv-mpm", "ride-code", "gs1-databar"])
def test_a_bad_payment_code_is_said_in_the_merchants_language_with_where_and_its_json_stays_english(lang, text, said, english):
    """A cashier in Tokyo, Taipei or Kuala Lumpur reads what is wrong with a scanned EMV QR, ride code or DataBar, and where
    (tag, offset), in the terminal's language; --json keeps the English for tools."""
    import os

    env = {**os.environ, "POS_SIM_LANGUAGE": lang}
    run = subprocess.run([sys.executable, "-m", "pos_sim", "code", "parse", text], capture_output=True, timeout=60, text=True,
                         env=env)
    assert (run.returncode, run.stdout, run.stderr) == (2, "", said + "\n"), run.stderr
    run = subprocess.run([sys.executable, "-m", "pos_sim", "code", "parse", "--json", text], capture_output=True, timeout=60,
                         text=True, env=env)
    assert json.loads(run.stdout)["error"] == english


def test_strict_mode_refuses_promptpay_that_lenient_accepts():
    promptpay = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
    assert pos_sim("code", "parse", promptpay).returncode == 0
    run = pos_sim("code", "parse", "--strict", promptpay)
    assert run.returncode == 2 and b"mcc (ID 52) is missing" in run.stderr


def test_stdin_and_each_kind():
    run = pos_sim("code", "parse", "--json", "-", stdin=b"251001020123456789012345\r\n")
    report = json.loads(run.stdout)
    assert report["kind"] == "wallet-paycode" and report["fields"]["wallet"] == "Alipay+"
    for text, kind in [("4006381333931", "gs1"), ("https://pay.example.com/o/1", "url"),
                       ("hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=", "emv-cpm")]:
        run = pos_sim("code", "parse", "--json", text)
        assert run.returncode == 0 and json.loads(run.stdout)["kind"] == kind, run.stderr
    run = pos_sim("code", "parse", "--json", "hello there")
    assert run.returncode == 2 and json.loads(run.stdout)["kind"] == "unknown"


def test_bad_usage_exits_2():
    assert pos_sim("code", "parse").returncode == 2
    assert pos_sim("code", "make", "promptpay").returncode == 2
    run = pos_sim("code", "make", "paynow", "--uen", "X", "--amount", "12.345")
    assert run.returncode == 2 and b"SGD has 2" in run.stderr and b"Traceback" not in run.stderr
    run = pos_sim("code", "make", "mpm", "--guid", "COM.EXAMPLE", "--country", "SG", "--city", "SINGAPORE",
                  "--name", "A MERCHANT NAME LONGER THAN EMVCO ALLOWS", "--png", "never-written.png")
    assert run.returncode == 2 and b"at most 25 characters" in run.stderr and run.stdout == b""


@pytest.mark.parametrize("args", [("code", "make", "paynow", "--uen", "201403121W"), ("scenario", "list")],
                         ids=["code-make", "scenario-list"])
def test_output_piped_to_a_reader_that_left_ends_quietly(args):
    """``pos-sim ... | head -1``: the reader closes the pipe before all is written; the command ends as a Unix tool
    ended by SIGPIPE does (128 + 13), with nothing on stderr, not an internal fault with exit 70."""
    import os

    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the command writes a byte
    try:
        run = subprocess.run([sys.executable, "-m", "pos_sim", *args], stdout=writer, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(writer)
    assert (run.returncode, run.stderr) == (141, b"")


@pytest.mark.parametrize("country", ["ZZ", "XK", "EU", "sg", "SGP", "12"])
def test_make_mpm_refuses_a_country_not_of_iso_3166_in_one_line_naming_the_option(country):
    run = pos_sim("code", "make", "mpm", "--guid", "COM.EXAMPLE", "--country", country, "--name", "SHOP", "--city", "SINGAPORE")
    assert (run.returncode, run.stdout) == (2, b"")
    assert run.stderr.decode() == f"error: --country {country!r} is not an ISO 3166-1 alpha-2 country code, e.g. SG\n"


@pytest.mark.parametrize(
    "args",
    [
        ["promptpay", "--phone", "0812345678", "--amount", "150"],
        ["paynow", "--uen", "201403121W", "--amount", "12.50", "--name", "KOPI CORNER", "--reference", "ORDER-1"],
        ["fps", "--fps-id", "1234567", "--amount", "88.80"],
        ["duitnow", "--acquirer", "564160", "--account", "ACC1", "--name", "KEDAI", "--city", "KL", "--amount", "9.90"],
        ["qris", "--nmid", "ID1026478871761", "--name", "TOKO", "--city", "JAKARTA", "--mcc", "5411", "--amount", "15000"],
        ["pix", "--key", "fulano@example.com", "--name", "Fulano", "--city", "BRASILIA", "--amount", "25.90"],
        ["mpm", "--guid", "COM.EXAMPLE", "--account", "01=M123", "--country", "JP", "--currency", "JPY",
         "--amount", "1200", "--name", "RAMEN YA", "--city", "TOKYO", "--language", "JA", "--alt-name", "ラーメン屋"],
        ["cpm", "--pan", "4761340000000019", "--cardholder-name", "TAN AH KOW"],
        ["paycode"],
    ],
)
def test_make_prints_a_payload_that_parses_and_a_png_that_scans(args, tmp_path):
    png = tmp_path / "code.png"
    run = pos_sim("code", "make", *args, "--png", str(png))
    assert run.returncode == 0, run.stderr
    payload = run.stdout.decode().strip()
    assert pos_sim("code", "parse", payload).returncode == 0
    [read] = zxingcpp.read_barcodes(Image.open(png))
    assert read.text == payload and read.format == zxingcpp.BarcodeFormat.QRCode


def half_blocks_to_image(lines: list[str], scale: int = 6) -> Image.Image:
    """Turn half-block text back into pixels, as a phone camera sees the terminal."""
    top = {"█": True, "▀": True, "▄": False, " ": False}
    bottom = {"█": True, "▄": True, "▀": False, " ": False}
    rows = [row for line in lines for row in ([top[c] for c in line], [bottom[c] for c in line])]
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    image.putdata([0 if dark else 255 for row in rows for dark in row])
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def test_terminal_qr_drawn_with_half_blocks_scans_back_to_the_payload():
    run = pos_sim("code", "make", "promptpay", "--phone", "0812345678", "--amount", "99.50", "--terminal")
    payload, *lines = run.stdout.decode().splitlines()
    assert payload.startswith("000201") and len({len(line) for line in lines}) == 1
    [read] = zxingcpp.read_barcodes(half_blocks_to_image(lines))
    assert read.text == payload


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_no_input_however_broken_gives_a_traceback(data, capsys):
    text = data.decode("utf-8", "surrogateescape")  # what argv holds for bytes that are not UTF-8
    assume(text != "-")  # that one reads standard input
    code = main(["code", "parse", "--json", "--", text])
    out, err = capsys.readouterr()
    assert code in (0, 2) and "Traceback" not in err
    report = json.loads(out)
    assert report["valid"] is (code == 0)


def test_huge_and_odd_input_from_stdin_is_refused_cleanly():
    for data in (b"\xff\xfe\x00garbage", b"0" * 2_000_000, "\u202e00020101\u0000".encode(), b"hQVDUFY" + b"A" * 100_000):
        run = pos_sim("code", "parse", "--json", "-", stdin=data)
        assert run.returncode == 2 and b"Traceback" not in run.stderr
        assert run.stderr.decode().startswith("error: ")


@pytest.mark.parametrize(("issued_ago_s", "fresh"), [(5, "yes"), (600, "no: expired")])
def test_parse_tells_a_ride_codes_fields_and_age(issued_ago_s, fresh):
    from datetime import datetime, timedelta, timezone

    from pos_sim.domain.codes import ride

    now = datetime.now(timezone.utc).replace(microsecond=0)
    private_key, _public = ride.generate_key_pair(7, now - timedelta(days=1), now + timedelta(days=1))
    text = ride.sign(ride.RideCode(7, bytes.fromhex("00112233445566778899aabb"), now - timedelta(seconds=issued_ago_s),
                                   60, 42), private_key)
    run = pos_sim("code", "parse", text, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["kind"] == "ride-code" and report["fields"]["key_id"] == 7 and report["fields"]["sequence"] == 42
    assert issued_ago_s <= report["fields"]["age_s"] <= issued_ago_s + 30 and report["fields"]["fresh"] == fresh
    assert report["fields"]["signature"].startswith("not verified")
