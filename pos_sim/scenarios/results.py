"""What a scenario run found, step by step, and the two reports written of it: JUnit XML and JSON.

A ``StepResult`` is ``passed``, ``failed`` (an expectation not met, or a refusal no ``error:``
expected), ``error`` (something went wrong that no scenario can expect: a fault of the runner or
of its surroundings) or ``skipped`` (an earlier step of its scenario did not pass). Each of its
``checks`` says what was expected, what was found, and where the expectation was written.

``junit_xml`` writes one ``testsuite`` per scenario file and one ``testcase`` per scenario (the
first step that did not pass as its ``failure`` or ``error``, every step in ``system-out``);
``json_report`` the same as one JSON document. Both use the standard library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos_sim.language import N_, Phrase
from pos_sim.scenarios.model import Scenario, Step, Where

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True)
class Check:
    """One expectation of a step, held against what happened."""

    name: str
    expected: str
    actual: str
    passed: bool
    where: Where | None = None

    def said(self) -> Phrase:
        """The check in one line: English as the JSON and JUnit reports keep it, a ``Phrase`` the printed report
        and the training screen show in the merchant's language."""
        if self.where is None:
            return Phrase(N_("{name}: expected {expected}, got {actual}"), name=self.name, expected=self.expected,
                          actual=self.actual)
        return Phrase(N_("{name} (line {line}): expected {expected}, got {actual}"), name=self.name, line=self.where.line,
                      expected=self.expected, actual=self.actual)


@dataclass
class StepResult:
    """What one step did and whether it met its expectations."""

    step: Step
    status: str
    duration_s: float = 0.0
    checks: list[Check] = field(default_factory=list)
    message: str | None = None       # why it failed or erred, when no single check says it
    happened: list[str] = field(default_factory=list)   # what the step did, in words
    printed: str | None = None       # the receipt or report it printed

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def points(self) -> int:
        return self.step.score if self.passed else 0

    def title(self) -> str:
        return f"step {self.step.number} {self.step.keyword} (line {self.step.where.line})"

    def problems(self) -> list[str]:
        """Why it did not pass, one line each."""
        said = [self.message] if self.message else []
        return said + [check.said() for check in self.checks if not check.passed]

    def json(self) -> dict[str, Any]:
        return {
            "number": self.step.number, "action": self.step.keyword, "line": self.step.where.line, "status": self.status,
            "durationS": round(self.duration_s, 3), "points": self.points, "maxPoints": self.step.score, "note": self.step.note,
            "message": self.message, "happened": self.happened, "printed": self.printed,
            "checks": [{"name": c.name, "expected": c.expected, "actual": c.actual, "passed": c.passed,
                        "line": c.where.line if c.where else None} for c in self.checks],
        }


