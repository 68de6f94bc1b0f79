"""The words of ``pos-sim serve``'s pages, each in the language of who reads it: a phone page in its
wallet's language (the customer's, as the terminal's wallet pane speaks it), the trainer's page and the
list of phones in the merchant's.

A page gets its words as a table, written out in its language before it is sent: the template shows
them, and its script fills in their ``{values}`` (a balance, seconds left) as it goes.
"""

from __future__ import annotations

from collections.abc import Mapping

from pos_sim.language import N_, in_language

PHONE = {
    "title": N_("{name}'s wallet"),
    "show": N_("Show this to the terminal's scanner"),
    "code": N_("the wallet's payment code"),
    "valid": N_("valid {seconds} s more"),
    "no_code": N_("No code: {why}"),
    "scan": N_("Scan the terminal's code"),
    "photo": N_("Pick a photo of the code"),
    "history": N_("History"),
    "paid": N_("Paid {amount}"),
    "refused": N_("Read, not paid: {why}"),
    "no_camera": N_("No camera ({why}): pick a photo instead. A phone's camera needs the page over HTTPS, or localhost."),
    "point": N_("Point the camera at the terminal's code..."),
    "reading": N_("Reading the photo..."),
    "no_code_in_photo": N_("No code in that photo."),
}
"""The customer's phone."""

HISTORY = {
    "fund": N_("money added"),
    "payment": N_("payment"),
    "cancel": N_("payment cancelled"),
    "refund": N_("refund"),
    "fare": N_("transit fare"),
    "fare-refund": N_("transit fare refunded"),
}
"""A wallet's history line: what its posting's kind was, for the customer."""

PHONES = {
    "title": N_("pos-sim: the customer's phone"),
    "whose": N_("Whose phone?"),
}
"""The list of demo wallets' phones."""

TRAINER = {
    "title": N_("pos-sim class: the trainer's page"),
    "class": N_("The class"),
    "intro": N_("Each trainee opens {terminal_page}: a terminal of their own. The customers' phones: {phone_page}."),
    "terminal_page": N_("the terminal page"),
    "phone_page": N_("the phone page"),
    "terminal": N_("Terminal"),
    "session": N_("Session"),
    "signed_in": N_("Signed in"),
    "payment": N_("Payment"),
    "exercise": N_("Exercise"),
    "score": N_("Score"),
    "none_yet": N_("No terminal yet."),
    "recovered": N_("recovered {states}"),
    "nobody": N_("nobody"),
    "training": N_("training"),
    "passed": N_("passed"),
    "not_passed": N_("not passed"),
    "no_answer": N_("The server did not answer: {why}"),
}
"""The trainer's page."""


def in_words(words: Mapping[str, str], lang: str) -> dict[str, str]:
    """``words`` said in ``lang``."""
    return {key: in_language(lang, message) for key, message in words.items()}


def html_language(lang: str) -> str:
    """``lang`` as a page's ``lang`` attribute says it (BCP 47: ``zh-Hans``)."""
    return lang.replace("_", "-")
