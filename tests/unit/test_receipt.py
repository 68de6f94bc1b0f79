"""Receipts: what they print in 32, 42 and 48 columns (never wider, with Thai and Japanese items
too), totals that add up, the training stamp, copy labels, refunds naming their original receipt,
and receipts that cannot be made refused with a clear message."""

import re
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money, format_money, parse_money
from pos_sim.domain.receipt import (
    WIDTHS,
    Copy,
    Kind,
    Outcome,
    Receipt,
    ReceiptLine,
    Style,
    TaxLine,
    Tender,
    Weight,
    display_width,
    layout,
    mask_code,
    rows,
    wrap,
)

SINGAPORE = ZoneInfo("Asia/Singapore")
WHEN = datetime(2025, 3, 14, 14, 3, 22, tzinfo=SINGAPORE)
CODE = "281234567890123456"


def sgd(minor: int) -> Money:
    return Money.of_minor(minor, "SGD")


ITEMS = (
    ReceiptLine.priced("Kopi O kosong", sgd(180), 2),
    ReceiptLine.priced("Kaya toast set", sgd(550)),
    ReceiptLine.priced("Durian (Mao Shan Wang)", sgd(5000), Weight(512)),
)


def sale(lines=ITEMS, **changes) -> Receipt:
    """A 3-item SGD sale, 9% GST included, paid by a customer code; ``changes`` override fields.

    ``docs/receipt-sample.png`` is its customer copy: ``receipt_png(sale(), 42, path)``.
    """
    subtotal = changes.get("subtotal") or sum((line.amount for line in lines), sgd(0))
    fields = dict(
        merchant_name="KOPI CORNER PTE LTD",
        merchant_id="M000123456",
        terminal_id="T01",
        receipt_number="T01-000123",
        time=WHEN,
        kind=Kind.SALE,
        lines=lines,
        subtotal=subtotal,
        total=subtotal,
        tender=Tender.CUSTOMER_CODE,
        outcome=Outcome.APPROVED,
        copy=Copy.CUSTOMER,
        address=("1 Raffles Place #01-01", "Singapore 048616"),
        store_id="S001",
        operator="Alice",
        taxes=(TaxLine("GST", "9%", sgd((subtotal.minor * 9 + 54) // 109), included=True),),
        payment_id="202503141940108001001888202000000001",
        customer_code=mask_code(CODE),
        wallet="GCash",
        footer=("GST Reg. No. 201912345K", "Thank you! Please come again."),
    )
    return Receipt(**(fields | changes))


def refund(**changes) -> Receipt:
    return sale(**({"kind": Kind.REFUND, "receipt_number": "T01-000130", "original_receipt": "T01-000123"} | changes))


WIDE = (
    ReceiptLine.priced("ข้าวผัดกุ้ง พิเศษ ไข่ดาว", sgd(800)),  # Thai: vowels and tone marks take no column
    ReceiptLine.priced("抹茶ラテ（アイス）ラージサイズ", sgd(650), 2),  # Japanese: two columns a character
    ReceiptLine.priced("Supercalifragilisticexpialidocious-extra-long-product-name", sgd(125)),
)


def amount_at_end(line: str) -> Money:
    return parse_money(line.rsplit(None, 1)[-1], "SGD")


# --- widths ----------------------------------------------------------------------------------


def test_display_width_counts_columns_as_a_printer_does():
    assert display_width("Kopi") == 4
    assert display_width("抹茶ラテ") == 8  # wide
    assert display_width("（ア）") == 6  # full-width brackets
    assert display_width("ｶﾌｪ") == 3  # half-width katakana
    assert display_width("ข้าวผัดกุ้ง") == 7  # 11 code points, 4 of them marks above or below
    assert display_width("café") == display_width("cafe\u0301") == 4


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "receipt",
    [sale(), sale(lines=WIDE), refund(training=True), sale(lines=WIDE, locale="ja_JP", training=True)],
    ids=["latin", "thai-japanese", "refund-training", "ja-locale"],
)
def test_no_line_is_wider_than_the_printer(receipt, width):
    lines = layout(receipt, width)
    assert all(display_width(line) <= width for line in lines), [line for line in lines if display_width(line) > width]
    assert max(map(display_width, lines)) == width  # rules and item rows fill the paper


@pytest.mark.parametrize("width", WIDTHS)
def test_thai_and_japanese_items_keep_their_amounts_right_aligned(width):
    lines = layout(sale(lines=WIDE), width)
    for item, shown in ((WIDE[0], "$8.00"), (WIDE[1], "$13.00")):
        first_word = item.description.split()[0][:4]
        row = next(line for line in lines if line.startswith(first_word))
        assert row.endswith(shown) and display_width(row) == width


def test_long_descriptions_wrap_between_words_and_keep_every_word():
    lines = layout(sale(lines=(ReceiptLine.priced("Kaya toast set with soft-boiled eggs and extra butter", sgd(550)),)), 32)
    start = next(i for i, line in enumerate(lines) if line.startswith("Kaya"))
    assert lines[start : start + 3] == [
        "Kaya toast set with        $5.50",
        "soft-boiled eggs and extra",
        "butter",
    ]


@given(
    st.lists(
        st.text(
            st.sampled_from("abc xyz-" + "กขคงจ" + "\u0e34\u0e35\u0e48\u0e49" + "漢字かなカナ" + "ＡＢ" + "é\u0301"),
            min_size=1,
            max_size=90,
        ).filter(str.strip),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(WIDTHS),
)
def test_any_mix_of_scripts_fits_the_paper(descriptions, width):
    lines = tuple(ReceiptLine.priced(d, sgd(100 * (i + 1)), i + 1) for i, d in enumerate(descriptions))
    receipt = sale(lines=lines, merchant_name=descriptions[0], footer=tuple(descriptions), training=True)
    assert all(display_width(line) <= width for line in layout(receipt, width))


def test_wrap_splits_text_with_no_spaces_between_characters():
    assert wrap("抹茶ラテアイス", 6) == ["抹茶ラ", "テアイ", "ス"]
    assert wrap("ข้าวผัดกุ้ง", 4) == ["ข้าวผั", "ดกุ้ง"]  # marks stay on their letter


@pytest.mark.parametrize("width", [0, 31, 40, 80, True])
def test_other_widths_are_refused(width):
    with pytest.raises(ValueError, match="32, 42, 48"):
        layout(sale(), width)


# --- what is printed -------------------------------------------------------------------------


def test_a_sale_prints_what_a_wallet_receipt_carries():
    text = "\n".join(layout(sale(), 42))
    for expected in (
        "KOPI CORNER PTE LTD",
        "1 Raffles Place #01-01",
        "Merchant ID                     M000123456",
        "Terminal ID                            T01",
        "Receipt No.                     T01-000123",
        "Date               14 Mar 2025, 2:03:22 pm",
        "Operator                             Alice",
        "Kopi O kosong                        $3.60\n  2 x $1.80",
        "Durian (Mao Shan Wang)              $25.60\n  0.512 kg x $50.00/kg",
        "GST 9% (incl.)                       $2.87",
        "Paid by            Alipay+ (customer code)",
        "Customer code          2812 **** **** 3456",
        "Payment ID",
        "APPROVED",
        "CUSTOMER COPY",
        "Thank you! Please come again.",
    ):
        assert expected in text
    assert CODE not in text.replace(" ", "")


@pytest.mark.parametrize("width", WIDTHS)
def test_printed_items_add_up_to_the_printed_total(width):
    lines = layout(sale(lines=ITEMS + WIDE), width)
    rules = [i for i, line in enumerate(lines) if line == "-" * width]
    items = lines[rules[1] + 1 : rules[2]]  # between the SALE heading and the subtotal
    amounts = [amount_at_end(line) for line in items if "$" in line and not line.startswith("  ")]  # not "  2 x $1.80"
    assert len(amounts) == len(ITEMS + WIDE)
    total = next(line for line in lines if line.startswith("TOTAL"))
    subtotal = next(line for line in lines if line.startswith("Subtotal"))
    assert sum(amounts, sgd(0)) == amount_at_end(subtotal) == amount_at_end(total) == sgd(360 + 550 + 2560 + 800 + 1300 + 125)


def test_tax_added_to_prices_is_added_to_the_total():
    receipt = sale(taxes=(TaxLine("Service charge", "10%", sgd(347), included=False),), total=sgd(3470 + 347))
    lines = layout(receipt, 32)
    assert "Service charge 10%         $3.47" in lines
    assert "TOTAL                     $38.17" in lines


def test_amounts_follow_the_receipt_locale():
    yen = Money.of_minor(1200, "JPY")
    receipt = sale(lines=(ReceiptLine.priced("抹茶ラテ", yen),), subtotal=yen, total=yen, taxes=(), locale="ja_JP")
    assert format_money(yen, "ja_JP") == "￥1,200"  # a full-width yen sign: two columns
    assert any(line.startswith("TOTAL") and line.endswith(format_money(yen, "ja_JP")) for line in layout(receipt, 32))
    assert "2025/03/14 14:03:22" in "\n".join(layout(receipt, 32))


def test_the_time_is_printed_in_the_zone_it_was_given_in():
    lines = layout(sale(time=WHEN.astimezone(timezone.utc)), 42)
    assert any(line.startswith("Date") and line.endswith("6:03:22 am") for line in lines)


def test_a_foreign_wallet_amount_is_printed_with_its_rate():
    yen = Money.of_minor(1000, "JPY")
    receipt = sale(
        lines=(ReceiptLine.priced("Omamori", yen),), subtotal=yen, total=yen, taxes=(),
        wallet_amount=sgd(3571), fx_rate=Decimal("0.03571429"),
    )
    assert "Paid SGD 35.71 at 0.03571429" in layout(receipt, 32)


def test_the_training_stamp_is_at_top_and_bottom_and_only_in_training():
    for width in WIDTHS:
        lines = layout(sale(training=True), width)
        assert "TRAINING - NOT A PAYMENT" in lines[0] and "TRAINING - NOT A PAYMENT" in lines[-1]
        assert rows(sale(training=True), width)[0].style is Style.STAMP
        assert not any("TRAINING" in line for line in layout(sale(), width))


def test_each_copy_says_which_it_is():
    customer = sale()
    merchant = customer.as_copy(Copy.MERCHANT)
    assert "CUSTOMER COPY" in "\n".join(layout(customer, 32)) and "MERCHANT COPY" not in "\n".join(layout(customer, 32))
    assert "MERCHANT COPY" in "\n".join(layout(merchant, 32))
    assert replace(merchant, copy=Copy.CUSTOMER) == customer


def test_the_receipt_number_is_printed_under_its_qr_code():
    laid = rows(sale(), 32)
    qr_rows = [row for row in laid if row.style is Style.QR]
    assert [row.text.strip() for row in qr_rows] == ["T01-000123"]


def test_a_refund_names_the_original_receipt_and_prints_money_going_back():
    lines = layout(refund(), 42)
    text = "\n".join(lines)
    assert "REFUND" in lines[lines.index("-" * 42) + 1]
    assert "Original receipt                T01-000123" in lines
    assert "Receipt No.                     T01-000130" in lines
    assert "REFUND TOTAL                       -$34.70" in lines
    assert "Kopi O kosong                       -$3.60" in lines
    assert "Refund to" in text and "Paid by" not in text


def test_a_void_names_the_receipt_it_voids():
    lines = layout(refund(kind=Kind.VOID), 32)
    assert "VOID TOTAL" in "\n".join(lines) and any(line.endswith("T01-000123") and line.startswith("Original") for line in lines)


def test_a_declined_payment_prints_its_result_code():
    lines = layout(sale(outcome=Outcome.DECLINED, result_code="USER_BALANCE_NOT_ENOUGH", payment_id=None), 42)
    assert "DECLINED" in [line.strip() for line in lines]
    assert "Result             USER_BALANCE_NOT_ENOUGH" in lines
    assert not any(line.startswith("Paid by") for line in lines)


def test_an_amount_keyed_in_without_items_prints_no_item_section():
    receipt = sale(lines=(), subtotal=sgd(1250), total=sgd(1250), taxes=())
    lines = layout(receipt, 32)
    assert "Subtotal                  $12.50" in lines and "TOTAL                     $12.50" in lines


@pytest.mark.parametrize(
    ("code", "masked"),
    [("281234567890123456", "2812 **** **** 3456"), ("2510123456782345", "2510 **** **** 2345"), ("12345678", "**** 5678"), ("7", "****")],
)
def test_mask_code_keeps_first_and_last_four_and_hides_the_length(code, masked):
    assert mask_code(code) == masked


# --- what cannot be made ---------------------------------------------------------------------


def test_line_amounts_must_follow_from_quantity_and_price():
    with pytest.raises(DomainError, match=re.escape("2 x 1.80 is 3.60, not 3.80 SGD")):
        ReceiptLine("Kopi", 2, sgd(180), sgd(380))
    with pytest.raises(DomainError, match="0.512 kg at 50.00/kg is 25.60000, not 25.80 SGD"):
        ReceiptLine("Durian", Weight(512), sgd(5000), sgd(2580))
    assert ReceiptLine("Durian", Weight(513), sgd(5000), sgd(2565)).amount == sgd(2565)  # 25.65 exactly
    assert ReceiptLine("Durian", Weight(511), sgd(4999), sgd(2554)).amount == sgd(2554)  # scale rounded down
    assert ReceiptLine.priced("Durian", sgd(4999), Weight(511)).amount == sgd(2554)  # 25.54489 half up


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: sale(subtotal=sgd(3000), total=sgd(3000)), "the lines add up to 34.70, not the subtotal 30.00 SGD"),
        (lambda: sale(total=sgd(3500)), "total 35.00 is not the subtotal 34.70 plus the tax added 0.00 SGD"),
        (lambda: sale(lines=ITEMS + (ReceiptLine.priced("Sake", Money.of_minor(900, "JPY")),), subtotal=sgd(3470)), "mixed currencies: item 'Sake' is in JPY, the total in SGD"),
        (lambda: sale(taxes=(TaxLine("VAT", "7%", Money.of_minor(1, "THB"), True),)), "mixed currencies: tax 'VAT' is in THB"),
        (lambda: ReceiptLine("Kopi", 1, sgd(180), Money.of_minor(180, "MYR")), "unit price in SGD, amount in MYR"),
        (lambda: ReceiptLine("Kopi", 0, sgd(180), sgd(0)), "quantity 0 is neither a count of 1 or more nor a Weight"),
        (lambda: ReceiptLine("Kopi", 1.5, sgd(180), sgd(270)), "quantity 1.5"),
        (lambda: Weight(0), "0 is not a whole number of grams above 0"),
        (lambda: sale(kind=Kind.REFUND), "a refund must name the receipt it refunds"),
        (lambda: sale(kind=Kind.VOID), "a void must name the receipt it voids"),
        (lambda: sale(original_receipt="T01-000100"), "a sale has no original receipt"),
        (lambda: refund(original_receipt="T01-000130"), "a refund gets a receipt number of its own"),
        (lambda: sale(receipt_number="T01 000123"), "receipt number: 'T01 000123' should be 1-32 letters"),
        (lambda: sale(time=datetime(2025, 3, 14, 14, 3)), "must be a datetime with its time zone"),
        (lambda: sale(customer_code=CODE), "customer code: 281234... is not masked"),
        (lambda: sale(customer_code="281234****1234567"), "is not masked"),
        (lambda: sale(outcome=Outcome.DECLINED), "a declined payment's receipt needs the provider's result code"),
        (lambda: sale(payment_id=None), "an approved sale needs the gateway's payment id"),
        (lambda: sale(outcome="PENDING"), "outcome: 'PENDING' is not one of APPROVED, DECLINED, CANCELLED, REVERSED"),
        (lambda: sale(lines=(), subtotal=sgd(0), total=sgd(0), taxes=()), "a wallet payment is above zero"),
        (lambda: sale(taxes=(TaxLine("GST", "9%", sgd(4000), True),)), "the tax included in prices (40.00) is more than the subtotal 34.70"),
        (lambda: TaxLine("GST", "0.09", sgd(1), True), "rate '0.09' should read like 9% or 7.5%"),
        (lambda: sale(wallet_amount=Money.of_minor(97000, "JPY")), "wallet amount and FX rate go together"),
        (lambda: sale(wallet_amount=Money.of_minor(3716, "JPY"), fx_rate=107.1), "not 107.1 (floats are inexact)"),
        (lambda: sale(wallet_amount=Money.of_minor(3800, "JPY"), fx_rate=Decimal("107.1")), "wallet amount 3800 JPY is not 34.70 SGD at 107.1"),
        (lambda: sale(wallet_amount=sgd(3470), fx_rate=Decimal(1)), "wallet amount in SGD like the total"),
        (lambda: sale(lines=(ReceiptLine.priced("Kopi\x1b@", sgd(180)),)), "holds the control character U+001B"),
        (lambda: sale(footer="Thanks"), "footer: expected a list of lines, got one text"),
        (lambda: sale(lines=ITEMS[0], subtotal=sgd(360)), "lines: expected a list of ReceiptLine"),
        (lambda: sale(merchant_name="  "), "merchant name: empty"),
        (lambda: sale(locale="xx_YY"), "locale: 'xx_YY' is not a known locale"),
    ],
)
def test_receipts_that_cannot_be_made_are_refused_with_the_reason(make, message):
    with pytest.raises(DomainError, match=re.escape(message)):
        make()


