"""A transit gate: a scanned ride code in, open or deny out, in milliseconds and offline.

``Gate.decide(text)`` runs, in order:

1. ``ride.read``: not a ride code (or a damaged one) is denied, ``unreadable``;
2. ``ride.verify`` against the key ring cached in the station folder, with the gate's clock and a
   clock-skew allowance (``skew_s``): an unknown or revoked issuer key, a forged signature, a code
   expired or not valid yet, too many companions are denied with ``ride.Reason``'s values;
3. the key ring's deny list: ``denied-account``;
4. the station state (pos_sim/terminal/station.py), in one write transaction that the station's
   other gates wait for: a ride code that already opened a gate (here or at a station this one
   sees) is ``replayed``; an account whose newest movement is an entry less than ``max_trip`` ago
   cannot enter again (``passback``: "Already inside: tap out first"). An exit is never refused for
   want of an entry (a rider is not kept inside): with no entry known it opens, flagged ``no-entry``,
   and the backend's clearing pairs the taps of every gate (an entry at a station this gate cannot
   see included), or charges the network's maximum fare for an exit with no entry anywhere.

Every decision is written to the gate's journal (SQLite, WAL, FULL sync: on disk) *before* the
gate opens, then the movement to the station state. ``sync()`` uploads the journal's waiting taps
to ``POST /transit/taps`` in batches of up to 1000 and refreshes the cached key ring from
``GET /transit/keyring`` (docs/transit-api.md), both signed and verified like the AMS calls.

What the rider is shown:

- ``message``: one short line for the gate's screen ("Code expired: refresh the code in your
  wallet app"); ``detail`` says more (the verifier's own words, where and when the entry was).
- ``fare``: at an exit whose entry the gate knows (this station's state or a peer station's), the
  fare of that leg by the fares engine (pos_sim/domain/fares) for the network folder, times the
  riders on the code, before any daily or weekly cap (the backend applies those when it charges);
  on a tap-on network (no max fare: the bus) the fare of the tap-on itself, a free transfer
  included; else ``None`` and "Fare charged later".
- ``balance``: always ``None``. A ride code carries an account token, not a wallet, and the
  contract gives a gate no balance call: the rider's balance is shown in the wallet app once the
  taps are synced and charged ("Balance shown in your wallet app after sync").

Journal files: ``gate-<gate id>.db`` in the station folder, one per gate. Every decision is in it,
and every decision goes up, with what the gate decided and why (its ``GateReason``): an exit opened
with no entry as ``no-entry``, a replay or passback refusal as the evidence it is, a text that is no
ride code as ``unreadable`` (no account; the text as journalled). A tap the backend refuses (its
answer says why, tap by tap) is not sent again: the sync's report says so. Journals written before
every tap went up may hold taps marked ``local``: they stay there.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from pos_sim.assets import METRO
from pos_sim.domain.codes import ride
from pos_sim.domain.errors import DomainError
from pos_sim.domain.fares import FareError, FareNetwork, Fares, Journey, Leg, read_network
from pos_sim.domain.money import Money
from pos_sim.language import N_, Phrase, joined, message_of
from pos_sim.terminal import local_file
from pos_sim.terminal.errors import TerminalError
from pos_sim.terminal.gateway import (
    NOT_JSON,
    Credentials,
    Failure,
    GatewayAnswer,
    GatewayClient,
    Timeouts,
    TransportFailure,
    amount_json,
    answer_from,
)
from pos_sim.terminal.station import Movement, Station, code_digest

DEFAULT_NETWORK = METRO
DEFAULT_MAX_TRIP = timedelta(hours=3)
"""How long an entry counts as "inside": a later entry is a new trip (the old one had no tap-out)."""
BATCH = 1000
"""Most taps in one upload (docs/transit-api.md)."""
GATE_TIMEOUTS = Timeouts(connect_s=2.0, read_s=10.0)
"""A gate does not wait long for a backend: it decides offline anyway."""
MOBILE_APP = 4
"""fare_media_type of a mobile app (GTFS): the medium a ride code is."""
KEPT_TEXT = 512
"""Most characters of a scanned text the journal keeps."""
UPLOADED_TEXT = 160
"""Most characters of a scanned text that go up (docs/transit-api.md): a ride code has at most 145."""

_GATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
_STATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class GateError(TerminalError):
    """A gate that cannot be set up: station, gate id, network folder, journal."""


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class GateReason(StrEnum):
    """Why a gate decided as it did: ``ride.Reason``'s values, and the gate's own."""

    OK = "ok"
    UNREADABLE = "unreadable"                  # not a ride code, or a damaged one
    UNKNOWN_KEY = ride.Reason.UNKNOWN_KEY.value
    REVOKED_KEY = ride.Reason.REVOKED_KEY.value
    BAD_SIGNATURE = ride.Reason.BAD_SIGNATURE.value
    KEY_NOT_VALID = ride.Reason.KEY_NOT_VALID.value
    NOT_YET_VALID = ride.Reason.NOT_YET_VALID.value
    EXPIRED = ride.Reason.EXPIRED.value
    TOO_MANY_COMPANIONS = ride.Reason.TOO_MANY_COMPANIONS.value
    DENIED_ACCOUNT = ride.Reason.DENIED_ACCOUNT.value
    REPLAYED = "replayed"                      # this ride code already opened a gate
    PASSBACK = "passback"                      # an entry while the account is inside
    NO_ENTRY = "no-entry"                      # an exit opened with no entry known: clearing decides the fare


MESSAGES = {
    GateReason.UNREADABLE: N_("Not a ride code: show the ride code in your wallet app"),
    GateReason.UNKNOWN_KEY: N_("Code not recognised: refresh the code in your wallet app; if it happens again, ask staff"),
    GateReason.REVOKED_KEY: N_("Code no longer accepted: update your wallet app, then show a new code"),
    GateReason.BAD_SIGNATURE: N_("Code not genuine: show the ride code from your wallet app"),
    GateReason.KEY_NOT_VALID: N_("Code not accepted: update your wallet app, then show a new code"),
    GateReason.NOT_YET_VALID: N_("Code not valid yet: check the time on your phone"),
    GateReason.EXPIRED: N_("Code expired: refresh the code in your wallet app"),
    GateReason.TOO_MANY_COMPANIONS: N_("Too many riders on one code: ask staff"),
    GateReason.DENIED_ACCOUNT: N_("Travel blocked on this account: please contact customer service"),
    GateReason.REPLAYED: N_("Code already used: refresh the code in your wallet app"),
    GateReason.PASSBACK: N_("Already inside: tap out first"),
    GateReason.NO_ENTRY: N_("Goodbye: no entry recorded: the maximum fare unless your entry is found"),
}
"""The line a rider reads on the gate for each refusal (and the open exit with no entry)."""
WELCOME = N_("Welcome: have a good trip")
GOODBYE_FARE = N_("Goodbye: fare {fare}")
GOODBYE_LATER = N_("Goodbye: fare charged later")
BALANCE_LATER = N_("Balance shown in your wallet app after sync")
FARE_LATER = N_("Fare charged later")
FARE_AT_EXIT = N_("Fare shown at exit")
DIRECTION_WORDS = {Direction.IN: N_("in"), Direction.OUT: N_("out")}
"""A gate's direction as the operator reads it (the value journalled is the Direction's)."""


@dataclass(frozen=True)
class Decision:
    """A gate's answer to one scan, as journalled and shown."""

    tap_id: str
    station_id: str
    gate_id: str
    direction: Direction
    at: datetime                 # the gate's clock, in its time zone
    code: str                    # the text scanned
    account: str | None          # the ride code's account (hex); None when none could be read
    decision: str                # "open" or "deny"
    reason: GateReason
    message: str                 # for the rider, one line
    detail: str = ""             # more: the verifier's words, where and when the entry was
    riders: int = 1
    fare: Money | None = None
    fare_text: str = ""
    balance: Money | None = None
    balance_text: str = ""
    ms: float = 0.0              # from the scan text to the decision on disk

    @property
    def opened(self) -> bool:
        return self.decision == "open"

    def to_json(self) -> dict[str, Any]:
        return {
            "tapId": self.tap_id, "stationId": self.station_id, "gateId": self.gate_id, "direction": self.direction.value,
            "at": self.at.isoformat(timespec="milliseconds"), "decision": self.decision, "reason": self.reason.value,
            "message": self.message, "detail": self.detail, "account": self.account, "riders": self.riders,
            "fare": None if self.fare is None else amount_json(self.fare), "fareText": self.fare_text,
            "balance": None if self.balance is None else amount_json(self.balance), "balanceText": self.balance_text,
            "ms": round(self.ms, 3),
        }


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync`` did: whether the backend answered at all (``reachable``), taps it took (``uploaded``,
    of them ``duplicates`` it had already), taps still ``waiting``, whether the key ring cache was
    updated, and what went wrong."""

    reachable: bool
    uploaded: int = 0
    duplicates: int = 0
    waiting: int = 0
    keyring_updated: bool = False
    keyring_published_at: datetime | None = None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems

    def summary(self, url: str, when: str = N_("start")) -> str:
        """One line for the gate's operator (a ``Phrase``: ``when`` a message too, "start", "close", "sync key")."""
        if not self.reachable:
            return Phrase(N_("backend unreachable at {url} ({problems}): deciding offline, {waiting} taps wait for upload"),
                          url=url, problems=joined(self.problems), waiting=self.waiting)
        counts = {"uploaded": self.uploaded, "duplicates": self.duplicates, "waiting": self.waiting}
        said = (Phrase(N_("{uploaded} taps uploaded ({duplicates} duplicates), {waiting} waiting, key ring of {published}Z"),
                       **counts, published=f"{self.keyring_published_at:%Y-%m-%d %H:%M:%S}")
                if self.keyring_published_at else
                Phrase(N_("{uploaded} taps uploaded ({duplicates} duplicates), {waiting} waiting"), **counts))
        if self.problems:
            return Phrase(N_("sync with {url} at the {when} incomplete ({problems}): {said}"), url=url, when=Phrase(when),
                          problems=joined(self.problems), said=said)
        return Phrase(N_("synced with {url} at the {when}: {said}"), url=url, when=Phrase(when), said=said)


