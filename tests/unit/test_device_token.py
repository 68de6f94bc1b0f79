"""Device tokens: the token PAN (Luhn), expiry, the application cryptogram (session key, AES-CMAC),
and the CPM payload of a presentation, built and read back."""

import base64
from datetime import date

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import assume, given
from hypothesis import strategies as st

from pos_sim.domain import device_token
from pos_sim.domain.codes import classify, emv_cpm
from pos_sim.domain.codes.emv_cpm import PREFIX, TokenPresentation, build, read_token_presentation, token_presentation
from pos_sim.domain.device_token import (
    cryptogram,
    expiry_after,
    is_expired,
    luhn_digit,
    luhn_valid,
    presentation_data,
    session_key,
    token_pan,
    verify,
)
from pos_sim.domain.errors import CodeError, DomainError

KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
PAN = "9999000112345677"
AID = "F0504F5353494D01"

keys = st.binary(min_size=16, max_size=16)
atcs = st.integers(0, 0xFFFF)
expiries = st.builds(lambda yy, mm: f"{yy:02d}{mm:02d}", st.integers(0, 99), st.integers(1, 12))
pans = st.builds(token_pan, st.just("99990001"), st.integers(7, 10).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))


# --- token PAN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["79927398713", "4111111111111111", "5555555555554444", "378282246310005", PAN])
def test_luhn_accepts_known_valid_numbers(number):
    assert luhn_valid(number) and luhn_digit(number[:-1]) == number[-1]


@pytest.mark.parametrize("number", ["79927398710", "4111111111111112", "", "7", "4111 1111 1111 1111", "411111111111111x"])
def test_luhn_rejects_others(number):
    assert not luhn_valid(number)


@given(pans, st.integers(0, 18), st.integers(1, 9))
def test_a_token_pan_is_luhn_valid_and_one_changed_digit_is_caught(pan, where, by):
    assert pan.startswith("99990001") and len(pan) in range(16, 20) and luhn_valid(pan)
    where %= len(pan)
    changed = pan[:where] + str((int(pan[where]) + by) % 10) + pan[where + 1 :]
    assert not luhn_valid(changed)


@pytest.mark.parametrize(("bin_", "account"), [("99990001", "123456"), ("99990001", "12345678901"), ("9999000A", "1234567"), ("", "")])
def test_a_token_pan_is_16_to_19_digits(bin_, account):
    with pytest.raises(CodeError):
        token_pan(bin_, account)


# --- expiry --------------------------------------------------------------------------------------


def test_expiry_is_the_same_month_years_later_good_through_its_last_day():
    assert expiry_after(date(2026, 11, 21), 3) == "2911"
    assert not is_expired("2911", date(2029, 11, 30))
    assert is_expired("2911", date(2029, 12, 1)) and is_expired("2911", date(2030, 1, 1))
    assert not is_expired("2912", date(2029, 12, 31)) and is_expired("2912", date(2030, 1, 1))
    with pytest.raises(CodeError):
        expiry_after(date(2098, 1, 1), 3)  # 2101 does not fit YYMM


@pytest.mark.parametrize("expiry", ["2913", "2900", "291", "29111", "ab12", ""])
def test_a_bad_expiry_is_refused(expiry):
    with pytest.raises(CodeError) as info:
        is_expired(expiry, date(2026, 1, 1))
    assert info.value.tag == "5F24"


# --- the application cryptogram ----------------------------------------------------------------


def test_known_answers():
    assert session_key(KEY, 1).hex().upper() == "3A9979458D82F193321BA11527DE6C4C"
    assert presentation_data(PAN, "2911", 1).hex().upper() == "999900011234567729110001"
    assert presentation_data("9999000112345678901", "2911", 258).hex().upper() == "9999000112345678901F29110102"
    assert cryptogram(KEY, PAN, "2911", 1).hex().upper() == "838467EA024C012B"
    assert cryptogram(KEY, PAN, "2911", 2).hex().upper() == "2D592944C3711671"


