"""Guided training exercises: the scenario library's training folder, run a step per keypress.

The screen lists the exercises of ``TRAINING_DIR`` (each scenario of its ``*.yaml`` files: name,
description, steps, the points it scores). Choosing one shows its steps, each with its note (what
the trainee does, and why); Enter runs the next step against the app's gateway, which must be the
simulator, and shows what it did (the runner's words), its expectations met or not, and the points
won; at the end, the score and whether it reaches the pass mark (``PASS_MARK`` of the points).

The exercise runs in ``scenarios.runner.Runner``, in a worker thread of this screen: the runner
opens the exercise's wallets and a register of its own on a journal of its own (a temporary
folder, deleted after), so the cashier's register is never touched. The runner asks before each
step (``before_step``); the worker waits there for the trainee's Enter, or for Escape, which stops
the exercise after the step under way (the rest are skipped, the register closed).
"""

from __future__ import annotations

import math
import queue
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from pos_sim.assets import SCENARIOS
from pos_sim.domain.money import Money
from pos_sim.language import N_, _
from pos_sim.scenarios.model import Scenario, ScenarioError, Step
from pos_sim.scenarios.parse import parse_file
from pos_sim.scenarios.results import ERROR, FAILED, PASSED, SKIPPED, ScenarioResult, StepResult
from pos_sim.scenarios.runner import Runner
from pos_sim.tui.screens.terminal import TerminalScreen

TRAINING_DIR = SCENARIOS / "training"
"""The training exercises of the scenario library."""

PASS_MARK = 0.8
"""The share of an exercise's points that passes it."""

GATE_POLL_S = 0.1
"""How often a run waiting for the trainee's key looks whether it was cancelled (the screen gone)."""

NEEDS_SIMULATOR = N_("Training exercises need the simulator: the gateway at {url} is not a pos-sim simulator, so there "
                   "are no wallets to pay with. Start the terminal on its embedded simulator, or point it at one "
                   "(--backend) with its data dir (--backend-data-dir).")
NEEDS_DATA_DIR = N_("Training exercises pay as the simulator's demo merchant: give the terminal the simulator's data "
                  "dir (gateway.simulator_data_dir, --backend-data-dir) for its keys.")


@dataclass(frozen=True)
class Exercise:
    """A training scenario and the file it was read from."""

    scenario: Scenario
    path: Path


@dataclass(frozen=True)
class Library:
    """The exercises of a folder, and the files in it that could not be read (with why)."""

    exercises: tuple[Exercise, ...]
    problems: tuple[str, ...] = ()


def read_exercises(folder: Path = TRAINING_DIR) -> Library:
    """Every scenario of the ``*.yaml`` files in ``folder``, in file order."""
    exercises: list[Exercise] = []
    problems: list[str] = []
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not paths:
        problems.append(_("no exercises (*.yaml) in {folder}").format(folder=folder))
    for path in paths:
        try:
            exercises += [Exercise(scenario, path) for scenario in parse_file(path).scenarios]
        except ScenarioError as exc:
            problems.append(_("{file}: cannot be read: {why}").format(file=path.name, why=exc.message))
    return Library(tuple(exercises), tuple(problems))


def pass_mark(max_score: int) -> int:
    """The points that pass an exercise scoring at most ``max_score``."""
    return math.ceil(max_score * PASS_MARK)


def _points(n: int) -> str:
    return (_("{n} point") if n == 1 else _("{n} points")).format(n=n)


STATUS_WORD = {PASSED: N_("passed"), FAILED: N_("failed"), ERROR: N_("error"), SKIPPED: N_("skipped")}
"""A step's status as the trainee reads it (translated where shown)."""


def _value(value: Any) -> str:
    if isinstance(value, Money):
        return f"{value.major_str()} {value.currency.code}"
    if isinstance(value, Path):
        return value.name
    if isinstance(value, tuple | list):
        return ", ".join(map(_value, value))
    if isinstance(value, dict):
        return ", ".join(f"{key} {_value(item)}" for key, item in value.items())
    if is_dataclass(value) and not isinstance(value, type):
        said = _fields(value)
        return f"{type(value).__name__.removesuffix('Source').lower()}" + (f" ({said})" if said else "")
    return str(value)