# --- the transit calls -----------------------------------------------------------------------


class TransitClient(GatewayClient):
    """The gate's signed calls under ``/transit/`` as the transit operator (a merchant of the gateway).

    A ``GatewayClient``: the same ``Credentials``, ``requests`` session (no environment settings, no
    redirects), timeouts and answer checks; every answer is verified with the gateway's key over the
    exact bytes received before it is read. Never raises for anything the network or backend does.
    """

    def __init__(self, credentials: Credentials, timeouts: Timeouts = GATE_TIMEOUTS, **kwargs: Any) -> None:
        super().__init__(credentials, timeouts, **kwargs)
        self._base = urlsplit(credentials.url).path

    def keyring(self) -> ride.KeyRing | GatewayAnswer | TransportFailure:
        """``GET /transit/keyring``: the issuer key ring, verified; a refusal (an AMS result F), or no trustworthy answer."""
        call, path = "transitKeyring", self._base + "/transit/keyring"
        response = self._send(call, "GET", path, b"")
        if isinstance(response, TransportFailure):
            return response
        if response.status_code != 200:
            return _status_failure(call, self.credentials.url, "GET", path, response)
        raw = self._verified(call, "GET", path, response)
        if isinstance(raw, TransportFailure):
            return raw
        where = answer_from(call, self.credentials.url)
        try:
            document = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return TransportFailure(call, Failure.NOT_JSON, Phrase(NOT_JSON, where=where))
        if isinstance(document, dict) and "result" in document and "keys" not in document:
            result = document["result"] if isinstance(document["result"], dict) else {}
            return GatewayAnswer(call, result.get("resultStatus", "F"), str(result.get("resultCode", "UNKNOWN")),
                                 str(result.get("resultMessage", "")), document)
        try:
            return ride.KeyRing.from_document(document)
        except ride.KeyRingError as exc:
            return TransportFailure(call, Failure.MALFORMED, Phrase(N_("{where}: not a key ring ({problem})"), where=where,
                                                                    problem=message_of(exc)))

    def upload(self, gate_id: str, taps: Sequence[Mapping[str, Any]]) -> GatewayAnswer | TransportFailure:
        """``POST /transit/taps``: one batch of at most 1000 taps; S means all of them are stored."""
        if len(taps) > BATCH:
            raise GateError(f"{len(taps)} taps: a batch holds at most {BATCH}")
        call, path = "transitTaps", self._base + "/transit/taps"
        body = {"gateId": gate_id, "taps": list(taps)}
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        response = self._send(call, "POST", path, data)
        if isinstance(response, TransportFailure):
            return response
        if response.status_code != 200:
            return _status_failure(call, self.credentials.url, "POST", path, response)
        return self._read(call, path, body, response)  # a POST answer: the AMS check, signature and result

