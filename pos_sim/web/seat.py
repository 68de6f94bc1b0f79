"""``SeatedTerminal``: the terminal UI as a served class runs it, one per browser session, telling the
trainer's page what it does (``TerminalStatus``, written to ``status_file`` as it changes).

It is ``PosApp`` itself; it only listens: the connection (its terminal id), the sign-in, the payment
state, and the training exercise's messages, which bubble up from ``TrainingScreen`` to the app. When
the session ends (the tab closed, the server stopping), a payment under way is given up, so that it
is cancelled rather than left waiting; the server recovers the terminal's journal once the process
has ended, so whatever the process could not finish still ends in one known outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pos_sim.terminal.journal import State
from pos_sim.tui.app import Connection, PosApp
from pos_sim.tui.screens.training import TrainingScreen, pass_mark
from pos_sim.web.status import TerminalStatus


class SeatedTerminal(PosApp):
    """A terminal of a served class: ``PosApp`` telling ``status_file`` what it does."""

    def __init__(self, connect: Callable[[], Connection], lang: str = "en", *, status_file: Path) -> None:
        super().__init__(connect, lang)
        self.status_file = status_file
        self.status = TerminalStatus("")

    def _tell(self, **changes: object) -> None:
        self.status = replace(self.status, **changes)  # type: ignore[arg-type]
        self.status.write(self.status_file)

    def watch_connection(self, connection: Connection | None) -> None:
        if connection is not None:
            self._tell(terminal_id=connection.settings.terminal_id)

    def watch_payment_state(self, state: State | None) -> None:
        if state is not None:
            self._tell(payment=state.value)

    def sign_in(self, operator: str, training: bool, done: Callable[[], None]) -> None:
        def signed_in() -> None:
            self._tell(operator=operator, training=training)
            done()

        super().sign_in(operator, training, signed_in)

    def on_training_screen_step_ready(self, message: TrainingScreen.StepReady) -> None:
        screen = self.screen
        if message.step.number == 1 and isinstance(screen, TrainingScreen) and screen.exercise is not None:
            scenario = screen.exercise.scenario
            self._tell(exercise=scenario.name, points=0, max_points=scenario.max_score, passed=None)

    def on_training_screen_step_done(self, message: TrainingScreen.StepDone) -> None:
        self._tell(points=self.status.points + message.result.points)

    def on_training_screen_exercise_done(self, message: TrainingScreen.ExerciseDone) -> None:
        result = message.result
        self._tell(exercise=result.scenario.name, points=result.score, max_points=result.scenario.max_score,
                   passed=result.score >= pass_mark(result.scenario.max_score))

    def on_unmount(self) -> None:
        self.give_up_payment()  # before PosApp's own on_unmount closes the register
