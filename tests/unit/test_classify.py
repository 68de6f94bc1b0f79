"""classify() tells what any scanned text is; codes.parse() reads every conformance vector as its kind."""

import pytest

from pos_sim.domain import codes
from pos_sim.domain.errors import CodeError

VECTOR_KINDS = {("mpm", "emv"): "emv-mpm", ("cpm", "emv"): "emv-cpm", ("cpm", "barcode"): "wallet-paycode"}


def test_every_vector_is_classified_as_its_kind_and_parses_to_its_validity(emv_vectors):
    for vector in emv_vectors:
        assert codes.classify(vector["payload"]).kind == VECTOR_KINDS[vector["kind"], vector["format"]], vector["id"]
        try:
            codes.parse(vector["payload"])
            valid = True
        except CodeError:
            valid = False
        assert valid is vector["valid"], vector["id"]


@pytest.mark.parametrize(
    "text, kind, detail",
    [
        ("134567890123456789", "wallet-paycode", "WeChat Pay"),
        ("289431869362714645", "wallet-paycode", "Alipay"),
        ("251001020123456789012345", "wallet-paycode", "Alipay+"),
        ("6212345678901234567", "wallet-paycode", "UnionPay"),
        ("4006381333931", "gs1", "ean13"),
        ("036000291452", "gs1", "upca"),
        ("96385074", "gs1", "ean8"),
        ("https://qr.alipay.com/bax01234", "url", None),
        ("hQVDUFYwMQ==", "emv-cpm", None),
        ("0002010102115802SG", "emv-mpm", None),
        ("9912345678901234", "unknown", None),
        ("hello", "unknown", None),
        ("", "unknown", None),
        ("0" * 5000, "unknown", None),
    ],
)
def test_classify(text, kind, detail):
    assert codes.classify(text) == codes.Classification(kind, detail)


def test_unknown_text_says_what_a_code_could_have_been():
    with pytest.raises(CodeError, match="not a payment code"):
        codes.parse("hello")
    with pytest.raises(CodeError, match="match no wallet"):
        codes.parse("9912345678901234")
