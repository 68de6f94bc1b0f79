"""A transit station's shared state: what every gate process of one station opens, in the station folder.

A station folder holds::

    station.db      the station state (SQLite, WAL, FULL sync): which accounts passed a gate of this
                    station, in or out, when, and with which ride code. Every gate of the station opens
                    it; a gate decides inside one write transaction on it (BEGIN IMMEDIATE), so two
                    gates never let the same account in at once, and each sees the other's taps as
                    soon as they are committed.
    keyring.json    the cached issuer key ring (``ride.KeyRing.to_json``), shared by the station's
                    gates: one gate's sync updates it for all, and a gate started offline decides with it.
    gate-G1.db      each gate's own journal (pos_sim/terminal/gate.py), not read here.

Only taps that opened a gate are *movements*; a denied tap changes nothing here (it is in the gate's
journal). The ride code of a movement is kept as a digest: the code is spent, and showing it again
anywhere this station can see is a replay.

**The network as this machine knows it.** The other folders beside the station folder (its parent's
subfolders) that hold a station state of the same fare network are *peer stations*: a gate reads their
movements too (never writes them). So an exit at M12 finds the entry made at M01 when both stations'
folders sit in one network folder, as they do by default (``<data dir>/stations/<station id>``). An
account's newest movement across the station and its peers says whether it is inside. A station on
another machine is not seen: the backend's clearing pairs those taps later.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pos_sim.domain.codes import ride
from pos_sim.language import N_, Phrase, message_of
from pos_sim.terminal import local_file
from pos_sim.terminal.errors import TerminalError

STATE_FILE = "station.db"
KEYRING_FILE = "keyring.json"
APPLICATION_ID = 0x50535331  # "PSS1": marks a SQLite file as a pos-sim station state
SCHEMA_VERSION = 1
KEEP_MOVEMENTS = timedelta(days=2)
"""Movements this much older than the newest are dropped when a gate opens the station: no decision looks
back so far. (Measured from the newest movement, not this machine's clock: a gate's clock is its own.)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS station (
    name TEXT PRIMARY KEY,               -- station_id, network_id
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS movements (
    tap_id TEXT PRIMARY KEY,             -- the tap's id in its gate's journal
    gate_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at_us INTEGER NOT NULL,              -- microseconds since 1970-01-01 UTC
    account TEXT NOT NULL,               -- the ride code's account token, hex
    code_digest TEXT NOT NULL,           -- which ride code opened the gate (spent from then on)
    riders INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS movements_by_account ON movements (account, at_us);
CREATE INDEX IF NOT EXISTS movements_by_code ON movements (code_digest);
"""


class StationError(TerminalError):
    """A station folder, state file or key ring cache that cannot be used."""


@dataclass(frozen=True)
class Movement:
    """A tap that opened a gate: ``account`` went ``direction`` at ``station_id``'s gate ``gate_id`` at ``at`` (UTC)."""

    tap_id: str
    station_id: str
    gate_id: str
    direction: str
    at: datetime
    account: str
    code_digest: str
    riders: int = 1


def code_digest(signed: ride.SignedRideCode) -> str:
    """What identifies one ride code: its signed bytes (key, issue time, sequence, account) in hex.

    Those bytes are unique per code the wallet issues and short (22-30 bytes), so they are kept as
    they are rather than hashed.
    """
    return signed.signed.hex()


def _micros(when: datetime) -> int:
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _state_kind(station_id: str, network_id: str) -> local_file.FileKind:
    def seed(db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO station (name, value) VALUES (?, ?)",
                       (("station_id", station_id), ("network_id", network_id)))

    return local_file.FileKind("station state", APPLICATION_ID, _SCHEMA, SCHEMA_VERSION, StationError, seed)


def _identity(db: sqlite3.Connection) -> tuple[str | None, str | None]:
    found = dict(db.execute("SELECT name, value FROM station").fetchall())
    return found.get("station_id"), found.get("network_id")


_COLUMNS = "tap_id, gate_id, direction, at_us, account, code_digest, riders"


class Station:
    """One station's shared state, open; safe to share between threads. Open it with ``Station.open``."""

    def __init__(self, folder: Path, station_id: str, network_id: str, db: sqlite3.Connection) -> None:
        self.folder = folder
        self.station_id = station_id
        self.network_id = network_id
        self._db = db
        self._lock = threading.RLock()
        self._peers: dict[Path, tuple[str, sqlite3.Connection] | bool] = {}  # False: never a peer; True: not yet one
        self._ring: ride.KeyRing | None = None
        self._ring_mark: tuple[int, int, int] | None = None

    @classmethod
    def open(cls, folder: Path, station_id: str, network_id: str) -> Station:
        """The state of ``station_id`` (of fare network ``network_id``) in ``folder``, made if it is not there yet.

        A folder holding another station's state, or another network's, is refused; so is a key ring
        cache that cannot be read (StationError naming the file).
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StationError(f"{folder}: a file, not a station folder")
        kind = _state_kind(station_id, network_id)
        path = local_file.check_path(folder / STATE_FILE, kind)
        db = local_file.connect(path, kind)
        try:
            found = _identity(db)
            if found != (station_id, network_id):
                raise StationError(f"{folder}: the folder of station {found[0]} of network {found[1]}, not of station"
                                   f" {station_id} of network {network_id}; give each station its own folder")
            db.execute("DELETE FROM movements WHERE at_us < (SELECT max(at_us) FROM movements) - ?",
                       (_micros(datetime(1970, 1, 1, tzinfo=UTC) + KEEP_MOVEMENTS),))
        except sqlite3.Error as exc:
            db.close()
            raise StationError(f"{path}: cannot read the station state ({local_file.why(exc)})") from None
        except StationError:
            db.close()
            raise
        station = cls(folder, station_id, network_id, db)
        try:
            station.keyring(strict=True)
        except StationError:
            station.close()
            raise
        return station

    def close(self) -> None:
        with self._lock:
            self._db.close()
            for peer in self._peers.values():
                if isinstance(peer, tuple):
                    peer[1].close()
            self._peers.clear()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- deciding: one write transaction on the station state ---

    @contextmanager
    def deciding(self) -> Iterator[None]:
        """Hold the station's write lock for one decision: what is read inside is what the other gates have
        committed, and no other gate of the station decides until this one commits (or rolls back on error)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StationError(f"{self.folder / STATE_FILE}: cannot lock the station state ({local_file.why(exc)})") from None
            try:
                yield
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StationError(f"{self.folder / STATE_FILE}: cannot write the station state ({local_file.why(exc)})") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def record(self, movement: Movement) -> None:
        """Add a movement of this station (inside ``deciding``, which commits it)."""
        with self._lock:
            self._db.execute(
                f"INSERT INTO movements ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (movement.tap_id, movement.gate_id, movement.direction, _micros(movement.at), movement.account,
                 movement.code_digest, movement.riders),
            )

    # --- reading: this station and its peers ---

    def last_movement(self, account: str, since: datetime) -> Movement | None:
        """The account's newest movement at or after ``since``, at this station or a peer."""
        found = self._each("WHERE account = ? AND at_us >= ? ORDER BY at_us DESC LIMIT 1", (account, _micros(since)))
        return max(found, key=lambda movement: movement.at, default=None)

    def movements(self, account: str, since: datetime) -> list[Movement]:
        """The account's movements at or after ``since``, here and at the peers, oldest first."""
        found = self._each("WHERE account = ? AND at_us >= ? ORDER BY at_us", (account, _micros(since)))
        return sorted(found, key=lambda movement: movement.at)

    def spent(self, digest: str) -> Movement | None:
        """The movement the ride code with this digest made, here or at a peer; None if it is unused."""
        return next(iter(self._each("WHERE code_digest = ? LIMIT 1", (digest,))), None)

    def _each(self, where: str, args: tuple) -> list[Movement]:
        with self._lock:
            sources = [(self.station_id, self._db, True), *((sid, db, False) for sid, db in self._peer_connections())]
            found = []
            for station_id, db, own in sources:
                try:
                    rows = db.execute(f"SELECT {_COLUMNS} FROM movements {where}", args).fetchall()
                except sqlite3.Error as exc:
                    if own:
                        raise StationError(f"{self.folder / STATE_FILE}: cannot read the station state"
                                           f" ({local_file.why(exc)})") from None
                    continue  # a peer being made or gone: the network is known as far as it can be read
                found += [Movement(tap_id, station_id, gate_id, direction, _moment(at_us), account, digest, riders)
                          for tap_id, gate_id, direction, at_us, account, digest, riders in rows]
            return found

    def peers(self) -> list[str]:
        """The ids of the peer stations seen now (the same network's states beside this folder)."""
        with self._lock:
            return sorted(station_id for station_id, _db in self._peer_connections())

    def _peer_connections(self) -> list[tuple[str, sqlite3.Connection]]:
        """Every peer's state, opened once (read only, never made); looked for again at each call, so a
        station that opens later is seen at once."""
        try:
            paths = [entry / STATE_FILE for entry in self.folder.resolve().parent.iterdir()
                     if entry.is_dir() and entry.resolve() != self.folder.resolve()]
        except OSError:
            return []
        found = []
        for path in paths:
            if self._peers.get(path, True) is True:
                self._peers[path] = self._open_peer(path)
            peer = self._peers[path]
            if isinstance(peer, tuple):
                found.append(peer)
        return found

    def _open_peer(self, path: Path) -> tuple[str, sqlite3.Connection] | bool:
        """The peer's id and a read-only connection; True when there is no state (yet) to read, False when
        there is one of another application or network (looked at once: that never changes)."""
        if not path.is_file():
            return True
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=1, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error:
            return True
        try:
            db.execute("PRAGMA query_only=ON")
            if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                db.close()
                return True  # not marked yet (being made), or not a station state: looked at again next time
            station_id, network_id = _identity(db)
        except sqlite3.Error:
            db.close()
            return True
        if station_id is None:
            db.close()
            return True
        if network_id != self.network_id:
            db.close()
            return False
        return station_id, db

    # --- the key ring cache ---

    @property
    def keyring_path(self) -> Path:
        return self.folder / KEYRING_FILE

    def keyring(self, *, strict: bool = False) -> ride.KeyRing | None:
        """The cached key ring (read again whenever the file changes); None before the first sync.

        A cache that cannot be read is a StationError when ``strict`` (opening); while deciding, the
        last good ring read is kept instead, so a gate never stops on it.
        """
        path = self.keyring_path
        with self._lock:
            try:
                stat = path.stat()
            except FileNotFoundError:
                return self._ring
            except OSError as exc:
                if strict:
                    raise StationError(f"{path}: cannot read the key ring cache ({exc.strerror or exc})") from None
                return self._ring
            mark = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if mark == self._ring_mark:
                return self._ring
            try:
                ring = ride.KeyRing.from_json(path.read_bytes())
            except (OSError, ride.KeyRingError) as exc:
                if strict:
                    raise StationError(Phrase(N_("{path}: the key ring cache cannot be read ({problem}); delete it and let a"
                                                 " gate sync with the backend again"), path=path, problem=message_of(exc))) from None
                return self._ring
            self._ring, self._ring_mark = ring, mark
            return ring

    def save_keyring(self, ring: ride.KeyRing) -> bool:
        """Cache ``ring`` for every gate of the station, unless the cache holds a newer one (published
        later); whether it was written. Written whole (a temporary file renamed over the old one)."""
        with self._lock:
            cached = self.keyring()
            if cached is not None and cached.published_at > ring.published_at:
                return False
            if cached is not None and cached.to_document() == ring.to_document():
                return False
            path = self.keyring_path
            temporary = None
            try:
                handle, temporary = tempfile.mkstemp(prefix=".keyring-", suffix=".json", dir=self.folder)
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(ring.to_json())
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, path)
            except OSError as exc:
                if temporary is not None:
                    Path(temporary).unlink(missing_ok=True)
                raise StationError(f"{path}: cannot write the key ring cache ({exc.strerror or exc})") from None
            self._ring, self._ring_mark = ring, None
            self.keyring()
            return True
