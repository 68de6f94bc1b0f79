"""``pos-sim scenario``: scripted runs (YAML) for QA suites, demos and training exercises.

``scenario run`` reads every file first (a malformed one: exit 2, nothing run), then runs them with
``scenarios.runner`` against ``--backend`` or an embedded simulator in a fresh data dir.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pos_sim.assets import SCENARIOS
from pos_sim.cli.backend import default_data_dir, reach_gateway
from pos_sim.cli.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, UsageError
from pos_sim.language import N_, _


def add_scenario_commands(commands: argparse._SubParsersAction) -> None:
    scenario = commands.add_parser("scenario", help=N_("scripted runs (YAML): QA suites, demos, training exercises"))
    actions = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="run scenario files against a simulator",
        description="Run scenario files, or the bundled ones by name (pos-sim scenario list). Exit 0 when every "
                    "scenario passed, 1 when any did not, 2 a malformed file or bad input.")
    run.add_argument("files", nargs="+", type=Path, metavar="FILE",
                     help="scenario files (YAML) or folders of them, or bundled names such as demo/order-code or qa")
    run.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML")
    run.add_argument("--json", action="store_true", help="print the results as one JSON object")
    run.add_argument("--backend", metavar="URL",
                     help="a running pos-sim simulator (default: an embedded one, in a fresh data dir, for this run)")
    run.add_argument("--backend-data-dir", type=Path, metavar="DIR",
                     help="the simulator's data dir, its demo merchant's keys: an embedded simulator runs on it, or, with "
                          "--backend, the running one's (default: the pos-sim backend's own)")
    run.add_argument("--language", metavar="LANG",
                     help="the language of the report printed (not of --json or --junit): the merchant's, from "
                          "$POS_SIM_LANGUAGE or the settings file's language (default en)")
    run.add_argument("--config", type=Path, metavar="FILE",
                     help="the settings file whose language the report is printed in (default: $POS_SIM_CONFIG, "
                          "else the default file if there is one)")
    run.set_defaults(run=run_scenarios)
    listed = actions.add_parser("list", help="name the bundled scenarios (the library's demos, QA suites, training)",
                                description="Name the scenario files shipped with pos-sim, each with what it holds; "
                                            "pos-sim scenario run takes these names, and folder names (demo, qa, training).")
    listed.add_argument("--json", action="store_true", help="print one JSON object")
    listed.set_defaults(run=list_scenarios)


SCENARIO_MARKS = {"passed": N_("pass"), "failed": N_("FAIL"), "error": N_("ERROR")}


def bundled(name: Path) -> Path | None:
    """The bundled scenario file or folder ``name`` names (``demo/order-code``, ``qa``), if any."""
    if name.is_absolute() or ".." in name.parts:
        return None
    for found in (SCENARIOS / name, SCENARIOS / name.with_name(name.name + ".yaml")):
        if found.exists() and found.resolve().is_relative_to(SCENARIOS.resolve()):
            return found
    return None


def scenario_files(paths: list[Path]) -> list[Path]:
    """The files named, the *.yaml / *.yml files under the folders named, and the bundled files and
    folders named (where no file of that name is here), in order."""
    found: list[Path] = []
    for path in paths:
        if not path.exists() and (library := bundled(path)) is not None:
            path = library
        if not path.exists():
            raise UsageError(_("{path}: no such scenario file or folder, nor a bundled scenario (pos-sim scenario list names "
                               "them)").format(path=path))
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not inside:
                raise UsageError(_("{path}: no scenario files (*.yaml) in this folder").format(path=path))
            found += inside
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def run_scenarios(args: argparse.Namespace) -> int:
    import tempfile

    from rich.cells import cell_len

    from pos_sim.scenarios import ScenarioError, parse_file
    from pos_sim.scenarios.results import PASSED, json_report, junit_xml
    from pos_sim.scenarios.runner import Runner
    from pos_sim.terminal.settings import GatewaySettings

    files, malformed = [], 0
    for path in scenario_files(args.files):
        try:
            files.append(parse_file(path))
        except ScenarioError as exc:
            print(_("error: {message}").format(message=exc), file=sys.stderr)
            malformed += 1
    if malformed:
        return EXIT_INVALID
    if args.junit is not None and not args.junit.parent.is_dir():
        raise UsageError(_("--junit {path}: no folder {folder} to write it in").format(path=args.junit, folder=args.junit.parent))
    values: dict[str, Any] = {name: value for name, value in (("gateway.url", args.backend),
                              ("gateway.simulator_data_dir", args.backend_data_dir)) if value is not None}
    with ExitStack() as stack:
        if not values:  # a fresh simulator for the run: scenarios start from nothing, and leave nothing behind
            values["gateway.simulator_data_dir"] = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pos-sim-scenarios-")))
        reach_gateway(values, stack)
        data_dir = Path(values.setdefault("gateway.simulator_data_dir", default_data_dir()))
        GatewaySettings(values["gateway.url"], simulator_data_dir=data_dir).credentials()  # the keys are there, before anything runs
        runner = stack.enter_context(Runner(values["gateway.url"], data_dir))
        shown: list[Path] = []

        def show(file, result) -> None:
            if args.json:
                return
            if not shown or shown[-1] != file.path:
                shown.append(file.path)
                print(file.path, flush=True)
            score = ("  " + _("score {score}").format(score=f"{result.score}/{result.scenario.max_score}")
                     if result.scenario.scored else "")
            mark = _(SCENARIO_MARKS[result.status])
            mark += " " * (5 - cell_len(mark))  # as wide as the widest English mark, in the terminal's cells
            print(f"  {mark} {result.scenario.name}  "
                  f"{result.duration_s:.1f} s{score}", flush=True)
            step = result.first_problem
            if result.setup_error is not None:
                print("        " + _("setting up: {error}").format(error=result.setup_error), flush=True)
            elif step is not None:
                title = _("step {number} {keyword} (line {line})").format(
                    number=step.step.number, keyword=step.step.keyword, line=step.step.where.line)
                print(f"        {title}:", flush=True)
                for line in step.problems():
                    print(f"          {_(line)}", flush=True)
                for line in step.happened:
                    print(f"          ({line})", flush=True)

        results = runner.run_files(files, on_result=show)
    scenarios = [s for f in results for s in f.scenarios]
    passed = sum(1 for s in scenarios if s.status == PASSED)
    if args.junit is not None:
        try:
            args.junit.write_bytes(junit_xml(results))
        except OSError as exc:
            raise UsageError(_("--junit {path}: cannot write it ({why})").format(path=args.junit, why=exc.strerror or exc)) from None
    if args.json:
        print(json.dumps(json_report(results), ensure_ascii=False, indent=2))
    else:
        took = sum(s.duration_s for s in scenarios)
        print(_("{scenarios} scenarios in {files} files: {passed} passed, {failed} not").format(
            scenarios=len(scenarios), files=len(results), passed=passed, failed=len(scenarios) - passed)
            + f"  ({took:.1f} s)")
    return EXIT_OK if passed == len(scenarios) else EXIT_FAILED


def list_scenarios(args: argparse.Namespace) -> int:
    """The bundled scenario files by name (their path in the library, without .yaml), with their scenarios."""
    from pos_sim.scenarios import parse_file

    listed = []
    for path in scenario_files([SCENARIOS]):
        if "images" in path.relative_to(SCENARIOS).parts:
            continue
        file = parse_file(path)
        name = path.relative_to(SCENARIOS).with_suffix("").as_posix()
        listed.append({"name": name, "description": file.description or file.scenarios[0].description,
                       "scenarios": [scenario.name for scenario in file.scenarios]})
    if args.json:
        print(json.dumps({"scenarios": listed}, ensure_ascii=False, indent=2))
        return EXIT_OK
    width = max(len(entry["name"]) for entry in listed)
    room = max(20, shutil.get_terminal_size().columns - width - 16)  # one line each: the description cut to fit
    for entry in listed:
        count = len(entry["scenarios"])
        about = " ".join((entry["description"] or ", ".join(entry["scenarios"])).split())
        about = about if len(about) <= room else about[:room - 1] + "…"
        print(f"{entry['name']:<{width}}  {count:>2} scenario{'s' if count != 1 else ' '}  {about}")
    print(f"\nrun one: pos-sim scenario run {listed[0]['name']}   (a folder: pos-sim scenario run qa)")
    return EXIT_OK