@given(keys, atcs)
def test_the_session_key_is_the_master_key_over_atc_f0_and_zeros(key, atc):
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    block = decryptor.update(session_key(key, atc)) + decryptor.finalize()
    assert block == atc.to_bytes(2, "big") + b"\xf0" + bytes(13)


@given(keys, pans, expiries, atcs)
def test_the_cryptogram_verifies_and_is_8_bytes(key, pan, expiry, atc):
    made = cryptogram(key, pan, expiry, atc)
    assert len(made) == 8 and verify(key, pan, expiry, atc, made)
    assert not verify(key, pan, expiry, atc, bytes(b ^ 1 if i == 7 else b for i, b in enumerate(made)))
    assert not verify(key, pan, expiry, atc, made[:7])


@given(keys, keys, pans, pans, expiries, expiries, atcs, atcs)
def test_any_changed_input_changes_the_cryptogram(key, key2, pan, pan2, expiry, expiry2, atc, atc2):
    made = cryptogram(key, pan, expiry, atc)
    if key2 != key:
        assert cryptogram(key2, pan, expiry, atc) != made
    if pan2 != pan:
        assert cryptogram(key, pan2, expiry, atc) != made
    if expiry2 != expiry:
        assert cryptogram(key, pan, expiry2, atc) != made
    if atc2 != atc:
        assert cryptogram(key, pan, expiry, atc2) != made


@pytest.mark.parametrize("key", [bytes(15), bytes(17), b"", "00" * 16, None])
def test_a_master_key_is_16_bytes(key):
    with pytest.raises(DomainError, match="16 bytes"):
        cryptogram(key, PAN, "2911", 1)


@pytest.mark.parametrize(("pan", "expiry", "atc", "tag"), [
    (PAN, "2911", -1, "9F36"), (PAN, "2911", 0x10000, "9F36"), (PAN, "2911", True, "9F36"), (PAN, "2911", "1", "9F36"),
    ("999900011234567", "2911", 1, "5A"), ("99990001123456789012", "2911", 1, "5A"), ("999900011234567X", "2911", 1, "5A"),
    (PAN, "2913", 1, "5F24"),
])
def test_bad_presentation_data_is_refused(pan, expiry, atc, tag):
    with pytest.raises(CodeError) as info:
        cryptogram(KEY, pan, expiry, atc)
    assert info.value.tag == tag


# --- the CPM payload of a presentation ---------------------------------------------------------


def presentation(atc: int = 1, **changes) -> TokenPresentation:
    fields = {"pan": PAN, "expiry": "2911", "atc": atc, "cryptogram": cryptogram(KEY, PAN, "2911", atc), "aid": AID,
              "label": "SIMWALLET"} | changes
    return TokenPresentation(**fields)


def test_a_presentation_is_a_strict_cpm_payload_with_the_token_data():
    text = token_presentation(presentation())
    assert text.startswith(PREFIX) and classify(text).kind == "emv-cpm"
    [app] = emv_cpm.parse(text, strict=True).fields()["applications"]
    assert app == {"aid": AID, "label": "SIMWALLET", "pan": PAN, "track2": f"{PAN}D2911201",
                   "transparent": {"5F24": "291130", "9F36": "0001", "9F26": "838467EA024C012B", "9F27": "80"}}
    assert read_token_presentation(text) == presentation()


@pytest.mark.parametrize(("expiry", "day"), [("2702", "270228"), ("2802", "280229"), ("3102", "310228"), ("2904", "290430"), ("2912", "291231")])
def test_the_expiry_date_is_the_last_day_of_the_month(expiry, day):
    [app] = emv_cpm.decode(token_presentation(presentation(expiry=expiry))).fields()["applications"]
    assert app["transparent"]["5F24"] == day


@given(pans, expiries, atcs, st.binary(min_size=8, max_size=8), st.one_of(st.none(), st.text("ABCXYZ 09", min_size=1, max_size=16)))
def test_build_then_read_gives_the_presentation_back(pan, expiry, atc, mac, label):
    made = TokenPresentation(pan, expiry, atc, mac, AID, label)
    text = token_presentation(made)
    emv_cpm.parse(text, strict=True)
    assert classify(text).kind == "emv-cpm" and read_token_presentation(text) == made