def _status_failure(call: str, url: str, method: str, path: str, response: requests.Response) -> TransportFailure:
    """A non-200 answer, said with the AMS result it carries when it has one (not trusted: only said)."""
    said = ""
    try:
        body = response.json()
        result = body.get("result") if isinstance(body, dict) else None
        if isinstance(result, dict) and result.get("resultCode"):
            said = f": {result.get('resultCode')} {result.get('resultMessage') or ''}".rstrip()
        elif isinstance(body, dict) and isinstance(body.get("error"), dict):
            said = f": {body['error'].get('code')} {body['error'].get('message') or ''}".rstrip()
    except ValueError:
        pass
    where = answer_from(call, url)
    if response.status_code in (404, 405) and not said:
        return TransportFailure(call, Failure.HTTP_STATUS, Phrase(N_("{where}: HTTP {status}: the backend has no {method} {path}"),
                                                                  where=where, status=response.status_code, method=method,
                                                                  path=path))
    return TransportFailure(call, Failure.HTTP_STATUS, Phrase("{where}: HTTP {status}{said}", where=where,
                                                              status=response.status_code, said=said))


# --- the gate's journal ----------------------------------------------------------------------

JOURNAL_APPLICATION_ID = 0x50534731  # "PSG1": marks a SQLite file as a pos-sim gate journal
JOURNAL_VERSION = 1
WAITING, UPLOADED = "waiting", "uploaded"

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS taps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tap_id TEXT NOT NULL UNIQUE,         -- a uuid: the backend's idempotency key
    station_id TEXT NOT NULL,
    gate_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    at TEXT NOT NULL,                    -- ISO 8601 with the gate's UTC offset, exactly as uploaded
    code TEXT NOT NULL,                  -- the scanned text (a ride code, or what was shown instead, cut short)
    account TEXT,                        -- hex, NULL when no ride code could be read
    decision TEXT NOT NULL,              -- open | deny
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    fare_minor INTEGER,
    currency TEXT,
    upload TEXT NOT NULL CHECK (upload IN ('waiting', 'uploaded', 'local')),  -- local: never uploaded (older gates)
    uploaded_at TEXT
);
CREATE INDEX IF NOT EXISTS taps_to_upload ON taps (upload, seq);
"""


class GateJournalError(TerminalError):
    """A gate journal that cannot be opened or written."""


GATE_JOURNAL_FILE = local_file.FileKind("gate journal", JOURNAL_APPLICATION_ID, _JOURNAL_SCHEMA, JOURNAL_VERSION,
                                        GateJournalError)


@dataclass(frozen=True)
class JournalTap:
    """A tap as the gate journal holds it."""

    tap_id: str
    station_id: str
    gate_id: str
    direction: str
    at: str
    code: str
    account: str | None
    decision: str
    reason: str
    message: str
    upload: str

    @property
    def uploaded(self) -> bool:
        return self.upload == UPLOADED

    def to_upload(self) -> dict[str, str]:
        """The tap as docs/transit-api.md sends it."""
        return {"tapId": self.tap_id, "stationId": self.station_id, "gateId": self.gate_id, "direction": self.direction,
                "at": self.at, "code": self.code[:UPLOADED_TEXT], "account": self.account or "", "decision": self.decision,
                "reason": self.reason}


class GateJournal:
    """One gate's journal file, open; safe to share between threads. Open it with ``GateJournal.open``."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> GateJournal:
        path = local_file.check_path(path, GATE_JOURNAL_FILE)
        return cls(path, local_file.connect(path, GATE_JOURNAL_FILE))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, decision: Decision) -> None:
        """Write the decision, committed (on disk) before this returns: before the gate opens."""
        fare = decision.fare
        with self._writing():
            self._db.execute(
                "INSERT INTO taps (tap_id, station_id, gate_id, direction, at, code, account, decision, reason, message,"
                " fare_minor, currency, upload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.tap_id, decision.station_id, decision.gate_id, decision.direction.value,
                 decision.at.isoformat(timespec="milliseconds"), decision.code[:KEPT_TEXT], decision.account,
                 decision.decision, decision.reason.value, decision.message, None if fare is None else fare.minor,
                 None if fare is None else fare.currency.code, WAITING),
            )

    def waiting(self, limit: int = BATCH) -> list[JournalTap]:
        """The oldest taps not uploaded yet, at most ``limit``."""
        return self._select("WHERE upload = ? ORDER BY seq LIMIT ?", (WAITING, limit))

    def count(self, upload: str = WAITING) -> int:
        with self._reading():
            return self._db.execute("SELECT count(*) FROM taps WHERE upload = ?", (upload,)).fetchone()[0]

    def taps(self) -> list[JournalTap]:
        """Every tap, oldest first."""
        return self._select("ORDER BY seq", ())

    def mark_uploaded(self, tap_ids: Sequence[str]) -> None:
        """The backend has these taps: one commit for all."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._writing():
            self._db.executemany("UPDATE taps SET upload = ?, uploaded_at = ? WHERE tap_id = ? AND upload = ?",
                                 [(UPLOADED, at, tap_id, WAITING) for tap_id in tap_ids])

    def _select(self, where: str, args: tuple) -> list[JournalTap]:
        with self._reading():
            rows = self._db.execute("SELECT tap_id, station_id, gate_id, direction, at, code, account, decision, reason,"
                                    f" message, upload FROM taps {where}", args).fetchall()
        return [JournalTap(*row) for row in rows]

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise GateJournalError(f"{self.path}: cannot write the gate journal ({local_file.why(exc)})") from None
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise GateJournalError(f"{self.path}: cannot write the gate journal ({local_file.why(exc)})") from None
                raise

    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise GateJournalError(f"{self.path}: cannot read the gate journal ({local_file.why(exc)})") from None


# --- the gate --------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _money(money: Money) -> str:
    return f"{money.major_str()} {money.currency.code}"


def _clock_time(when: datetime, zone: tzinfo) -> str:
    return when.astimezone(zone).strftime("%H:%M:%S")


@dataclass(frozen=True)
class _Outcome:
    decision: str
    reason: GateReason
    message: str
    detail: str = ""
    fare: Money | None = None
    fare_text: str = ""


class Gate:
    """One gate of a station: ``decide`` scans, ``sync`` with the backend. Open it with ``Gate.open``.

    Several gates (objects or processes) of one station share its folder: its state file and key
    ring cache. ``clock`` gives the gate's time (an aware datetime); ``zone`` is the network's local
    time, in which fares are matched (peak hours) and taps are stamped.
    """

    def __init__(self, station: Station, journal: GateJournal, network: FareNetwork, network_id: str, gate_id: str,
                 direction: Direction, *, client: TransitClient | None, zone: tzinfo, skew_s: int, max_companions: int,
                 max_trip: timedelta, clock: Callable[[], datetime]) -> None:
        self.station = station
        self.journal = journal
        self.network = network
        self.network_id = network_id
        self.gate_id = gate_id
        self.direction = direction
        self.client = client
        self.zone = zone
        self.skew_s = skew_s
        self.max_companions = max_companions
        self.max_trip = max_trip
        self.clock = clock
        media = [medium.fare_media_id for medium in network.media.values() if medium.media_type == MOBILE_APP]
        self.fares = Fares(network, media[0] if media else None)
        self.max_fare_product = network.networks[network_id].max_fare_product_id if network_id in network.networks else None
        self._sync_lock = threading.Lock()

    @property
    def station_id(self) -> str:
        return self.station.station_id

    @property
    def tap_on_only(self) -> bool:
        """A network without a max fare (the bus): riders tap on only, and a tap-on is priced at once."""
        return self.max_fare_product is None

    @classmethod
    def open(cls, station_dir: Path, station_id: str, gate_id: str = "G1", direction: Direction | str = Direction.IN, *,
             network: FareNetwork | Path | str = DEFAULT_NETWORK, network_id: str | None = None,
             client: TransitClient | None = None, zone: tzinfo | None = None, skew_s: int = ride.DEFAULT_SKEW_S,
             max_companions: int = ride.MAX_COMPANIONS, max_trip: timedelta = DEFAULT_MAX_TRIP,
             clock: Callable[[], datetime] = _utc_now) -> Gate:
        """The gate ``gate_id`` of ``station_id``, its files in ``station_dir`` (made if need be).

        ``network`` is the fare network (a GTFS-Fares v2 folder, or one read already); the station must
        be one of its stops when it names stops. GateError (or StationError) says what is wrong.
        """
        if not isinstance(station_id, str) or not _STATION_ID.fullmatch(station_id):
            raise GateError(f"station {station_id!r}: a stop id of the network, letters and digits (like M01)")
        if not isinstance(gate_id, str) or not _GATE_ID.fullmatch(gate_id):
            raise GateError(f"gate {gate_id!r}: 1-16 letters, digits, - or _, starting with a letter or digit (like G1)")
        try:
            direction = Direction(direction)
        except ValueError:
            raise GateError(f"direction {direction!r}: in or out") from None
        if not isinstance(network, FareNetwork):
            folder = Path(network)
            if not folder.is_dir():
                raise GateError(f"{folder}: no fare network folder there (GTFS-Fares v2 files, like {DEFAULT_NETWORK})")
            try:
                network = read_network(folder)
            except FareError as exc:
                raise GateError(f"{folder}: {exc}") from None
        network_id = _network_id(network, network_id)
        stops = sorted(network.stop_areas)
        if stops and station_id not in network.stop_areas:
            raise GateError(Phrase(N_("station {station!r} is not a stop of network {network} (its stops: {stops})"),
                                   station=station_id, network=network_id, stops=", ".join(stops)))
        max_fare = network.networks[network_id].max_fare_product_id if network_id in network.networks else None
        if max_fare is None and direction is Direction.OUT:
            raise GateError(f"network {network_id} is tapped on only (it has no max fare for a missing tap-out):"
                            " its gates are direction in")
        if isinstance(skew_s, bool) or not isinstance(skew_s, int) or not 0 <= skew_s <= ride.MAX_SKEW_S:
            raise GateError(f"clock skew allowance {skew_s!r}: 0-{ride.MAX_SKEW_S} seconds")
        station = Station.open(Path(station_dir), station_id, network_id)
        try:
            journal = GateJournal.open(Path(station_dir) / f"gate-{gate_id}.db")
        except TerminalError:
            station.close()
            raise
        return cls(station, journal, network, network_id, gate_id, direction, client=client,
                   zone=zone or datetime.now().astimezone().tzinfo, skew_s=skew_s,  # type: ignore[arg-type]
                   max_companions=max_companions, max_trip=max_trip, clock=clock)

    def close(self) -> None:
        self.journal.close()
        self.station.close()
        if self.client is not None:
            self.client.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def keyring(self) -> ride.KeyRing | None:
        """The key ring the gate decides with: the station's cache (None before any sync)."""
        return self.station.keyring()

    def install_keyring(self, ring: ride.KeyRing) -> bool:
        """Cache ``ring`` for every gate of the station (unless a newer one is there); whether it was."""
        return self.station.save_keyring(ring)

    # --- deciding ---

    def decide(self, text: str, direction: Direction | str | None = None) -> Decision:
        """Open or deny for one scan: recorded in the journal (and, opened, in the station state) before it returns."""
        started = time.perf_counter()
        direction = Direction(direction or self.direction)
        now = self.clock().astimezone(UTC)
        text = text.strip() if isinstance(text, str) else ""
        base = {"tap_id": str(uuid.uuid4()), "station_id": self.station_id, "gate_id": self.gate_id,
                "direction": direction, "at": now.astimezone(self.zone), "code": text}
        try:
            signed = ride.read(text)
        except DomainError as exc:
            decision = self._make(base, None, 1, _Outcome("deny", GateReason.UNREADABLE, MESSAGES[GateReason.UNREADABLE],
                                                            message_of(exc)))
            self.journal.record(decision)
            return replace(decision, ms=(time.perf_counter() - started) * 1000)
        code = signed.code
        account = code.account.hex()
        refused = self._check_code(signed, now)
        if refused is not None:
            decision = self._make(base, account, code.riders, refused)
            self.journal.record(decision)
            return replace(decision, ms=(time.perf_counter() - started) * 1000)
        digest = code_digest(signed)
        with self.station.deciding():
            outcome = self._check_movements(account, digest, direction, now, code.riders)
            decision = self._make(base, account, code.riders, outcome)
            self.journal.record(decision)  # on disk before the gate opens, and before the station sees it
            if decision.opened:
                self.station.record(Movement(decision.tap_id, self.station_id, self.gate_id, direction.value, now,
                                             account, digest, code.riders))
        return replace(decision, ms=(time.perf_counter() - started) * 1000)

    def _make(self, base: dict[str, Any], account: str | None, riders: int, outcome: _Outcome) -> Decision:
        return Decision(**base, account=account, decision=outcome.decision, reason=outcome.reason, message=outcome.message,
                        detail=outcome.detail, riders=riders, fare=outcome.fare, fare_text=outcome.fare_text,
                        balance=None, balance_text=BALANCE_LATER if outcome.decision == "open" else "")

    def _check_code(self, signed: ride.SignedRideCode, now: datetime) -> _Outcome | None:
        """The code's refusal by the key ring (issuer, signature, time, companions, deny list); None if it is good."""
        ring = self.station.keyring()
        if ring is None:
            return _Outcome("deny", GateReason.UNKNOWN_KEY, MESSAGES[GateReason.UNKNOWN_KEY],
                            N_("this gate has no issuer key ring yet: it must sync with the backend once"))
        verdict = ride.verify(signed, ring.keys, now, skew_s=self.skew_s, max_companions=self.max_companions)
        if verdict.ok:
            verdict = ring.deny.check(signed)
        if verdict.ok:
            return None
        reason = GateReason(verdict.reason.value)
        message = MESSAGES[reason]
        if reason is GateReason.TOO_MANY_COMPANIONS:
            message = Phrase(N_("Too many riders on one code: this gate lets {riders} through"),  # staff read it
                             riders=1 + self.max_companions)
        return _Outcome("deny", reason, message, verdict.message)

    def _check_movements(self, account: str, digest: str, direction: Direction, now: datetime, riders: int) -> _Outcome:
        """Replay and anti-passback against the station state (and its peers'), and the fare when it is known."""
        spent = self.station.spent(digest)
        if spent is not None:
            return _Outcome("deny", GateReason.REPLAYED, MESSAGES[GateReason.REPLAYED],
                            Phrase(N_("this code opened gate {gate} of {station} ({direction}) at {time}; a ride code is "
                                      "good for one tap"), gate=spent.gate_id, station=spent.station_id,
                                   direction=Phrase(DIRECTION_WORDS[Direction(spent.direction)]),
                                   time=_clock_time(spent.at, self.zone)))
        if self.tap_on_only:
            fare, fare_text = self._tap_on_fare(account, now, riders)
            return _Outcome("open", GateReason.OK, WELCOME, "", fare, fare_text)
        last = self.station.last_movement(account, since=now - max(self.max_trip, timedelta(days=1)))
        inside = last is not None and last.direction == Direction.IN and now - last.at <= self.max_trip
        if direction is Direction.IN:
            if inside:
                assert last is not None
                return _Outcome("deny", GateReason.PASSBACK, MESSAGES[GateReason.PASSBACK],
                                Phrase(N_("tapped in at {station} (gate {gate}) at {time} and not out since"),
                                       station=last.station_id, gate=last.gate_id, time=_clock_time(last.at, self.zone)))
            detail = ""
            if last is not None and last.direction == Direction.IN:
                detail = Phrase(N_("the trip from {station} at {time} had no tap-out: it is charged the maximum fare"),
                                station=last.station_id, time=_clock_time(last.at, self.zone))
            return _Outcome("open", GateReason.OK, WELCOME, detail, None, FARE_AT_EXIT)
        if not inside:
            return _Outcome("open", GateReason.NO_ENTRY, MESSAGES[GateReason.NO_ENTRY],
                            N_("no entry of this account known at this station or its network folder"), None,
                            N_("Fare charged later (no entry recorded here)"))
        assert last is not None
        fare, fare_text = self._exit_fare(last, now, riders)
        return _Outcome("open", GateReason.OK, Phrase(GOODBYE_FARE, fare=_money(fare)) if fare is not None else GOODBYE_LATER,
                        Phrase(N_("tapped in at {station} at {time}"), station=last.station_id,
                               time=_clock_time(last.at, self.zone)), fare, fare_text)

    def _exit_fare(self, entry: Movement, now: datetime, riders: int) -> tuple[Money | None, str]:
        try:
            leg = Leg(self.network_id, entry.station_id, entry.at.astimezone(self.zone), self.station_id, now.astimezone(self.zone))
            fare = self.fares.journey_fare(Journey.of(leg)).total * riders
        except FareError:
            return None, FARE_LATER
        message = ((N_("Fare {fare} from {station}, {riders} riders (before any daily or weekly cap)") if self.network.caps
                    else N_("Fare {fare} from {station}, {riders} riders")) if riders > 1 else
                   (N_("Fare {fare} from {station} (before any daily or weekly cap)") if self.network.caps
                    else N_("Fare {fare} from {station}")))
        return fare, Phrase(message, fare=_money(fare), station=entry.station_id, riders=riders)

    def _tap_on_fare(self, account: str, now: datetime, riders: int) -> tuple[Money | None, str]:
        """The fare of this tap-on after the rider's earlier tap-ons the station knows (a transfer may be free)."""
        try:
            earlier = [movement for movement in self.station.movements(account, since=now - timedelta(days=1))
                       if movement.direction == Direction.IN]
            legs = [Leg(self.network_id, movement.station_id, movement.at.astimezone(self.zone)) for movement in earlier]
            legs.append(Leg(self.network_id, self.station_id, now.astimezone(self.zone)))
            journey = self.fares.journeys(legs)[-1].legs
            fare = self.fares.journey_fare(journey).total
            if len(journey) > 1:
                fare = fare - self.fares.journey_fare(journey[:-1]).total
            fare = fare * riders
        except FareError:
            return None, FARE_LATER
        return fare, Phrase(N_("Transfer {fare}") if len(journey) > 1 else N_("Fare {fare}"), fare=_money(fare))

    # --- syncing ---

    def sync(self) -> SyncReport:
        """Upload the waiting taps (batches of up to 1000) and refresh the key ring cache; never raises for the network.

        A batch the backend answers S is marked uploaded (its duplicates too: the backend has them; and
        the taps it refused, which it would refuse again: the report names them); anything else leaves
        it waiting for the next sync. Without a backend (``client`` None) nothing
        is sent.
        """
        with self._sync_lock:
            if self.client is None:
                return SyncReport(False, waiting=self.journal.count(), problems=(Phrase(N_("no backend: the gate works offline")),))
            problems: list[str] = []
            reachable = False
            uploaded = duplicates = 0
            unreachable = False
            while batch := self.journal.waiting(BATCH):
                reply = self.client.upload(self.gate_id, [tap.to_upload() for tap in batch])
                unreachable = isinstance(reply, TransportFailure) and reply.failure in (Failure.CONNECTION, Failure.TIMEOUT)
                reachable = reachable or not unreachable
                if isinstance(reply, TransportFailure):
                    problems.append(Phrase(N_("tap upload: {problem}"), problem=reply.detail))
                    break
                if not reply.succeeded:
                    problems.append(Phrase(N_("tap upload refused: {answer}"), answer=f"{reply.code} {reply.message}".rstrip()))
                    break
                self.journal.mark_uploaded([tap.tap_id for tap in batch])
                counted = [reply.body.get(name) for name in ("accepted", "duplicates")]
                accepted, duplicate = (value if isinstance(value, int) and not isinstance(value, bool) else 0 for value in counted)
                refusals = reply.body.get("refused")
                refusals = refusals if isinstance(refusals, list) else []
                uploaded += len(batch)
                duplicates += duplicate
                if refusals:
                    first = refusals[0].get("reason") if isinstance(refusals[0], dict) else None
                    problems.append(Phrase(N_("tap upload: the backend refused {refused} taps (the first: {first})"),
                                           refused=len(refusals), first=first))
                if accepted + duplicate + len(refusals) != len(batch):
                    problems.append(Phrase(N_("tap upload: the backend counted {accepted} accepted, {duplicates} duplicates "
                                              "and {refused} refused of {taps} taps"), accepted=accepted,
                                           duplicates=duplicate, refused=len(refusals), taps=len(batch)))
            updated, published = False, None
            if not unreachable:
                ring = self.client.keyring()
                if isinstance(ring, ride.KeyRing):
                    reachable = True
                    updated = self.install_keyring(ring)
                    published = ring.published_at
                elif isinstance(ring, GatewayAnswer):
                    reachable = True
                    problems.append(Phrase(N_("key ring refused: {answer}"), answer=f"{ring.code} {ring.message}".rstrip()))
                else:
                    reachable = reachable or ring.failure not in (Failure.CONNECTION, Failure.TIMEOUT)
                    problems.append(Phrase(N_("key ring: {problem}"), problem=ring.detail))
            return SyncReport(reachable, uploaded, duplicates, self.journal.count(), updated, published, tuple(problems))


