"""The languages pos-sim speaks: every message marked in the code, and argparse's own (its usage errors and
--help), is in every shipped catalogue, translated, with the same placeholders; the compiled catalogues are the .po files as they stand; an
unknown language is refused naming the known ones; a missing translation is English, never empty."""

import argparse
import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from pos_sim import language
from pos_sim.language import LANGUAGES, LOCALE_DIR, LanguageError, for_customer, in_language

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
