"""A served class's terminal (``SeatedTerminal``) tells its status file what the trainer's page shows:
who signed in, the payment, and the training exercise's score step by step; the real app through
Pilot, against a real simulator on a loopback port."""

from __future__ import annotations

import asyncio

from test_settings_training import EXERCISE, backend, make_app, signed_in, wait_for  # noqa: F401 (backend: a fixture)

from pos_sim.scenarios import parse_file
from pos_sim.tui.screens.training import TrainingScreen
from pos_sim.web.seat import SeatedTerminal
from pos_sim.web.status import TerminalStatus


def test_the_status_file_follows_the_sign_in_and_the_exercise_score(backend, tmp_path):  # noqa: F811
    scenario = parse_file(EXERCISE).scenarios[0]
    status_file = tmp_path / "status.json"
    app = SeatedTerminal(make_app(backend, tmp_path).connect, status_file=status_file)

    def told() -> TerminalStatus:
        return TerminalStatus.read(status_file, "")

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await signed_in(app, pilot)
            assert (told().terminal_id, told().operator, told().training) == ("T01", "01", False)
            await pilot.press("f8")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.library.exercises)
            screen = app.screen
            names = [exercise.scenario.name for exercise in screen.library.exercises]
            await pilot.press(*["down"] * names.index(scenario.name), "enter")
            scores = []
            for step in scenario.steps:
                await wait_for(pilot, lambda: screen.waiting is not None and screen.waiting.number == step.number)
                await pilot.press("enter")
                await wait_for(pilot, lambda: screen.views[step.number].result is not None)
                await pilot.pause(0.1)
                scores.append(told().points)
            await wait_for(pilot, lambda: told().passed is not None)
            assert scores == [sum(s.score for s in scenario.steps[:n]) for n in range(1, len(scenario.steps) + 1)]
            assert (told().exercise, told().points, told().max_points, told().passed) == (
                scenario.name, scenario.max_score, scenario.max_score, True)

    asyncio.run(go())