def scanned_texts(text: str | None = None, camera: str | None = None, paths: Sequence[Path] | None = None,
                  max_frames: int | None = None, language: str = "en") -> Iterator[tuple[str, str | None, str | None]]:
    """What a gate's scanner reads, as (origin, text, None), or (origin, None, why) for an image without a code:
    one ``text``; a ``camera`` (an index, a stream URL, or a video file), each new code once; image files and
    folders (``paths``), each code found, read as a terminal speaking ``language`` reads them. SourceError for a camera
    or video that cannot be opened."""
    from pos_sim.scan import frames, scanner  # here: deciding needs no OpenCV

    if text is not None:
        yield "text", text, None
        return
    decoder = scanner.decoder_named("auto", language=language)
    if camera is not None:
        if Path(camera).is_file():
            source = frames.video(camera)
        else:
            source = frames.camera(int(camera) if camera.isdigit() else camera, max_frames=max_frames)
        for origin, read in scanner.read_live(source, decoder):
            yield origin, read.text, None
        return
    for result in scanner.read_images(paths or (), decoder):
        for read in result.reads:
            yield result.origin, read.text, None
        if result.error:
            yield result.origin, None, result.error


def _network_id(network: FareNetwork, network_id: str | None) -> str:
    known = sorted(network.networks) or sorted({rule.network_id for rule in network.leg_rules if rule.network_id})
    if network_id is None:
        if len(known) != 1:
            raise GateError(f"the fare network folder has {len(known)} networks ({', '.join(known) or 'none named'}):"
                            " say which one the station is on")
        return known[0]
    if network.closed_networks and network_id not in network.networks:
        raise GateError(f"network {network_id!r} is not in networks.txt ({', '.join(known)})")
    return network_id
