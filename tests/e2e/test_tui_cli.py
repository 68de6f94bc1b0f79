"""`pos-sim tui`'s composition: the embedded simulator started as a child process, the demo wallets
opened there, and the app connected to it, as `./scripts/demo` runs it (driven here by Pilot); bare
`pos-sim` opens it too."""

import asyncio
import os
import subprocess
import sys
import time

from pos_sim import __version__
from pos_sim.cli import build_parser
from pos_sim.cli.backend import backend_process
from pos_sim.cli.settings import terminal_values
from pos_sim.cli.tui import DEMO_CUSTOMERS, connect_terminal
from pos_sim.terminal.journal import State
from pos_sim.tui.app import PosApp
from pos_sim.tui.screens.payment import ResultScreen, ScanScreen
from pos_sim.tui.screens.sale import SaleScreen


async def until(pilot, condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out; the screen is {type(pilot.app.screen).__name__}"
        await pilot.pause(0.05)


def test_the_demo_terminal_starts_its_simulator_opens_funded_wallets_and_takes_a_payment(tmp_path):
    args = build_parser().parse_args(["tui", "--backend-data-dir", str(tmp_path / "backend"),
                                      "--journal-dir", str(tmp_path / "terminal"), "--poll-interval", "0.2"])
    values, origins = terminal_values(args)
    with backend_process(tmp_path / "backend") as backend:
        app = PosApp(lambda: connect_terminal(values, origins, backend))

        async def scenario():
            async with app.run_test(size=(120, 40)) as pilot:
                await until(pilot, lambda: app.connection is not None)
                assert app.simulator is not None
                assert [c.name for c in app.customers] == [name for name, *_rest in DEMO_CUSTOMERS]
                assert str(app.simulator.balance(app.customers[0].wallet_id).major_str()) == "200.00"
                await pilot.press("enter")
                await until(pilot, lambda: isinstance(app.screen, SaleScreen) and app.wallet.code is not None
                            and getattr(app.focused, "id", None) == "entry")  # keys pressed before are lost
                await pilot.press(*"7.30", "enter", "f5", "1")
                await until(pilot, lambda: isinstance(app.screen, ScanScreen))
                await pilot.press("ctrl+y")
                await until(pilot, lambda: isinstance(app.screen, ResultScreen))
                assert app.screen.sale.state is State.APPROVED
                assert app.simulator.balance(app.customers[0].wallet_id).major_str() == "192.70"

        asyncio.run(scenario())
    assert backend._process.poll() is not None  # the simulator stops with the terminal


def test_bare_pos_sim_opens_the_terminal_ui_with_its_embedded_simulator(tmp_path):
    """`pos-sim` alone is `pos-sim tui`, as a user types it in a terminal (tmux), with a fresh home."""
    session, server = "bare", f"pos-sim-test-{os.getpid()}"
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    subprocess.run(["tmux", "-L", server, "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    f"{sys.executable} -m pos_sim"], env=env, check=True)
    try:
        deadline, screen = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not ("Operator" in screen and "Gateway http://127.0.0.1" in screen):
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "-L", server, "capture-pane", "-p", "-t", session],
                                    capture_output=True, text=True).stdout
        assert "Operator" in screen and "Gateway http://127.0.0.1" in screen, screen
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True)
    assert (tmp_path / ".local" / "share" / "pos-sim" / "ledger.db").exists()  # the simulator's data dir, in that home


def test_version_and_help_stay_the_whole_commands():
    version = subprocess.run([sys.executable, "-m", "pos_sim", "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and version.stdout.strip() == f"pos-sim {__version__}"
    helped = subprocess.run([sys.executable, "-m", "pos_sim", "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and "Without a command it opens the terminal UI" in helped.stdout
    assert "tui" in helped.stdout and "scenario" in helped.stdout