@pytest.mark.parametrize(("changes", "tag"), [
    ({"expiry": "2913"}, "5F24"), ({"atc": 0x10000}, "9F36"), ({"cryptogram": bytes(7)}, "9F26"),
    ({"cid": 256}, "9F27"), ({"pan": "99990001234X"}, "5A"), ({"aid": "A0"}, "4F"),
])
def test_a_bad_presentation_is_not_built(changes, tag):
    with pytest.raises(CodeError) as info:
        token_presentation(presentation(**changes))
    assert info.value.tag == tag


def app_with(transparent: dict[str, str] | None, **fields) -> str:
    application = {"aid": AID, "pan": PAN, "track2": f"{PAN}D2911201"} | fields
    if transparent is not None:
        application["transparent"] = transparent
    return build([application])


GOOD = {"5F24": "291130", "9F36": "0001", "9F26": "838467EA024C012B", "9F27": "80"}


@pytest.mark.parametrize(("text", "tag", "says"), [
    ("hQVDUFYwMQ==", "61", "no Application Template"),
    ("not base64!", None, "not RFC 4648 base64"),
    (app_with(None), "61", "no transparent template"),
    (app_with(GOOD | {"9F26": "838467EA024C01"}), "9F26", "7 bytes, not 8"),
    (app_with({k: v for k, v in GOOD.items() if k != "9F26"}), "63", "no application cryptogram (9F26)"),
    (app_with({k: v for k, v in GOOD.items() if k != "9F36"}), "63", "no ATC (9F36)"),
    (app_with({k: v for k, v in GOOD.items() if k != "9F27"}), "63", "no cryptogram information data (9F27)"),
    (app_with(GOOD | {"9F27": "40"}), "9F27", "not an ARQC"),
    (app_with(GOOD | {"5F24": "291330"}), "5F24", "not YYMMDD"),
    (app_with(GOOD | {"5F24": "301130"}), "57", "track 2 expiry 2911 is not the expiry 3011"),
    (app_with(GOOD, pan="9999000112345685"), "57", "track 2 PAN"),
    (app_with({k: v for k, v in GOOD.items() if k != "5F24"}, track2=None), "61", "no expiry"),
])
def test_reading_says_what_is_wrong_and_where(text, tag, says):
    with pytest.raises(CodeError) as info:
        read_token_presentation(text)
    assert says in str(info.value) and info.value.tag == tag


def test_a_tag_twice_in_the_transparent_template_is_refused():
    text = app_with(GOOD)
    raw = emv_cpm.decode(text)
    app = raw.tree[1]
    transparent = next(c for c in app.children if c.tag == "63")
    doubled = emv_cpm.Tlv("63", children=transparent.children + (emv_cpm.Tlv("9F36", bytes.fromhex("0002")),))
    tree = (raw.tree[0], emv_cpm.Tlv("61", children=tuple(doubled if c.tag == "63" else c for c in app.children)))
    with pytest.raises(CodeError, match="twice") as info:
        read_token_presentation(base64.b64encode(emv_cpm.CpmPayload(tree).to_bytes()).decode())
    assert info.value.tag == "9F36"


def test_track_2_alone_or_5a_with_5f24_alone_serve():
    assert read_token_presentation(app_with(GOOD, pan=None)).pan == PAN
    alone = read_token_presentation(app_with(GOOD, track2=None))
    assert (alone.pan, alone.expiry, alone.atc, alone.label) == (PAN, "2911", 1, None)


@given(st.text(max_size=200))
def test_reading_any_text_raises_code_error_or_reads(text):
    assume(text.strip() != "")
    try:
        read_token_presentation(text)
    except CodeError:
        pass


@given(st.binary(max_size=120))
def test_reading_any_bytes_after_the_prefix_raises_code_error_or_reads(data):
    try:
        read_token_presentation(base64.b64encode(bytes.fromhex("8505435056303161") + data).decode())
    except CodeError:
        pass
