"""Numeric wallet payment codes: the conformance vectors, which wallet each rule picks, and bad input."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_sim.domain.codes import wallet
from pos_sim.domain.errors import CodeError

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=40)


def test_the_barcode_vectors_decode_to_their_expected_fields(emv_vectors):
    barcodes = [v for v in emv_vectors if v["format"] == "barcode"]
    assert len(barcodes) == 2
    for vector in barcodes:
        code = wallet.decode(vector["payload"])
        code.validate(strict=True)
        assert code.kind == "wallet-paycode"
        assert vector["expected"].items() <= code.fields().items(), vector["id"]


def test_a_structured_alipay_plus_code_names_its_parts():
    code = wallet.decode("251001020123456789012345")
    assert code.fields() == {
        "wallet": "Alipay+",
        "prefix": "25",
        "length": 24,
        "code_issuer_identifier": "251001",
        "business_type_identifier": "02",
        "uin": "0123456789012345",
    }
    assert code.as_objects() == [
        {"name": "code_issuer_identifier", "offset": 0, "value": "251001"},
        {"name": "business_type_identifier", "offset": 6, "value": "02"},
        {"name": "uin", "offset": 8, "value": "0123456789012345"},
    ]


@pytest.mark.parametrize(
    ("text", "wallet_name"),
    [
        ("134567890123456789", "WeChat Pay"),  # 18 digits, 13
        ("154567890123456789", "WeChat Pay"),  # 15: Hong Kong users
        ("2512345678901234", "Alipay"),  # 16 digits, the shortest Alipay
        ("301234567890123456789012", "Alipay"),  # 24 digits, digits 7-8 "56", not "02"
        ("6212345678901234567", "UnionPay"),  # 19 digits, 62
        ("99123456789012345", "Alipay+"),  # any other 17-32 digits
        ("12345678901234567890123456789012", "Alipay+"),
        ("101234020123456789012345", "Alipay+"),  # 24 digits with "02" wins over every prefix
    ],
)
def test_each_wallet_rule(text, wallet_name):
    code = wallet.decode(text)
    assert code.fields()["wallet"] == wallet_name
    assert code.fields()["prefix"] == text[:2]
    assert code.fields()["length"] == len(text)


@pytest.mark.parametrize(
    ("text", "reason", "offset"),
    [
        ("", "empty", None),
        ("9912345678901234", "16 digits with prefix 99 match no wallet: WeChat Pay 18 digits 10-15", None),
        ("1234567890123", "13 digits with prefix 12 match no wallet", None),
        ("1" * 33, "33 digits with prefix 11 match no wallet", None),
        ("28943186 9362714645", "digits only, found ' '", 8),
        ("２８９４３１８６９３６２７１４６４５", "digits only", 0),  # full-width digits
        ("289431869362714645\n", "digits only, found '\\n'", 18),
    ],
)
def test_bad_codes_say_why(text, reason, offset):
    with pytest.raises(CodeError) as caught:
        wallet.decode(text)
    assert reason in caught.value.reason
    assert caught.value.offset == offset


@pytest.mark.parametrize("length", [20, 23, 25, 32])
def test_strict_refuses_a_reserved_alipay_plus_length(length):
    code = wallet.decode("99" + "1" * (length - 2))
    code.validate()
    with pytest.raises(CodeError, match=f"{length}-digit Alipay\\+ code is reserved"):
        code.validate(strict=True)


def test_strict_refuses_a_24_digit_alipay_plus_code_that_is_not_a_payment_code():
    code = wallet.decode("991001030123456789012345")
    code.validate()
    with pytest.raises(CodeError, match="business type 02"):
        code.validate(strict=True)


@pytest.mark.parametrize(
    ("issuer", "uin", "reason"),
    [
        ("25100", "0123456789012345", "code issuer identifier is 6 digits"),
        ("25100x", "0123456789012345", "code issuer identifier is 6 digits"),
        ("251001", "012345678901234", "UIN is 16 digits"),
        ("251001", "٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥", "UIN is 16 digits"),  # Arabic-Indic digits
    ],
)
def test_make_alipay_plus_code_refuses_bad_parts(issuer, uin, reason):
    with pytest.raises(CodeError, match=reason):
        wallet.make_alipay_plus_code(issuer, uin)


@given(st.text(alphabet="0123456789", min_size=6, max_size=6), st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_issued_alipay_plus_codes_decode_to_their_parts(issuer, uin):
    code = wallet.decode(wallet.make_alipay_plus_code(issuer, uin))
    code.validate(strict=True)
    assert code.fields() == {
        "wallet": "Alipay+",
        "prefix": issuer[:2],
        "length": 24,
        "code_issuer_identifier": issuer,
        "business_type_identifier": "02",
        "uin": uin,
    }


@given(st.text(alphabet="0123456789", min_size=17, max_size=32))
def test_every_17_to_32_digit_code_belongs_to_some_wallet(text):
    assert wallet.decode(text).fields()["wallet"] in ("WeChat Pay", "Alipay", "Alipay+", "UnionPay")


@given(st.integers(10, 15), st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_18_digits_from_10_to_15_are_wechat_pay(prefix, rest):
    assert wallet.decode(f"{prefix}{rest}").wallet == "WeChat Pay"


def _decode_and_validate(text: str) -> None:
    code = wallet.decode(text)
    code.validate()
    code.validate(strict=True)
    code.fields()
    code.as_objects()


@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("latin-1")), digit_strings))
def test_any_text_decodes_or_raises_code_error(text):
    try:
        _decode_and_validate(text)
    except CodeError:
        pass


def test_a_megabyte_of_digits_raises_code_error():
    text = "".join(random.Random(7).choices("0123456789", k=1_000_000))
    with pytest.raises(CodeError, match="1000000 digits"):
        _decode_and_validate(text)
