"""EMVCo merchant-presented QR: the conformance vectors, both modes, and properties of build/parse."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_sim.domain.codes import emv_mpm
from pos_sim.domain.codes.crc import crc16_ccitt_false
from pos_sim.domain.errors import CodeError

# Valid-in-the-wild vectors that strict EMVCo v1.0 refuses, with the rule each one breaks.
STRICT_REFUSES = {
    "mvallim-pix-city-16-chars-4682": "merchant_city may have at most 15",
    "mvallim-pix-zero-amount-1F70": "must not be zero",
    "odoo-br-pix-no-ref-B27F": "merchant_city (ID 60) is missing",
    "qris-lowercase-crc-485d": "must be uppercase",
    "phannaly-kh-kuntheas-shop": "merchant_city may have at most 15",
    "duitnow-rhb-p2p-rm1": "Payload Format Indicator '02'",
    "promptpay-dtinth-phone-local": "mcc (ID 52) is missing",
    "promptpay-dtinth-national-id": "mcc (ID 52) is missing",
    "promptpay-dtinth-ewallet": "mcc (ID 52) is missing",
    "promptparse-strict-valid-42BE": "mcc (ID 52) is missing",
    "promptparse-billpayment-ref3": "mcc (ID 52) is missing",
    "xstr-thai-billpay-static-858E": "mcc (ID 52) is missing",
    "xstr-thai-promptpay-taxid-713E": "mcc (ID 52) is missing",
}

# Expected keys of the vectors that name a scheme's merchant account sub-fields.
SCHEME_ACCOUNT_KEYS = ("promptpay_proxy", "fps", "pix", "paynow", "biller", "napas")


def mpm_vectors(vectors):
    return [v for v in vectors if v["kind"] == "mpm"]


def check_expected(fields: dict, expected: dict) -> None:
    accounts = fields["merchant_accounts"]
    for key, want in expected.items():
        if key == "mai_guids":
            assert {k: accounts[k]["guid"] for k in want} == want
        elif key == "merchant_account_ids":
            assert sorted(accounts) == sorted(want)
        elif key in SCHEME_ACCOUNT_KEYS:
            subfields = [{k: v for k, v in a.items() if k != "guid"} for a in accounts.values() if isinstance(a, dict)]
            assert want in subfields, f"{key}: {want} not among {subfields}"
        elif key == "qris_nmid":
            assert accounts["51"]["02"] == want
        else:
            assert fields[key] == want, key


def test_every_mpm_vector_has_its_expected_validity_and_fields(emv_vectors):
    for vector in mpm_vectors(emv_vectors):
        try:
            code = emv_mpm.decode(vector["payload"])
        except CodeError:
            assert not vector["valid"], vector["id"]
            assert not vector["expected"], f"{vector['id']}: expected fields but TLV breaks"
            continue
        check_expected(code.fields(), vector["expected"])
        if vector["valid"]:
            code.validate()
        else:
            with pytest.raises(CodeError):
                code.validate()


def test_strict_mode_refuses_the_documented_deviations_and_nothing_else(emv_vectors):
    for vector in mpm_vectors(emv_vectors):
        outcome = None
        try:
            emv_mpm.parse(vector["payload"], strict=True)
        except CodeError as exc:
            outcome = str(exc)
        if not vector["valid"]:
            assert outcome is not None, vector["id"]
        elif vector["id"] in STRICT_REFUSES:
            assert outcome is not None and STRICT_REFUSES[vector["id"]] in outcome, (vector["id"], outcome)
        else:
            assert outcome is None, (vector["id"], outcome)


def test_errors_say_what_and_where():
    with pytest.raises(CodeError) as exc:
        emv_mpm.decode("00A201")
    assert (exc.value.offset, exc.value.tag) == (2, "00")
    assert "length 'A2' is not two digits" in str(exc.value)
    with pytest.raises(CodeError) as exc:
        emv_mpm.parse("0002010102115802SG53037026304FFFF")
    assert exc.value.tag == "63" and "computed" in str(exc.value)
    broken = "00020101021226590016A0110100000000000270530303105802040758026559009TOKOPEDIA"
    with pytest.raises(CodeError) as exc:
        emv_mpm.decode(broken)
    assert exc.value.offset is not None


def test_lengths_count_characters_and_crc_counts_utf8_bytes():
    payload = emv_mpm.build(
        {
            "merchant_accounts": {"29": {"guid": "D15600000000", "05": "A93FO3230Q"}},
            "mcc": "4111",
            "currency": "156",
            "country": "CN",
            "merchant_name": "BEST TRANSPORT",
            "merchant_city": "BEIJING",
            "language_template": {"00": "ZH", "01": "最佳运输", "02": "北京"},
        }
    )
    assert "0104最佳运输" in payload
    assert payload[-4:] == crc16_ccitt_false(payload[:-4].encode("utf-8"))
    assert emv_mpm.parse(payload, strict=True).fields()["language_template"]["01"] == "最佳运输"


def test_an_amount_finer_than_its_currency_is_refused():
    base = {"merchant_accounts": {"26": {"guid": "SG.PAYNOW", "01": "2"}}, "mcc": "0000", "country": "JP",
            "merchant_name": "SHOP", "merchant_city": "TOKYO", "currency": "392"}
    assert emv_mpm.decode(emv_mpm.build({**base, "amount": "1200"})).fields()["currency_alpha"] == "JPY"
    with pytest.raises(CodeError, match="JPY has 0"):
        emv_mpm.build({**base, "amount": "1200.5"})


ans = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=25)
fields_strategy = st.fixed_dictionaries(
    {
        "point_of_initiation": st.sampled_from(["11", "12"]),
        "merchant_accounts": st.dictionaries(
            st.integers(26, 51).map(str),
            st.fixed_dictionaries({"guid": st.from_regex(r"[A-Z0-9.]{5,32}", fullmatch=True), "01": ans}),
            min_size=1,
            max_size=2,
        ),
        "mcc": st.from_regex(r"[0-9]{4}", fullmatch=True),
        "currency": st.sampled_from(["702", "764", "344", "458", "360", "986", "156", "392", "414"]),
        "amount": st.none() | st.from_regex(r"[1-9][0-9]{0,6}", fullmatch=True),
        "country": st.from_regex(r"[A-Z]{2}", fullmatch=True),
        "merchant_name": ans,
        "merchant_city": ans.map(lambda s: s[:15]),
        "postal_code": st.none() | st.from_regex(r"[0-9]{5,6}", fullmatch=True),
        "additional_data": st.none() | st.fixed_dictionaries({"01": ans, "07": ans}),
        "language_template": st.none()
        | st.fixed_dictionaries({"00": st.sampled_from(["ZH", "TH", "JA"]), "01": st.text(min_size=1, max_size=25)}),
    }
)


@given(fields_strategy)
def test_build_then_parse_round_trips(fields):
    payload = emv_mpm.build(fields)
    parsed = emv_mpm.parse(payload).fields()
    for name, value in fields.items():
        assert parsed[name] == value, name
    assert emv_mpm.build({k: v for k, v in parsed.items() if k not in ("crc", "currency_alpha")}) == payload


@given(st.text(max_size=300))
def test_random_text_raises_only_code_error(text):
    try:
        emv_mpm.parse(text)
    except CodeError:
        pass


@given(fields_strategy, st.data())
def test_any_changed_character_is_caught(fields, data):
    payload = emv_mpm.build(fields)
    i = data.draw(st.integers(0, len(payload) - 1))
    new = data.draw(st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(lambda c: c != payload[i]))
    mutated = payload[:i] + new + payload[i + 1 :]
    if mutated[-4:].upper() == payload[-4:] and i >= len(payload) - 4:
        return  # a CRC digit changed only in case: the same CRC
    with pytest.raises(CodeError):
        emv_mpm.parse(mutated)


def test_a_megabyte_of_garbage_is_refused_before_it_is_read():
    # refused on its length alone, so the time does not grow with the input (scripts/bench_codes.py times it)
    with pytest.raises(CodeError, match="longer than any QR code"):
        emv_mpm.parse("0099" + "x" * 1_000_000)
