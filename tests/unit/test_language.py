"""The languages pos-sim speaks: every message marked in the code, and argparse's own (its usage errors and
--help), is in every shipped catalogue, translated, with the same placeholders; the compiled catalogues are the .po files as they stand; an
unknown language is refused naming the known ones; a missing translation is English, never empty; a payment code or
barcode refused is said in the merchant's language, its English kept for JSON and logs."""

import argparse
import base64
import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim import language
from pos_sim.domain.errors import CodeError
from pos_sim.language import LANGUAGES, LOCALE_DIR, LanguageError, Phrase, for_customer, in_language, message_of, translation

PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\(\w+\)[sr]|%[sr]")


def marked_messages() -> set[str | tuple[str, str]]:
    """Every message the code marks with _() or N_(), and argparse's (which pos-sim's commands say in the merchant's
    language: a plural one as its two forms), as Babel's extractor finds them (scripts/translations)."""
    package = LOCALE_DIR.parent
    keywords = {"_": None, "N_": None}
    ours = {message for _file, _line, message, _comments, _context in extract_from_dir(package, keywords=keywords)
            if isinstance(message, str) and message}
    argparses = {message for _line, message, _comments, _context
                 in extract_from_file("python", argparse.__file__, keywords={"_": None, "ngettext": (1, 2)})}
    return ours | argparses


def said(message) -> tuple[str, ...]:
    """A catalogue message's translations: one, or a plural one's forms."""
    return message.string if isinstance(message.string, tuple) else (message.string,)


def catalogue(lang: str):
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "pos_sim.po", "rb") as po:
        return read_po(po, locale=lang)


@pytest.fixture(scope="module")
def marked() -> set[str]:
    return marked_messages()


def test_the_code_marks_the_terminals_words(marked):
    assert {"Sign in", "Scan to pay with your wallet app", "TOTAL", "Welcome: have a good trip", "MERCHANT COPY",
            "usage: ", "the following arguments are required: %s", ("expected %s argument", "expected %s arguments"),
            "{text!r}: {currency} has {places} decimal places, got {got}", "{call} answer from {url}"} <= marked
    assert len(marked) > 250


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_marked_message_is_in_the_catalogue_and_translated(marked, lang):
    messages = {message.id: message for message in catalogue(lang) if message.id}
    missing = sorted(marked - messages.keys(), key=str)
    assert not missing, f"{lang}: not in the catalogue (run ./scripts/translations): {missing[:10]}"
    untranslated = sorted((mid for mid in marked if not all(said(messages[mid])) or messages[mid].fuzzy), key=str)
    assert not untranslated, f"{lang}: not translated: {untranslated[:10]}"
    wrong = sorted((mid for mid in marked if any(set(PLACEHOLDER.findall(mid if isinstance(mid, str) else mid[0]))
                                                 != set(PLACEHOLDER.findall(form)) for form in said(messages[mid]))), key=str)
    assert not wrong, f"{lang}: placeholders differ from the English: {wrong[:10]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(lang, tmp_path):
    """The .mo shipped is what `pybabel compile` makes of the .po now (a .po edited and not compiled fails)."""
    path = tmp_path / "fresh.mo"
    with open(path, "wb") as mo:
        write_mo(mo, catalogue(lang))
    with open(path, "rb") as fresh, open(LOCALE_DIR / lang / "LC_MESSAGES" / "pos_sim.mo", "rb") as shipped:
        assert gettext.GNUTranslations(shipped)._catalog == gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]


def test_the_catalogues_speak_each_language():
    assert in_language("th", "TOTAL") == "ยอดรวม"
    assert in_language("ja", "Sign in") == "サインイン"
    assert in_language("zh_Hans", "APPROVED") == "交易成功"
    assert in_language("zh_Hant", "Receipt") == "收據"
    assert in_language("ms", "Pay") == "Bayar"
    assert in_language("en", "Pay") == "Pay"


@pytest.mark.parametrize("text", ["xx", "fr", "zh_Latn", "", "thai"])
def test_an_unknown_language_is_refused_naming_the_known_ones(text):
    with pytest.raises(LanguageError) as refused:
        language.language(text)
    assert str(refused.value) == f"{text!r}: not a language pos-sim speaks (en, th, ja, zh_Hans, zh_Hant, ms)"


