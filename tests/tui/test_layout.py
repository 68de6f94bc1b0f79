"""Nothing cut: at 80x24 and 120x40, in English and in the languages of wide characters and combining marks,
every text on the screens of a sale and of the gate has the lines it needs, and every empty field's hint its width
(Textual's Pilot, the real simulator on a loopback port). Found a total due whose amount fell under its box once the customer's
language was written beneath "TOTAL"; the snapshots had recorded it without anyone seeing it. And hints cut in
Japanese, Thai and Malay (the sale's, the gate's, the customer's code's, the journal's filter), and a Malay gate's
sync line at 80x24."""

import pytest
from rich.cells import cell_len
from textual.widgets import Input, Static

from pos_sim.tui.screens.journal import JournalScreen
from pos_sim.tui.screens.payment import OrderCodeScreen, ScanScreen
from pos_sim.tui.screens.sale import SaleScreen
from tests.tui.test_gate_screen import at_the_gate, tap
from tests.tui.test_payment_flows import key, make_app, result, run, sign_in, simulator, until  # noqa: F401 - the fixtures

SIZES = [(80, 24), (120, 40)]
LANGUAGES = ["en", "th", "ja", "zh_Hans", "ms"]


def cut_off(app) -> list[str]:
    """The texts on the screen that need more lines than their widget has, and the hints of empty fields wider than
    the field: what the user cannot read."""
    cut = []
    for widget in app.screen.query(Static):
        region = widget.content_region
        if not widget.display or not region.width or not region.height:
            continue
        needed = widget.get_content_height(region, app.size, region.width)
        if needed > region.height:
            cut.append(f"{type(app.screen).__name__} {type(widget).__name__}#{widget.id}: needs {needed} lines,"
                       f" has {region.height}: {str(widget.render())!r}")
    for entry in app.screen.query(Input):
        width = entry.content_region.width
        if entry.display and not entry.value and cell_len(entry.placeholder) > width:
            cut.append(f"{type(app.screen).__name__} Input#{entry.id}: its hint needs {cell_len(entry.placeholder)}"
                       f" cells, has {width}: {entry.placeholder!r}")
    return cut


async def nothing_cut(pilot) -> None:
    """Nothing cut once the screen has laid out what it was just told to show (a label updated a moment ago, its
    new height not yet computed, would be a false alarm)."""
    await pilot.pause()
    await pilot.pause()
    assert not cut_off(pilot.app), cut_off(pilot.app)


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_of_a_sale_is_cut(make_app, language, size):
    app = make_app(language=language)

    async def scenario():
        async with app.run_test(size=size) as pilot:
            await at_the_gate(pilot)
            await nothing_cut(pilot)
            await tap(pilot, app.screen, "f5")  # the customer's ride code: welcome, in two languages
            await nothing_cut(pilot)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen.query("#amount-due"), what="the sale screen")
            await key(pilot, "12.50")
            assert "$12.50" in str(app.screen.query_one("#amount-due").render())
            await nothing_cut(pilot)
            await pilot.press("f5")
            await until(pilot, lambda: app.screen.query("#tenders"), what="the tenders")
            await nothing_cut(pilot)
            await pilot.press("2")
            await until(pilot, lambda: isinstance(app.screen, OrderCodeScreen), what="the order code")
            await pilot.pause(0.2)
            await nothing_cut(pilot)
            await pilot.press("ctrl+g")  # the customer's wallet scans the code on screen and pays
            await result(pilot)
            await nothing_cut(pilot)
            await pilot.press("r")
            await until(pilot, lambda: getattr(app.screen, "receipt", None) is not None, what="the receipt")
            await pilot.pause(0.2)
            await nothing_cut(pilot)

    run(scenario)


@pytest.mark.parametrize("language", ["en", "th", "ja", "zh_Hans", "zh_Hant", "ms"])
def test_no_hint_of_a_field_is_cut_at_80_columns(make_app, language):
    """The fields a sale leaves aside: the customer's code and its image, the journal's filter."""
    app = make_app(language=language)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot)
            await key(pilot, "12.50")
            await pilot.press("f5")
            await until(pilot, lambda: app.screen.query("#tenders"), what="the tenders")
            await pilot.press("1")
            await until(pilot, lambda: isinstance(app.screen, ScanScreen), what="the customer's code")
            await pilot.pause(0.2)
            await nothing_cut(pilot)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen), what="the sale screen")
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, JournalScreen), what="the journal")
            await pilot.pause(0.2)
            await nothing_cut(pilot)

    run(scenario)
