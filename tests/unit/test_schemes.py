"""National scheme builders: byte-for-byte what each scheme's own generator prints, where the
vectors hold one, and otherwise the same fields as the scheme's real codes."""

from datetime import date

import pytest

from pos_sim.domain.codes import emv_mpm, schemes
from pos_sim.domain.errors import CodeError
from pos_sim.domain.money import Money


def vector(vectors, id_):
    return next(v for v in vectors if v["id"] == id_)["payload"]


def fields(payload):
    code = emv_mpm.parse(payload)
    return {k: v for k, v in code.fields().items() if k != "crc"}, schemes.schemes_of(code)


def test_promptpay_matches_the_promptpay_qr_generator(emv_vectors):
    assert schemes.promptpay(phone="080-123-4567") == vector(emv_vectors, "promptpay-dtinth-phone-local")
    assert schemes.promptpay(national_id="1111111111111") == vector(emv_vectors, "promptpay-dtinth-national-id")
    assert schemes.promptpay(ewallet="012345678901234") == vector(emv_vectors, "promptpay-dtinth-ewallet")


def test_promptpay_with_amount_carries_the_same_fields_as_promptparse(emv_vectors):
    ours = schemes.promptpay(phone="0801111111", amount=Money.of_minor(2015, "THB"))
    assert fields(ours) == fields(vector(emv_vectors, "promptparse-strict-valid-42BE"))


def test_promptpay_bill_payment(emv_vectors):
    ours = schemes.promptpay_bill(biller_id="0112233445566", ref1="CUSTOMER001", ref2="INV001")
    theirs, names = fields(vector(emv_vectors, "promptparse-billpayment-ref3"))
    got, got_names = fields(ours)
    assert got["merchant_accounts"] == theirs["merchant_accounts"] and got_names == names == ["PromptPay bill payment"]


def test_pix_matches_the_central_bank_manual_example(emv_vectors):
    payload = schemes.pix(key="123e4567-e12b-12d1-a456-426655440000", merchant_name="Fulano de Tal", merchant_city="BRASILIA")
    assert payload == vector(emv_vectors, "pix-bcb-manual-static-1D3D")
    assert emv_mpm.parse(payload, strict=True)


def test_paynow_and_fps_carry_the_fields_of_real_codes(emv_vectors):
    paynow = schemes.paynow(
        uen="200002150HWCF", amount=Money.of_minor(10000, "SGD"), editable=False,
        merchant_name="company_1_data", reference="INV/TEST/0001",
    )
    fps = schemes.fps(
        mobile="+852-67891234", amount=Money.of_minor(10000, "HKD"),
        merchant_name="company_1_data", reference="INV/TEST/0001",
    )
    for ours, id_ in ((paynow, "odoo-sg-paynow-uen-16C8"), (fps, "odoo-hk-fps-mobile-A154")):
        got, names = fields(ours)
        theirs, their_names = fields(vector(emv_vectors, id_))
        assert got["amount"] == "100.00" and theirs["amount"] == "100"  # both valid EMV amounts
        got["amount"] = theirs["amount"]
        assert (got, names) == (theirs, their_names)
        emv_mpm.parse(ours, strict=True)


def test_paynow_to_a_mobile_with_expiry():
    got, names = fields(schemes.paynow(mobile="91234567", expiry=date(2030, 12, 31)))
    assert got["merchant_accounts"]["26"] == {"guid": "SG.PAYNOW", "01": "0", "02": "+6591234567", "03": "1", "04": "20301231"}
    assert names == ["PayNow"] and got["point_of_initiation"] == "11"


def test_qris_duitnow_are_valid_and_recognised(emv_vectors):
    qris = schemes.qris(nmid="ID1026478871761", merchant_name="TOKO ALA", merchant_city="SURABAYA", mcc="5970",
                        postal_code="60232", terminal_label="A01", amount=Money.of_minor(1500000, "IDR"))
    got, names = fields(qris)
    real, _ = fields(vector(emv_vectors, "qris-gojek-real-static-485D"))
    assert got["merchant_accounts"]["51"]["02"] == real["merchant_accounts"]["51"]["02"]
    assert names == ["QRIS"] and got["amount"] == "15000.00" and got["currency_alpha"] == "IDR"
    duitnow = schemes.duitnow(acquirer_id="564160", account="221217000072525RHBQR000000", merchant_name="HOH HUN YUEN",
                              merchant_city="KUALA LUMPUR", amount=Money.of_minor(100, "MYR"))
    got, names = fields(duitnow)
    assert names == ["DuitNow"] and got["currency_alpha"] == "MYR" and got["amount"] == "1.00"
    emv_mpm.parse(qris, strict=True)
    emv_mpm.parse(duitnow, strict=True)


def test_builders_refuse_what_the_scheme_cannot_carry():
    with pytest.raises(CodeError, match="THB"):
        schemes.promptpay(phone="0812345678", amount=Money.of_minor(100, "SGD"))
    with pytest.raises(CodeError, match="exactly one"):
        schemes.promptpay(phone="0812345678", national_id="1111111111111")
    with pytest.raises(CodeError, match="13 digits"):
        schemes.promptpay(national_id="123")
    with pytest.raises(CodeError, match="NMID"):
        schemes.qris(nmid="XX1", merchant_name="A", merchant_city="B", mcc="5411")
    with pytest.raises(CodeError, match="txid"):
        schemes.pix(key="k", merchant_name="A", merchant_city="B", txid="has space")
