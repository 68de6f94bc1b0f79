"""A class: the served terminals, one per browser session, against one simulated backend.

Each session is given a terminal of its own, T01, T02, ... in order (the lowest one free), with its
folder ``DIR/terminals/Tnn`` (its journal and sales book, so its own register and receipt numbers,
and the status it tells the trainer). The session runs ``pos-sim tui`` for that terminal as its own
process (``command``). When the session ends, its terminal is recovered (``leave``): the register is
opened on its journal and closed again, which resolves any payment the process left unresolved (a
tab closed mid-payment, a process killed) to one known outcome; only then is the terminal free for
the next session, which therefore finds its journal settled.
"""

from __future__ import annotations

import logging
import shlex
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from pos_sim.terminal.errors import TerminalError
from pos_sim.terminal.register import Register
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.web.status import TerminalStatus

log = logging.getLogger(__name__)

MOST_TERMINALS = 99
STATUS_FILE = "status.json"


class ClassFull(Exception):
    """Every terminal id is taken."""


class UnknownTerminal(Exception):
    """No terminal of that id in this class."""


@dataclass(frozen=True)
class Terminal:
    """A terminal of the class as the trainer's page lists it."""

    status: TerminalStatus
    session: str  # "live" (a browser session on it), "closing" (being recovered), "ended"
    recovered: tuple[str, ...] = ()  # what closing it resolved: "T02-000003 cancelled"


class Classroom:
    """The terminals of a class in ``folder``, against the simulator at ``backend_url`` (its data dir
    ``backend_data_dir`` holds the demo merchant's keys)."""

    def __init__(self, folder: Path, backend_url: str, backend_data_dir: Path) -> None:
        self.folder = folder / "terminals"
        self.backend_url = backend_url
        self.backend_data_dir = backend_data_dir
        self._lock = threading.Lock()
        self._sessions: dict[str, str] = {}             # terminal id -> "live" or "closing"
        self._recovered: dict[str, tuple[str, ...]] = {}

    def folder_of(self, terminal_id: str) -> Path:
        return self.folder / terminal_id

    def take(self) -> str:
        """The lowest terminal id free, now live (ClassFull when all are taken)."""
        with self._lock:
            for number in range(1, MOST_TERMINALS + 1):
                terminal_id = f"T{number:02d}"
                if terminal_id not in self._sessions:
                    self._sessions[terminal_id] = "live"
                    self._recovered.pop(terminal_id, None)
                    folder = self.folder_of(terminal_id)
                    folder.mkdir(parents=True, exist_ok=True)
                    TerminalStatus(terminal_id).write(folder / STATUS_FILE)  # not the last session's
                    return terminal_id
        raise ClassFull(f"every terminal of the class is taken ({MOST_TERMINALS}): close a session first")

    def command(self, terminal_id: str) -> str:
        """The shell command a session of ``terminal_id`` runs: the terminal UI on its own folder."""
        folder = self.folder_of(terminal_id)
        return shlex.join([sys.executable, "-m", "pos_sim", "tui", "--backend", self.backend_url,
                           "--backend-data-dir", str(self.backend_data_dir), "--terminal-id", terminal_id,
                           "--journal-dir", str(folder), "--status-file", str(folder / STATUS_FILE)])

    def leave(self, terminal_id: str) -> tuple[str, ...]:
        """The session on ``terminal_id`` ended (its process too): recover its journals, then free it.
        Blocking (the gateway is asked about each payment left unresolved); what was resolved, said."""
        with self._lock:
            self._sessions[terminal_id] = "closing"
        try:
            recovered = self.recover(terminal_id)
        finally:
            with self._lock:
                del self._sessions[terminal_id]
        with self._lock:
            self._recovered[terminal_id] = recovered
        return recovered

    def recover(self, terminal_id: str) -> tuple[str, ...]:
        """Open and close ``terminal_id``'s registers (its training one too, if it has a journal): every
        payment they hold unresolved ends in one known outcome. What that settled, one line a sale."""
        said: list[str] = []
        for training in (False, True):
            settings = TerminalSettings.build({"gateway.url": self.backend_url, "terminal_id": terminal_id,
                                               "gateway.simulator_data_dir": self.backend_data_dir,
                                               "journal_dir": self.folder_of(terminal_id), "training": training})
            if not settings.journal_path.exists():
                continue
            try:
                with Register.open(settings) as register:
                    said += [f"{sale.receipt_number} {sale.state.value}" for sale in register.recovered.sales]
            except TerminalError as exc:  # the gateway unreachable: the next open of this terminal recovers it
                log.error("terminal %s: its journal could not be recovered: %s", terminal_id, exc)
                said.append(f"not recovered yet ({exc})")
        return tuple(said)

    def terminals(self) -> list[Terminal]:
        """Every terminal the class has had, in id order."""
        ids = sorted(path.name for path in self.folder.glob("T[0-9][0-9]") if path.is_dir()) if self.folder.is_dir() else []
        return [self.terminal(terminal_id) for terminal_id in ids]

    def terminal(self, terminal_id: str) -> Terminal:
        folder = self.folder_of(terminal_id)
        if not (len(terminal_id) == 3 and terminal_id[0] == "T" and terminal_id[1:].isdigit() and folder.is_dir()):
            raise UnknownTerminal(f"no terminal {terminal_id!r} in this class")
        with self._lock:
            session, recovered = self._sessions.get(terminal_id, "ended"), self._recovered.get(terminal_id, ())
        return Terminal(TerminalStatus.read(folder / STATUS_FILE, terminal_id), session, recovered)
