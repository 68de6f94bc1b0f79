#!/usr/bin/env python3
"""Screenshots of the terminal UI for the README (docs/screenshots/*.svg): the real app driven by
Textual's Pilot against an embedded simulator, a sale from cart to order code to approval.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from pos_sim.backend import server
from pos_sim.domain.money import Money
from pos_sim.scenarios.simulator import Simulator
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp
from pos_sim.tui.screens.payment import OrderCodeScreen, ResultScreen
from pos_sim.tui.screens.sale import SaleScreen

ROOT = Path(__file__).resolve().parents[1]
SIZE = (120, 36)
ITEMS = ("21000010", "21000119", "21000126")  # kopi, kaya toast set, nasi lemak (pos_sim/assets/catalogue.json)


async def until(pilot, condition, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"the app did not get there; it shows {type(pilot.app.screen).__name__}")
        await pilot.pause(0.05)


async def shoot(out: Path, connection: Connection) -> list[Path]:
    app = PosApp(lambda: connection)
    saved = []

    def save(name: str) -> None:
        saved.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connection is not None and app.screen.query("#operator"))
        await pilot.pause(0.2)
        save("sign-in")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SaleScreen) and app.wallet.code is not None)
        for barcode in ITEMS:
            await pilot.press(*barcode, "enter")
            await pilot.pause(0.3)
        await pilot.pause(0.3)
        save("sale")
        await pilot.press("f5", "2")
        await until(pilot, lambda: isinstance(app.screen, OrderCodeScreen))
        await pilot.pause(1.2)
        save("order-code")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen) and app.screen.query("#result-title"))
        await pilot.pause(0.5)
        save("approved")
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        running = server.start(server.open_gateway(Path(data) / "backend"))
        try:
            simulator = Simulator(running.url)
            customers = (Customer("Tan Ah Kow", simulator.open_wallet(Money.of_major("200.00", "SGD"), "Tan Ah Kow")),)
            settings = TerminalSettings.build({"gateway.url": running.url, "gateway.simulator_data_dir": Path(data) / "backend",
                                               "journal_dir": Path(data) / "terminal", "polling.interval_s": 0.5})
            for path in asyncio.run(shoot(args.out, Connection(settings, simulator, customers))):
                print(path)
        finally:
            running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
