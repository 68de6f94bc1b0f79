"""A QR code on screen, drawn from its module matrix in half blocks, dark on light.

Each character cell holds two modules, one above the other ("▀", "▄", "█" or a space), so a module
is about square in a terminal font and a phone camera reads the code off the screen. The colours
are fixed (black on white, whatever the theme) with the quiet zone the standard asks for.
"""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from pos_sim.render import qr

INK = Style(color="#000000", bgcolor="#ffffff")


@lru_cache(maxsize=16)
def _lines(payload: str) -> tuple[str, ...]:
    return tuple(qr.half_blocks(qr.matrix(payload)))


class QrCode(Widget):
    """The QR of ``payload`` (nothing while it is empty)."""

    DEFAULT_CSS = """
    QrCode { width: auto; height: auto; }
    """

    payload: reactive[str] = reactive("", layout=True)

    def __init__(self, payload: str = "", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.payload = payload

    @property
    def lines(self) -> tuple[str, ...]:
        return _lines(self.payload) if self.payload else ()

    def render(self) -> Text:
        return Text("\n".join(self.lines), style=INK, no_wrap=True, end="")

    def get_content_width(self, container: Size, viewport: Size) -> int:
        lines = self.lines
        return len(lines[0]) if lines else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines)