def test_errors_are_value_errors():
    with pytest.raises(ValueError):
        sale(total=sgd(1))


def test_a_receipt_is_frozen_and_takes_lists_as_tuples():
    receipt = sale(lines=list(ITEMS), footer=["Thanks"])
    assert receipt.lines == ITEMS and receipt.footer == ("Thanks",)
    with pytest.raises(AttributeError):
        receipt.total = sgd(1)  # type: ignore[misc]


# --- in the merchant's language, the customer's beside it ----------------------------------------------


def test_a_thai_receipt_has_thai_labels_and_a_buddhist_era_date():
    receipt = sale(language="th", locale="th_TH", time=datetime(2026, 12, 6, 10, 5, tzinfo=ZoneInfo("Asia/Bangkok")))
    text = "\n".join(layout(receipt, 42))
    assert "ยอดรวม" in text and "สำเนาลูกค้า" in text and "อนุมัติ" in text and "TOTAL" not in text
    assert "6 ธ.ค. 2569 10:05:00" in text  # 2026 in the Buddhist era, as Thai receipts print it
    assert "(incl.)" not in text and "(รวมแล้ว)" in text


def test_a_receipt_is_bilingual_when_the_customer_reads_another_language():
    text = "\n".join(layout(sale(language="ja", customer_language="zh_Hans"), 42))
    assert "合計 / 合计" in text and "お客様控え / 顾客联" in text and "承認 / 交易成功" in text
    same = "\n".join(layout(sale(language="ja", customer_language="ja"), 42))
    assert "合計" in same and " / " not in same


@pytest.mark.parametrize("lang", ["th", "ja", "zh_Hans", "zh_Hant", "ms"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_line_of_a_translated_receipt_is_wider_than_the_paper(lang, width):
    for receipt in (sale(language=lang, customer_language="zh_Hans"), refund(language=lang, customer_language="th")):
        assert all(display_width(line) <= width for line in layout(receipt, width))


def test_an_unknown_language_is_refused_on_the_receipt():
    with pytest.raises(DomainError, match=r"language: 'klingon': not a language pos-sim speaks \(en, th, ja"):
        sale(language="klingon")