@pytest.mark.parametrize(("text", "meant"), [("TH", "th"), ("zh-hans", "zh_Hans"), ("zh_TW", "zh_Hant"), ("zh-HK", "zh_Hant"),
                                             ("zh", "zh_Hans"), (" ja ", "ja")])
def test_a_language_is_read_in_any_case_and_chinese_by_region(text, meant):
    assert language.language(text) == meant


def test_a_missing_translation_is_english_never_empty_or_a_key():
    assert in_language("th", "A message no catalogue holds") == "A message no catalogue holds"
    assert in_language("th", "") == ""  # not the catalogue's header, which is what gettext answers for ""
    for lang in LANGUAGES:
        assert all(form.strip() for message in catalogue(lang) if message.id for form in said(message))


def test_what_the_customer_reads_is_the_merchants_language_with_theirs_beneath():
    language.use("th")
    try:
        assert for_customer("Scan to pay with your wallet app", "zh_Hans") == "สแกนเพื่อชำระด้วยแอปวอลเล็ต\n请用钱包 App 扫码支付"
        assert for_customer("Scan to pay with your wallet app", "th") == "สแกนเพื่อชำระด้วยแอปวอลเล็ต"
        assert for_customer("TOTAL", None) == "ยอดรวม"
    finally:
        language.use("en")


def test_the_language_setting_comes_from_the_file_the_environment_or_a_flag_and_is_checked(tmp_path):
    from pos_sim.terminal.errors import SettingsError
    from pos_sim.terminal.settings import TerminalSettings, from_environment

    base = {"gateway.url": "http://127.0.0.1:8360", "gateway.simulator_data_dir": tmp_path, "journal_dir": tmp_path}
    assert TerminalSettings.build(base).language == "en"
    assert TerminalSettings.build(base | from_environment({"POS_SIM_LANGUAGE": "zh-hant"})).language == "zh_Hant"
    with pytest.raises(SettingsError) as refused:
        TerminalSettings.build(base | {"language": "fr"}, {"language": "POS_SIM_LANGUAGE"})
    assert str(refused.value) == ("language (--language) 'fr': not a language pos-sim speaks "
                                  "(en, th, ja, zh_Hans, zh_Hant, ms) (set by POS_SIM_LANGUAGE)")


