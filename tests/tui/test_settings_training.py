"""The settings screen and the training screen, driven by keys through the real app against a real
simulator on a loopback port: the scanner's settings chosen there are what the app scans with; a
training exercise run a step per Enter scores what the headless runner scores; without the
simulator, the training screen says exercises need it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import OptionList, Static

from pos_sim.backend import server
from pos_sim.domain.money import Money
from pos_sim.scan import decoders
from pos_sim.scenarios import parse_file
from pos_sim.scenarios.results import PASSED, SKIPPED
from pos_sim.scenarios.runner import Runner
from pos_sim.scenarios.simulator import Simulator
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp
from pos_sim.tui.screens.sale import SaleScreen
from pos_sim.tui.screens.settings import SettingsScreen
from pos_sim.tui.screens.training import TRAINING_DIR, TrainingScreen

SIZE = (120, 40)
EXERCISE = TRAINING_DIR / "order-code-payment.yaml"   # the shortest exercise: 5 steps


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("backend")
    running = server.start(server.open_gateway(data_dir))
    simulator = Simulator(running.url)
    yield running.url, data_dir, simulator
    simulator.close()
    running.stop()


def make_app(backend, tmp_path: Path, *, with_simulator: bool = True) -> PosApp:
    url, data_dir, simulator = backend
    settings = TerminalSettings.build({"gateway.url": url, "gateway.simulator_data_dir": data_dir,
                                       "journal_dir": tmp_path / "terminal", "polling.interval_s": 0.1,
                                       "polling.deadline_s": 2.0})
    customers = [Customer("Tan Ah Kow", simulator.open_wallet(Money.of_major("50.00", "SGD"), "Tan Ah Kow"))]
    connection = Connection(settings, simulator if with_simulator else None, tuple(customers) if with_simulator else ())
    return PosApp(lambda: connection)


async def wait_for(pilot, condition: Callable[[], object], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        await pilot.pause(0.05)


async def signed_in(app: PosApp, pilot) -> None:
    await wait_for(pilot, lambda: app.connection is not None and app.screen.query("#operator"))
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, SaleScreen) and app.register is not None)


def text(app: PosApp, selector: str) -> str:
    """What the widget shows on screen, line by line."""
    widget = app.screen.query_one(selector, Static)
    width, height = widget.outer_size
    gutter = widget.styles.gutter  # borders and padding left out
    lines = widget.render_lines(Region(0, 0, width, height))[gutter.top:height - gutter.bottom]
    return "\n".join(strip.crop(gutter.left, width - gutter.right).text.rstrip() for strip in lines)


def squeezed(said: str) -> str:
    return "".join(said.split())


def test_the_scanner_settings_chosen_are_what_the_app_scans_with(backend, tmp_path):
    wanted = next(name for name, why in decoders.available().items() if why is None)
    app = make_app(backend, tmp_path)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(app, pilot)
            await pilot.press("f4")
            await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
            shown = squeezed(text(app, "#settings-table"))  # long values wrap
            for said in (backend[0], "SIM_DEMO (the client id)", "T01", "SGD (the catalogue's)", str(tmp_path / "terminal")):
                assert squeezed(said) in shown
            assert "pos-sim settings" in text(app, "#settings-elsewhere")
            await wait_for(pilot, lambda: wanted in app.screen.decoders)

            await pilot.click("#decoder")
            await pilot.press(*wanted, "enter")
            await pilot.click("#damage")
            await pilot.press(*"blur", "enter")
            await pilot.pause(0.1)
            assert (app.decoder, app.damage) == (wanted, "blur")
            await wait_for(pilot, lambda: text(app, "#wallet-damage") == "Scan damage: blur", timeout_s=5)
            note = f"decoder {wanted}, virtual-scan damage blur"
            await wait_for(pilot, lambda: note in text(app, "#scanner-note"), timeout_s=5)

            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, SaleScreen))
            await wait_for(pilot, lambda: text(app, "#wallet-damage") == "Scan damage: blur", timeout_s=5)
            assert (app.decoder, app.damage) == (wanted, "blur")

    asyncio.run(go())


def test_a_training_exercise_runs_a_step_per_enter_and_scores_what_the_runner_scores(backend, tmp_path):
    url, data_dir, _simulator = backend
    scenario = parse_file(EXERCISE).scenarios[0]
    app = make_app(backend, tmp_path)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(app, pilot)
            own_register = app.register
            await pilot.press("f8")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.library.exercises)
            screen = app.screen
            assert isinstance(screen, TrainingScreen)
            names = [exercise.scenario.name for exercise in screen.library.exercises]
            options = screen.query_one("#exercises", OptionList)
            await pilot.press(*["down"] * names.index(scenario.name))  # separators are skipped
            assert options.highlighted is not None
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.exercise is not None)
            assert screen.exercise.scenario.name == scenario.name
            for step in scenario.steps:  # each step shows its note before it runs
                if step.note:
                    assert squeezed(step.note) in squeezed(text(app, f"#{screen.views[step.number].id}"))

            for step in scenario.steps:
                await wait_for(pilot, lambda: screen.waiting is not None)
                assert screen.waiting.number == step.number
                ran = [view.result for view in screen.views.values() if view.result is not None]
                assert len(ran) == step.number - 1  # nothing runs before its Enter
                await pilot.press("enter")
                await wait_for(pilot, lambda: screen.views[step.number].result is not None)
                result = screen.views[step.number].result
                assert result.status == PASSED, result.problems()
                said = ["passed", *result.happened, *(check.said() for check in result.checks)]

                def unshown() -> list[str]:  # what the step's view does not show (yet: it is laid out again)
                    shown = squeezed(text(app, f"#{screen.views[step.number].id}"))
                    return [line for line in said if squeezed(line) not in shown]

                await wait_for(pilot, lambda: not unshown(), timeout_s=5)

            await wait_for(pilot, lambda: screen.outcome is not None)
            full = f"Score {scenario.max_score}/{scenario.max_score} PASSED"
            await wait_for(pilot, lambda: full in " ".join(text(app, "#exercise-status").split()), timeout_s=5)
            assert screen.outcome.score == scenario.max_score
            assert app.register is own_register and own_register.cart.is_empty  # the cashier's till untouched
            assert not (tmp_path / "terminal" / "journal-training.db").exists()

            await pilot.press("enter")  # back to the list, then out
            await wait_for(pilot, lambda: screen.exercise is None)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, SaleScreen))

    asyncio.run(go())
    with Runner(url, data_dir, work_dir=tmp_path / "headless") as runner:
        headless = runner.run(scenario)
    assert headless.score == scenario.max_score == 10


def test_escape_stops_an_exercise_after_the_step_under_way(backend, tmp_path):
    app = make_app(backend, tmp_path)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(app, pilot)
            await pilot.press("f8")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.library.exercises)
            screen = app.screen
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.waiting is not None)
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.waiting is not None and screen.waiting.number == 2)
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.exercise is None)
            assert str(screen.query_one("#training").current) == "exercise-list"
            await wait_for(pilot, lambda: not [w for w in screen.workers if w.group == "training" and w.is_running])
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, SaleScreen))

    asyncio.run(go())


def test_without_the_simulator_the_training_screen_says_exercises_need_it(backend, tmp_path):
    app = make_app(backend, tmp_path, with_simulator=False)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await signed_in(app, pilot)
            await pilot.press("f8")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.library.exercises)
            assert "Training exercises need the simulator" in text(app, "#training-unavailable")
            await pilot.press("enter")  # the exercise can be read, not run
            await wait_for(pilot, lambda: app.screen.exercise is not None)
            said = squeezed("Cannot run it here. Training exercises need the simulator")
            await wait_for(pilot, lambda: said in squeezed(text(app, "#exercise-status")), timeout_s=5)
            assert app.screen.waiting is None

    asyncio.run(go())


def test_the_runner_asks_before_each_step_and_tells_each_result(backend, tmp_path):
    url, data_dir, _simulator = backend
    scenario = parse_file(EXERCISE).scenarios[0]
    asked, told = [], []
    with Runner(url, data_dir, work_dir=tmp_path) as runner:
        result = runner.run(scenario, before_step=lambda step: asked.append(step.number) or step.number < 3,
                            on_step=lambda done: told.append((done.step.number, done.status)))
    assert asked == [1, 2, 3]  # no step after the one stopped at is asked about
    assert told == [(1, PASSED), (2, PASSED)] + [(n, SKIPPED) for n in range(3, len(scenario.steps) + 1)]
    assert result.score == 2 and not result.passed
