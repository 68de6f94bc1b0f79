"""QR codes of payment payloads: the module matrix, PNG files, and half-block text for a terminal.

Payloads go in byte mode as UTF-8, with the UTF-8 ECI (000026) only when they hold characters
outside ASCII (EMVCo MPM 4.12); error correction M, the level payment schemes print at. A transit
ride code ("RC1:" + base45) goes in alphanumeric mode, which base45 is made for: version 6, not 8.
"""

from __future__ import annotations

from pathlib import Path

import segno

from pos_sim.domain.codes import ride

QUIET_ZONE = 4  # modules of white border the QR standard asks for


def make(payload: str) -> segno.QRCode:
    return segno.make(
        payload,
        error="m",
        boost_error=False,
        micro=False,
        mode="alphanumeric" if payload.startswith(ride.PREFIX) else "byte",
        encoding="utf-8",
        eci=not payload.isascii(),
    )


def matrix(payload: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """Rows of modules, True for dark, with ``border`` light modules around."""
    return [[bool(m) for m in row] for row in make(payload).matrix_iter(border=border)]


def write_png(payload: str, path: Path, scale: int = 8) -> None:
    make(payload).save(str(path), kind="png", scale=scale, border=QUIET_ZONE)


def half_blocks(modules: list[list[bool]]) -> list[str]:
    """Two module rows per text line: "▀" top dark, "▄" bottom dark, "█" both, " " neither.

    The text is the ink: show it dark on a light background (``ansi_dark_on_light`` does that in
    a terminal of any theme).
    """
    glyphs = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
    rows = modules + ([[False] * len(modules[0])] if len(modules) % 2 else [])
    return ["".join(glyphs[top, bottom] for top, bottom in zip(rows[i], rows[i + 1])) for i in range(0, len(rows), 2)]


def ansi_dark_on_light(lines: list[str]) -> str:
    """Lines in black on white (SGR 30;107), so a phone reads them off a dark-themed terminal too."""
    return "\n".join(f"\x1b[30;107m{line}\x1b[0m" for line in lines)
