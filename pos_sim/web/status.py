"""What a served terminal tells the trainer: who is signed in, the payment under way, the training
exercise and its score. The terminal's process writes it to a JSON file in its folder as it changes
(whole, by rename: a reader never sees half of it); the server reads it for the trainer's page."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class TerminalStatus:
    """One terminal's state as the trainer sees it."""

    terminal_id: str
    operator: str = ""          # "" until someone signs in
    training: bool = False
    payment: str = ""           # the state of the payment under way or last made ("" none yet)
    exercise: str = ""          # the training exercise chosen last ("" none)
    points: int = 0             # won in it so far
    max_points: int = 0
    passed: bool | None = None  # None while it runs (or none ran)

    def write(self, path: Path) -> None:
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path, terminal_id: str) -> TerminalStatus:
        """The status in ``path``; a blank one for ``terminal_id`` while there is none (or it cannot be read)."""
        try:
            said = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(terminal_id)
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in said.items() if name in known}) if isinstance(said, dict) else cls(terminal_id)