def _fields(action: Any) -> str:
    """An action's fields as written: a required one by its value, the others by name, defaults left out."""
    said = []
    for spec in fields(action):
        value = getattr(action, spec.name)
        default = spec.default if spec.default is not MISSING else (
            spec.default_factory() if spec.default_factory is not MISSING else MISSING)
        if default is MISSING:
            said.append(_value(value))
        elif value != default and value is not None:
            said.append(spec.name.replace("_", " ") if value is True else f"{spec.name.replace('_', ' ')} {_value(value)}")
    return ", ".join(said)


def describe(step: Step) -> str:
    """What a step does, in a line: ``pay order-code, wallet customer, confirm ms 500``."""
    said = _fields(step.action)
    return f"{step.keyword.replace('_', ' ')} {said}".strip()


MARKS = {PASSED: ("✔", "green"), FAILED: ("✘", "red"), ERROR: ("✘", "red"), SKIPPED: ("–", "dim")}


class StepView(Static):
    """One step of an exercise: what it does, its note, and once run, what happened and the points."""

    def __init__(self, step: Step) -> None:
        super().__init__(id=f"step-{step.number}", classes="training-step pending")
        self.step = step
        self.result: StepResult | None = None
        self.state = "pending"

    def on_mount(self) -> None:
        self.show()

    def set_state(self, state: str, result: StepResult | None = None) -> None:
        """``pending``, ``next`` (Enter runs it), ``running``, or the result's status."""
        self.remove_class(self.state)
        self.state = state
        self.result = result
        self.add_class(state)
        self.show()

    def show(self) -> None:
        step, result = self.step, self.result
        text = Text()
        text.append(_("Step {number}").format(number=step.number) + "  ", style="bold")
        text.append(describe(step))
        if step.score:
            text.append(f"   [{_points(step.score)}]", style="bold")
        if step.note:
            text.append(f"\n  {step.note}", style="italic")
        if self.state == "next":
            text.append("\n  " + _("Enter: do this step"), style="bold")
        elif self.state == "running":
            text.append("\n  " + _("running..."), style="bold")
        if result is not None:
            mark, colour = MARKS[result.status]
            if result.status == SKIPPED:
                text.append(f"\n  {mark} " + _("skipped: not run"), style=colour)
            else:
                won = (f"+{_points(result.points)}" if result.passed
                       else _("0 of {points}").format(points=_points(step.score)))
                text.append(f"\n  {mark} {_(STATUS_WORD[result.status])}", style=f"bold {colour}")
                text.append(f"   {won if step.score else ''}   {result.duration_s:.2f} s".rstrip(), style=colour)
            for line in result.happened:
                text.append(f"\n    {line}")
            for check in result.checks:
                mark, colour = MARKS[PASSED if check.passed else FAILED]
                text.append(f"\n    {mark} {_(check.said())}", style=colour)
            if result.message:
                text.append(f"\n    ! {result.message}", style="red")
        self.update(text)