def test_every_error_the_commands_raise_is_a_message_of_the_catalogue():
    """pos_sim/cli's errors (UsageError, ServiceError) are said through _() (so in the merchant's language), or only
    put flags and values around a lower layer's own words: no English of their own left out of the catalogue."""
    import ast

    from pos_sim import cli

    def own_words(node: ast.expr) -> list[str]:
        """The English a raised message writes itself: the literal text of a string or f-string, flags left out."""
        texts = [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else [
            part.value for part in getattr(node, "values", []) if isinstance(part, ast.Constant)]
        return [word for text in texts for word in re.findall(r"(?<![-\w])[A-Za-z]{3,}", text)]

    def translated(node: ast.expr) -> bool:  # _("...") or _("...").format(...)
        call = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else node
        return isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_"

    unsaid = []
    for path in sorted(Path(cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name) \
                    and node.exc.func.id in ("UsageError", "ServiceError") and node.exc.args:
                message = node.exc.args[0]
                if not translated(message) and not (isinstance(message, ast.IfExp)
                                                    and translated(message.body) and translated(message.orelse)) \
                        and own_words(message):
                    unsaid.append(f"{path.name}:{node.lineno} {own_words(message)}")
    assert not unsaid, unsaid


# --- a bad payment code or barcode, said in the merchant's language ----------------------------------------------

def test_no_code_error_is_written_as_plain_english():
    """Every CodeError of pos_sim/domain/codes (and the MPM validator's ``fail``) is raised with a Phrase, never a string
    or an f-string: a cashier in Bangkok reads what is wrong with a scanned code in Thai, the logs and JSON in English."""
    import ast

    from pos_sim.domain import codes

    def plain(node: ast.expr) -> bool:  # "...", f"...", "..." + x, "...".format(...)
        return (isinstance(node, (ast.Constant, ast.JoinedStr, ast.BinOp))
                or isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format")

    written = []
    for path in sorted(Path(codes.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and (
                    (isinstance(node.func, ast.Name) and node.func.id == "CodeError")
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "fail")) and plain(node.args[0]):
                written.append(f"{path.name}:{node.lineno}")
    assert not written, written


def _valid_codes() -> list[str]:
    """A code of every kind the terminal reads, each valid (in strict mode where it can be): what a scan gets wrong."""
    from datetime import UTC, datetime

    from pos_sim.domain.codes import emv_cpm, emv_mpm, ride, schemes
    from pos_sim.domain.money import Money

    private, _key = ride.generate_key_pair(7, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return [
        emv_mpm.build({"merchant_accounts": {"26": {"guid": "SG.PAYNOW", "01": "2", "02": "201403121W"}}, "mcc": "5812",
                       "currency": "702", "amount": "12.50", "country": "SG", "merchant_name": "KOPI TIAM",
                       "merchant_city": "Singapore", "tip_indicator": "03", "convenience_fee_percentage": "01.50",
                       "additional_data": {"01": "INV-1", "09": "ME"},
                       "language_template": {"00": "ZH", "01": "咖啡店", "02": "新加坡"}}),
        schemes.promptpay(phone="081-234-5678", amount=Money.of_major("150", "THB")),
        emv_cpm.token_presentation(emv_cpm.TokenPresentation("9999000112345677", "2911", 7, bytes(range(8)),
                                                             "A0000006022020", "WALLET")),
        emv_cpm.build([{"aid": "A0000000041010", "pan": "5413330089010434", "cardholder_name": "TAN/AH HUAT"}],
                      {"language": "en"}),
        ride.sign(ride.RideCode(7, bytes(range(12)), datetime(2026, 6, 1, 8, tzinfo=UTC), 30, 41, 1), private),
        "4006381333931", "036000291452", "96385074", "2212345012348",
        "(01)09521234543213(3103)000500", "0109521234543213" + "3922" + "1250", "(01)09521234543213(17)290630(10)AB-12",
        "0109521234543213" + "10" + "BATCH7\x1d" + "21" + "SN1",
        "251001020123456789012345", "134567890123456789", "https://pay.example.com/o/1",
    ]


VALID_CODES = _valid_codes()
SCANNER_ALPHABET = "0123456789ABCDEFabcdef()./:-+ =\x1d\u00e9\u4e2d"


@st.composite
def misread(draw) -> str:
    """A valid code as a scanner or a cashier gets it wrong: characters dropped, added or changed; for a binary code
    (CPM's base64, a ride code's base45), its bytes; for an EMV QR, one data object dropped, doubled, renumbered or
    given another value, its CRC made again: so the fault lies past the text's alphabet and checksum, in the rules."""
    from pos_sim.domain.codes import emv_cpm, emv_mpm, ride

    text = draw(st.sampled_from(VALID_CODES))
    if text.startswith("000201") and draw(st.booleans()):
        def pairs(objects):
            return [(o.id, o.value if o.children is None else pairs(o.children)) for o in objects]

        tree = pairs(emv_mpm.decode(text).objects[:-1])  # the CRC (63) last, made again below
        spots = [(tree, i) for i in range(len(tree))]
        spots += [(value, j) for _id, value in tree if isinstance(value, list) for j in range(len(value))]
        parent, at = draw(st.sampled_from(spots))
        action = draw(st.sampled_from(["drop", "twice", "renumber", "value"]))
        if action == "drop":
            del parent[at]
        elif action == "twice":
            parent.insert(at, parent[at])
        elif action == "renumber":
            parent[at] = (draw(st.from_regex(r"[0-9]{2}", fullmatch=True)), parent[at][1])
        else:
            parent[at] = (parent[at][0], draw(st.text(SCANNER_ALPHABET, min_size=1, max_size=30)))
        return emv_mpm.with_crc(emv_mpm.encode(tree))
    binary = text.startswith(emv_cpm.PREFIX) or text.startswith(ride.PREFIX)
    if binary and draw(st.booleans()):
        data = bytearray(ride.base45_decode(text[4:]) if text.startswith(ride.PREFIX) else base64.b64decode(text))
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data) - 1))
            action = draw(st.sampled_from(["delete", "change", "cut"]))
            if action == "delete":
                del data[at]
            elif action == "cut":
                del data[at:]
            else:
                data[at] = draw(st.integers(0, 255))
            if not data:
                break
        data = bytes(data)
        return ride.PREFIX + ride.base45_encode(data) if text.startswith(ride.PREFIX) else base64.b64encode(data).decode()
    return draw(misread_text(text))


@st.composite
def misread_text(draw, text: str) -> str:
    """``text`` with one to three characters dropped, added or changed, or cut short."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        action = draw(st.sampled_from(["delete", "insert", "change", "cut"]))
        if action == "insert":
            chars.insert(at, draw(st.sampled_from(SCANNER_ALPHABET)))
        elif chars and action == "delete":
            del chars[min(at, len(chars) - 1)]
        elif chars and action == "change":
            chars[min(at, len(chars) - 1)] = draw(st.sampled_from(SCANNER_ALPHABET))
        elif action == "cut":
            del chars[at:]
    return "".join(chars)


def said_in_every_language(error: CodeError) -> None:
    """``error`` is a Phrase said in each language: its reason translated (not English), its tag and offset kept."""
    reason = error.reason
    assert isinstance(reason, Phrase), f"plain English: {error}"
    assert isinstance(message_of(error), Phrase)
    for lang in LANGUAGES[1:]:
        assert translation(lang).gettext(reason.message) != reason.message, (lang, reason.message)
        said = in_language(lang, message_of(error))
        assert said != str(error), (lang, said)
        for value in (error.tag, error.offset):
            assert value is None or str(value) in said, (lang, said, value)


@settings(max_examples=400, deadline=None)
@given(misread(), st.booleans())
def test_a_misread_code_is_said_in_the_merchants_language(text, strict):
    """Any valid code, misread: when it is refused, the error is a Phrase that th, ja, zh_Hans, zh_Hant and ms translate
    (its offset and tag kept), its English (str) unchanged for JSON and logs."""
    from pos_sim.domain import codes
    from pos_sim.domain.codes import emv_cpm, gs1_elements

    readers = [lambda: codes.parse(text, strict)]
    if text.startswith(emv_cpm.PREFIX):
        readers.append(lambda: emv_cpm.read_token_presentation(text))  # what the backend reads of a phone's tap
    if gs1_elements.looks_like(text):  # what the catalogue reads of a DataBar's weight and price
        readers.append(lambda: (lambda read: (read.grams, read.price_minor(0), read.gtin))(gs1_elements.parse(text)))
    for read in readers:
        try:
            read()
        except CodeError as error:
            said_in_every_language(error)


def test_every_reason_a_misread_gives_is_in_the_catalogue():
    """The errors of a fixed set of misreads (one per kind of fault the test above draws from), said in Thai and
    Japanese word for word: the cashier reads the fault and where it lies, not English."""
    from pos_sim.domain import codes

    wrong_crc = VALID_CODES[0][:-4] + "ABCD"
    cases = {
        wrong_crc: ("th", "CRC ABCD ไม่ตรงกับเพย์โหลด (คำนวณได้ {crc}) (แท็ก 63, ตำแหน่ง {at})"),
        "(01)09521234543214(3103)000500": ("ja", "AI (01): チェックデジットが違います: 3 のはずが 4 です (位置 17)"),
        "RC1:abc": ("th", "'a' ไม่ใช่อักขระ base45 (0-9, A-Z, ช่องว่าง, $%*+-./:) (base45 ใช้ตัวพิมพ์ใหญ่) (ตำแหน่ง 4)"),
        "hQVDUFYwMQ==": ("ja", "アプリケーションテンプレートがありません (タグ 61)"),
    }
    for text, (lang, expected) in cases.items():
        with pytest.raises(CodeError) as refused:
            codes.parse(text)
        error = refused.value
        said_in_every_language(error)
        expected = expected.format(crc=str(error).split("computed ")[-1][:4], at=error.offset)
        assert in_language(lang, message_of(error)) == expected, str(error)
