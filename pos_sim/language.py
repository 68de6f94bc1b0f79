"""The languages pos-sim speaks: the merchant's (every screen, report and receipt label) and the customer's.

Messages are written in English in the code and marked for translation: ``_("Pay")`` translates now,
into the merchant's language (the one ``use`` set: the terminal's ``language`` setting); ``N_("Pay")``
only marks a message kept in a table, translated where it is shown. ``in_language(lang, message)``
translates into another language: what the customer reads, in their wallet's language. A message with
values that is kept, journalled or sent as English and shown translated later is a ``Phrase``: a ``str``
(the English, filled in) that remembers its message and values, so ``_`` and ``in_language`` translate
the message and fill the values in again (a value that is a ``Phrase`` translated too).

The catalogues are gettext's, made with Babel's tools (``scripts/translations``: ``pybabel extract``
into ``locale/pos_sim.pot``, ``update`` into each ``locale/<lang>/LC_MESSAGES/pos_sim.po``,
``compile`` into the ``.mo`` files read here; both ship in the wheel). A message a catalogue lacks,
or has no translation of yet, is shown in English (its msgid is the English text): never a key, never
an empty string.

The catalogues are data of the package, like Babel's CLDR tables the money formats read: this module
sits below ``domain`` (it imports nothing of pos-sim), so receipts can be laid out in a language.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path

from babel import Locale

LANGUAGES = ("en", "th", "ja", "zh_Hans", "zh_Hant", "ms")
"""The languages shipped, English (the messages as written) first."""

NAMES = {"en": "English", "th": "ไทย", "ja": "日本語", "zh_Hans": "简体中文", "zh_Hant": "繁體中文", "ms": "Bahasa Melayu"}
"""Each language as its speakers name it (what the language choice shows)."""

LOCALES = {"en": "en", "th": "th_TH", "ja": "ja_JP", "zh_Hans": "zh_Hans_CN", "zh_Hant": "zh_Hant_TW", "ms": "ms_MY"}
"""The CLDR locale a language writes dates in, where the merchant's own locale speaks another language."""

LOCALE_DIR = Path(str(files(__package__ or "pos_sim") / "locale"))
DOMAIN = "pos_sim"
_ALIASES = {"zh": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans", "zh_tw": "zh_Hant", "zh_hk": "zh_Hant",
            "zh_mo": "zh_Hant"}


class LanguageError(ValueError):
    """A language pos-sim does not speak."""


def language(text: str) -> str:
    """``text`` as one of ``LANGUAGES``: any case, ``-`` or ``_`` (``zh-hans``, ``TH``), or a Chinese
    region (``zh_TW`` is zh_Hant); otherwise a LanguageError naming the languages there are."""
    key = str(text).strip().replace("-", "_").lower()
    for known in LANGUAGES:
        if key == known.lower():
            return known
    if key in _ALIASES:
        return _ALIASES[key]
    raise LanguageError(f"{text!r}: not a language pos-sim speaks ({', '.join(LANGUAGES)})")


@cache
def translation(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang`` (English: the messages as written, when its catalogue is missing)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, [language(lang)], fallback=True)


_merchant: gettext.NullTranslations = translation("en")
_merchant_language = "en"


def use(lang: str) -> None:
    """Speak ``lang`` from now on: what ``_`` translates into (the terminal's language, set at start
    and when the merchant changes it)."""
    global _merchant, _merchant_language
    _merchant, _merchant_language = translation(lang), language(lang)


def current() -> str:
    """The merchant's language: what ``_`` translates into."""
    return _merchant_language


class Phrase(str):
    """``message.format(**values)``, in English, that ``_`` and ``in_language`` say in another language:
    ``Phrase(N_("Fare {fare} from {station}"), fare="1.60 SGD", station="M01")`` is the string
    "Fare 1.60 SGD from M01" wherever it is kept (a journal, JSON), and "ค่าโดยสาร 1.60 SGD จาก M01" in Thai.
    A message that only frames its values (``"{where}: {problem}"``) is left unmarked: gettext gives it back as
    written, its values said in the language."""

    message: str
    values: dict[str, object]

    def __new__(cls, message: str, **values: object) -> Phrase:
        said = super().__new__(cls, message.format(**values) if values else message)
        said.message, said.values = message, values
        return said

    def said(self, catalogue: gettext.NullTranslations) -> str:
        values = {name: value.said(catalogue) if isinstance(value, Phrase) else value
                  for name, value in self.values.items()}
        translated = catalogue.gettext(self.message)
        return translated.format(**values) if values else translated


def _said(catalogue: gettext.NullTranslations, message: str) -> str:
    if not message:
        return message  # gettext's "" is the catalogue's header, never a message
    return message.said(catalogue) if isinstance(message, Phrase) else catalogue.gettext(message)


def _(message: str) -> str:
    """``message`` in the merchant's language."""
    return _said(_merchant, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural``, as ``count`` and the merchant's language have it (argparse's plural messages)."""
    return _merchant.ngettext(singular, plural, count)


def message_of(error: BaseException) -> str:
    """What ``error`` says: its message, a ``Phrase`` when it was raised with one (so ``_`` says it in the
    merchant's language, while ``str(error)`` stays the English for logs and JSON), else its English."""
    return error.args[0] if len(error.args) == 1 and isinstance(error.args[0], Phrase) else str(error)


def joined(parts: Iterable[str], separator: str = "; ") -> str:
    """``parts`` one after another, a ``Phrase`` each of whose parts is said in the language it is said in."""
    values = {f"part{number}": part for number, part in enumerate(parts)}
    return Phrase(separator.join(f"{{{name}}}" for name in values), **values)


def N_(message: str) -> str:
    """``message`` marked for the catalogue and left as written: translated where it is shown."""
    return message


def in_language(lang: str, message: str) -> str:
    """``message`` in ``lang`` (what the customer reads, in their wallet's language)."""
    return _said(translation(lang), message)


def for_customer(message: str, customer: str | None) -> str:
    """``message`` as the customer reads it: in the merchant's language, with the customer's beneath
    when it is another language (as terminals abroad show it)."""
    mine = _(message)
    if customer is None or language(customer) == _merchant_language:
        return mine
    theirs = in_language(customer, message)
    return mine if theirs == mine else f"{mine}\n{theirs}"


def written_locale(lang: str, locale: str) -> str:
    """The CLDR locale dates are written in for a merchant speaking ``lang`` in a shop of ``locale``:
    the shop's own when it speaks that language (an English-speaking shop's always: en_SG writes
    "21 Nov", not en's "Nov 21"), else the language's (a Thai-speaking terminal in Singapore writes Thai)."""
    if lang == "en" or Locale.parse(locale).language == Locale.parse(LOCALES[lang]).language:
        return locale
    return LOCALES[lang]