class TrainingScreen(TerminalScreen):
    """The exercises; one chosen, its steps run one per Enter."""

    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("enter", "next_step", N_("Next step")),
        Binding("enter", "exercises", N_("Exercises")),
    ]

    @dataclass
    class StepReady(Message):
        """The run waits for the trainee's key before ``step``."""

        run: int
        step: Step

    @dataclass
    class StepDone(Message):
        """A step of the run is done (or skipped)."""

        run: int
        result: StepResult

    @dataclass
    class ExerciseDone(Message):
        """The run is over: every step's result and the score."""

        run: int
        result: ScenarioResult

    def __init__(self, folder: Path = TRAINING_DIR) -> None:
        super().__init__()
        self.folder = folder
        self.library = Library(())
        self.exercise: Exercise | None = None
        self.views: dict[int, StepView] = {}
        self.run_number = 0
        self._gate: queue.Queue[bool] | None = None
        self.waiting: Step | None = None    # the run waits before this step for Enter
        self.running = False                # a step is under way
        self.outcome: ScenarioResult | None = None

    # --- what can run ---

    def cannot_run(self) -> str | None:
        """Why exercises cannot run here, or None."""
        settings = self.pos.settings
        if self.pos.simulator is None:
            return _(NEEDS_SIMULATOR).format(url=settings.gateway.url)
        if settings.gateway.simulator_data_dir is None:
            return _(NEEDS_DATA_DIR)
        return None

    # --- the face ---

    def compose_face(self) -> ComposeResult:
        with ContentSwitcher(initial="exercise-list", id="training"):
            with Vertical(id="exercise-list"):
                yield Static(_("Training exercises"), classes="training-title")
                yield Static(_("Each exercise runs on a training register of its own (its own journal, receipts "
                               "stamped TRAINING) against the simulator: your own till is not touched. Choose one "
                               "with the arrows and Enter; then Enter does one step at a time."), id="exercises-help")
                why = self.cannot_run()
                if why is not None:
                    yield Static(why, id="training-unavailable", classes="training-warning")
                yield OptionList(id="exercises")
            with Vertical(id="exercise"):
                yield Static("", id="exercise-title", classes="training-title")
                yield Static("", id="exercise-description")
                yield VerticalScroll(id="exercise-steps")
                yield Static("", id="exercise-status")

    def on_mount(self) -> None:
        folder = self.folder
        self.pos.in_background(lambda: read_exercises(folder), self.show_library, N_("Reading the training exercises"))
        self.query_one("#exercises", OptionList).focus()

    def show_library(self, library: Library) -> None:
        self.library = library
        options: list[Option | None] = []
        for index, exercise in enumerate(library.exercises):
            scenario = exercise.scenario
            prompt = Text()
            prompt.append(scenario.name, style="bold")
            prompt.append("   " + _("max {points}, {steps} steps").format(points=_points(scenario.max_score),
                                                                       steps=len(scenario.steps)))
            if scenario.description:
                prompt.append(f"\n{scenario.description.strip()}", style="dim")
            if options:
                options.append(None)
            options.append(Option(prompt, id=str(index)))
        for problem in library.problems:
            if options:
                options.append(None)
            options.append(Option(Text(problem, style="red"), disabled=True))
        exercises = self.query_one("#exercises", OptionList)
        exercises.clear_options()
        exercises.add_options(options)
        if library.exercises:
            exercises.highlighted = 0

    # --- choosing and running an exercise ---

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            await self.choose(self.library.exercises[int(event.option.id)])

    async def choose(self, exercise: Exercise) -> None:
        """Show ``exercise``'s steps, and start its run (it waits before the first step)."""
        scenario = exercise.scenario
        self.exercise, self.outcome, self.waiting, self.running = exercise, None, None, False
        self.query_one("#exercise-title", Static).update(  # Text: a name or description is never markup
            Text(f"{scenario.name}   " + _("(max {points}, pass mark {mark})").format(
                points=_points(scenario.max_score), mark=pass_mark(scenario.max_score))))
        self.query_one("#exercise-description", Static).update(Text((scenario.description or "").strip()))
        steps = self.query_one("#exercise-steps", VerticalScroll)
        await steps.remove_children()
        self.views = {step.number: StepView(step) for step in scenario.steps}
        await steps.mount_all(self.views.values())
        steps.scroll_home(animate=False)
        self.query_one("#training", ContentSwitcher).current = "exercise"
        steps.focus()
        why = self.cannot_run()
        if why is not None:
            self.status(Text(_("Cannot run it here.") + f" {why}", style="bold red"))
        else:
            self.status(_("Setting up: opening the exercise's wallets and a training register..."))
            self.run_number += 1
            self._gate = queue.Queue()
            settings = self.pos.settings
            self._run(self.run_number, scenario, self._gate, settings.gateway.url,
                      settings.gateway.simulator_data_dir, settings.gateway.simulator_token)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _run(self, run: int, scenario: Scenario, gate: queue.Queue[bool], url: str, data_dir: Path,
             token: str | None) -> None:
        """The exercise in the runner, waiting at each step for the trainee's key (a worker thread)."""
        worker = get_current_worker()

        def before_step(step: Step) -> bool:
            self.post_message(self.StepReady(run, step))
            while True:
                try:
                    return gate.get(timeout=GATE_POLL_S)
                except queue.Empty:
                    if worker.is_cancelled:
                        return False

        def on_step(result: StepResult) -> None:
            self.post_message(self.StepDone(run, result))

        with Runner(url, data_dir, admin_token=token) as runner:
            result = runner.run(scenario, before_step=before_step, on_step=on_step)
        self.post_message(self.ExerciseDone(run, result))

    def on_training_screen_step_ready(self, message: StepReady) -> None:
        if message.run != self.run_number:
            return
        self.waiting, self.running = message.step, False
        view = self.views[message.step.number]
        view.set_state("next")
        view.scroll_visible()
        self.status(Text.assemble(_("Score {score}").format(score=self.score()) + "   ", ("Enter", "bold"),
                                  ": " + _("do step {number} of {steps}").format(number=message.step.number,
                                                                                 steps=len(self.views))
                                  + f", {describe(message.step)}"))
        self.refresh_bindings()

    def on_training_screen_step_done(self, message: StepDone) -> None:
        if message.run != self.run_number:
            return
        result = message.result
        view = self.views[result.step.number]
        view.set_state(result.status, result)
        view.scroll_visible()
        self.running = False
        self.status(_("Score {score}").format(score=self.score()) + "   "
                    + _("step {number} {status}").format(number=result.step.number, status=_(STATUS_WORD[result.status])))

    def on_training_screen_exercise_done(self, message: ExerciseDone) -> None:
        if message.run != self.run_number:
            return
        result = self.outcome = message.result
        self.waiting, self.running, self._gate = None, False, None
        for step in result.steps:
            view = self.views[step.step.number]
            if view.result is None:
                view.set_state(step.status, step)
        self.status(self.verdict(result))
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A run that failed unexpectedly: the app's one handler says why; the exercise cannot go on."""
        super().on_worker_state_changed(event)
        if event.worker.group == "training" and event.state is WorkerState.ERROR:
            self.waiting, self.running, self._gate = None, False, None
            self.status(Text(_("The exercise stopped: something went wrong (see the notification)."), style="bold red"))
            self.refresh_bindings()

    def score(self) -> str:
        scenario = self.exercise.scenario if self.exercise else None
        won = sum(view.result.points for view in self.views.values() if view.result is not None)
        return f"{won}/{scenario.max_score if scenario else 0}"

    def verdict(self, result: ScenarioResult) -> Text:
        """The end of an exercise: the score, and whether it reaches the pass mark."""
        if result.setup_error is not None:
            return Text(_("The exercise could not be set up: {error}").format(error=result.setup_error), style="bold red")
        most, won = result.scenario.max_score, result.score
        mark = pass_mark(most)
        passed = won >= mark
        problem = result.first_problem
        why = (_("Step {number} did not pass, so the steps after it were not run.").format(number=problem.step.number)
               if problem is not None else _("Stopped before the end.")
               if any(step.status == SKIPPED for step in result.steps) else _("Every step done."))
        text = Text(why + " ")
        text.append(_("Score {score}").format(score=f"{won}/{most}"), style="bold")
        text.append("   " + (_("PASSED") if passed else _("NOT PASSED")), style="bold green" if passed else "bold red")
        text.append(" " + _("(pass mark {mark})").format(mark=mark) + "   " + _("Enter: back to the exercises"))
        return text

    def status(self, text: str | Text) -> None:
        self.query_one("#exercise-status", Static).update(text)

    # --- keys ---

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_step":  # shown while an exercise runs; live when it waits for the key
            if self.exercise is None or self.outcome is not None or self.cannot_run() is not None:
                return False
            return True if self.waiting is not None else None
        if action == "exercises":
            return self.exercise is not None and (self.outcome is not None or self.cannot_run() is not None)
        return True

    def action_next_step(self) -> None:
        """Enter: run the step the exercise waits before (one at a time)."""
        if self.waiting is None or self._gate is None or self.running:
            return
        view = self.views[self.waiting.number]
        self.waiting, self.running = None, True
        view.set_state("running")
        self.status(Text(_("Step {number}").format(number=view.step.number) + " " + _("running...")))
        self._gate.put(True)
        self.refresh_bindings()

    def action_exercises(self) -> None:
        self.back_to_list()

    def action_back(self) -> None:
        """Escape: from an exercise, stop it (after the step under way) and go back to the list; from the list, leave."""
        if self.exercise is None:
            self.app.pop_screen()
            return
        self.back_to_list()

    def back_to_list(self) -> None:
        self.stop()
        self.exercise, self.outcome, self.waiting, self.running = None, None, None, False
        self.query_one("#training", ContentSwitcher).current = "exercise-list"
        self.query_one("#exercises", OptionList).focus()
        self.refresh_bindings()

    def stop(self) -> None:
        """The run under way stops after its current step: its register closes, its rest is skipped."""
        if self._gate is not None:
            self._gate.put(False)
            self._gate = None
        self.run_number += 1  # what the stopped run still says is not shown

    def on_unmount(self) -> None:
        self.stop()