@dataclass
class ScenarioResult:
    """One scenario's run: its steps' results, time, and score."""

    scenario: Scenario
    steps: list[StepResult]
    duration_s: float
    setup_error: str | None = None   # the wallets or the register could not be set up: no step ran

    @property
    def passed(self) -> bool:
        return self.setup_error is None and all(step.passed for step in self.steps)

    @property
    def status(self) -> str:
        if self.setup_error is not None or any(step.status == ERROR for step in self.steps):
            return ERROR
        return PASSED if self.passed else FAILED

    @property
    def score(self) -> int:
        return sum(step.points for step in self.steps)

    @property
    def first_problem(self) -> StepResult | None:
        return next((step for step in self.steps if step.status in (FAILED, ERROR)), None)

    def summary(self) -> str:
        """One line: why it did not pass (empty when it did)."""
        if self.setup_error is not None:
            return f"setting up: {self.setup_error}"
        step = self.first_problem
        return f"{step.title()}: {'; '.join(step.problems())}" if step else ""

    def log(self) -> str:
        """Every step in a line or more: what it did and what it found."""
        out = []
        if self.setup_error is not None:
            out.append(f"setting up: {self.setup_error}")
        for step in self.steps:
            mark = {PASSED: "ok  ", FAILED: "FAIL", ERROR: "ERR ", SKIPPED: "skip"}[step.status]
            score = f" [{step.points}/{step.step.score}]" if step.step.score else ""
            out.append(f"{mark} {step.title()} {step.duration_s:.2f} s{score}")
            if step.step.note:
                out.append(f"       note: {step.step.note}")
            out += [f"       {line}" for line in step.happened]
            out += [f"       ! {line}" for line in step.problems()]
            if step.printed is not None and step.status in (FAILED, ERROR):
                out += ["       | " + line for line in step.printed.splitlines()]
        if self.scenario.scored:
            out.append(f"score {self.score}/{self.scenario.max_score}")
        return "\n".join(out)

    def json(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name, "line": self.scenario.where.line, "status": self.status, "passed": self.passed,
            "durationS": round(self.duration_s, 3), "training": self.scenario.training,
            "score": self.score if self.scenario.scored else None,
            "maxScore": self.scenario.max_score if self.scenario.scored else None,
            "description": self.scenario.description, "summary": self.summary() or None, "setupError": self.setup_error,
            "steps": [step.json() for step in self.steps],
        }


@dataclass
class FileResult:
    """The scenarios of one file, run."""

    path: Path
    scenarios: list[ScenarioResult]
    description: str | None = None

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.scenarios)

    def count(self, status: str) -> int:
        return sum(1 for s in self.scenarios if s.status == status)


def _case_class(path: Path) -> str:
    """A JUnit class name for a file: its path without the suffix, dotted (qa/faults.yaml -> qa.faults)."""
    parts = [part for part in path.with_suffix("").parts if part not in ("/", "..", ".")]
    return ".".join(parts) or path.stem


def junit_xml(results: list[FileResult]) -> bytes:
    """The results as JUnit XML: a testsuite per file, a testcase per scenario."""
    root = ET.Element("testsuites", name="pos-sim scenarios")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for file in results:
        counts = {"tests": len(file.scenarios), "failures": file.count(FAILED), "errors": file.count(ERROR)}
        for key, value in counts.items():
            totals[key] += value
        suite = ET.SubElement(root, "testsuite", name=str(file.path), **{k: str(v) for k, v in counts.items()},
                              skipped="0", time=f"{file.duration_s:.3f}")
        for result in file.scenarios:
            case = ET.SubElement(suite, "testcase", classname=_case_class(file.path), name=result.scenario.name,
                                 time=f"{result.duration_s:.3f}", file=str(file.path), line=str(result.scenario.where.line))
            if result.scenario.scored:
                properties = ET.SubElement(case, "properties")
                ET.SubElement(properties, "property", name="score", value=str(result.score))
                ET.SubElement(properties, "property", name="max_score", value=str(result.scenario.max_score))
            if result.status != PASSED:
                kind = "error" if result.status == ERROR else "failure"
                problem = ET.SubElement(case, kind, message=result.summary(), type="ScenarioError" if kind == "error" else "ScenarioFailure")
                problem.text = result.log()
            ET.SubElement(case, "system-out").text = result.log()
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{sum(f.duration_s for f in results):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def json_report(results: list[FileResult]) -> dict[str, Any]:
    """The results as one JSON document."""
    scenarios = [s for f in results for s in f.scenarios]
    return {
        "passed": all(s.passed for s in scenarios),
        "scenarios": len(scenarios),
        "failed": sum(1 for s in scenarios if s.status == FAILED),
        "errors": sum(1 for s in scenarios if s.status == ERROR),
        "durationS": round(sum(s.duration_s for s in scenarios), 3),
        "files": [{"path": str(f.path), "description": f.description, "durationS": round(f.duration_s, 3),
                   "scenarios": [s.json() for s in f.scenarios]} for f in results],
    }
