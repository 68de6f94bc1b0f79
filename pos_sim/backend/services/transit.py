"""Transit on the wallet's side (docs/transit-api.md): the issuer keys that sign ride codes, a wallet's
ride codes, the key ring gates cache, the taps gates upload; clearing is clearing.py's.

Issuer keys. Ed25519 (pos_sim/domain/codes/ride.py), made on first need, valid ``KEY_LIFETIME``;
a rotation makes a new key valid from now and cuts the old one's window to now + the overlap;
a revoked key stays in the key ring under ``revoked``. The ledger holds their public halves; each
private half is a file of the data dir, ``keys/transit_issuer_{public key}.pem`` (PKCS#8 PEM, 0600 in a
0700 folder), never in the ledger: a copy of the ledger (a backup, a PostgreSQL reader) cannot forge
ride codes. A backend with no data dir (a bench, a test) keeps them in its memory only.

Ride codes. A wallet's ride account is a random 16-byte token made on its first code and kept;
each code carries the wallet's next sequence number, is valid ``CODE_VALID_S`` seconds, and is
signed with the issuer's current key. Every time here is the simulator's (``store.clock``).

Taps. Every tap a gate decided is uploaded, open or denied, with its reason (the gate's own reasons
too: ``unreadable``, ``replayed``, ``passback``, ``no-entry``). Each tap of a batch is checked on its
own (its fields, its code read and its account matched, its station a stop of the network, its time
not ahead of the clock, its id not taken by another tap); a tap that fails is refused with its reason
and the rest of the batch is stored, idempotent by tap id: the same tap again is a duplicate. Storing
an open tap puts its account on the clearing queue (``transit_dirty``) in the same transaction.

Fares come from the GTFS-Fares v2 folder ``{data dir}/fares`` when the data dir has one, else
``pos_sim/assets/transit/metro``, priced for the wallet's medium (``wallet_qr``) when the network sells on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pos_sim.backend.store import keys as key_files
from pos_sim.backend.services.clearing import FARE, FARE_KINDS, Clearing, fares_memo, ms, queue, utc
from pos_sim.backend.protocol import Refused, amount_json, result, timestamp
from pos_sim.backend.store.database import Store, Tx
from pos_sim.backend.store.errors import StoreError
from pos_sim.backend.store.records import HistoryEntry
from pos_sim.backend.store.transit import (
    db_value,
    insert_many,
    transit_debts,
    transit_deny,
    transit_journeys,
    transit_keys,
    transit_riders,
    transit_taps,
    upsert,
)
from pos_sim.domain.codes import ride
from pos_sim.domain.errors import DomainError
from pos_sim.domain.money import Money

KEY_LIFETIME = timedelta(days=365)
CODE_VALID_S = 60
ACCOUNT_BYTES = 16
MAX_TAPS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
"""The longest /transit request body the HTTP edge takes (app.py refuses a longer one before it gets here): a
batch of MAX_TAPS taps is about 0.4 MB as a gate sends it, and about 3.9 MB at the most (every text member
its longest, each character escaped as a surrogate pair)."""
MAX_ID_CHARS = 64
MAX_CODE_CHARS = 160
"""The most characters of a tap's ``code``: a ride code has at most 145; a gate sends no more of a text that is
no ride code (pos_sim/terminal/gate.py ``UPLOADED_TEXT``)."""
AHEAD = timedelta(seconds=ride.MAX_SKEW_S)
"""How far ahead of the backend's clock a tap's time may be (a gate's clock runs a little fast): later is refused."""

DENY_ADMIN = "admin"
DIRECTIONS = ("in", "out")
DECISIONS = ("open", "deny")
GATE_REASONS = ("unreadable", "replayed", "passback", "no-entry")
"""The reasons of a gate's own, beside ``ride.Reason``'s (pos_sim/terminal/gate.py ``GateReason``)."""
REASONS = frozenset(reason.value for reason in ride.Reason) | frozenset(GATE_REASONS)
TAP_FIELDS = ("tapId", "stationId", "gateId", "direction", "at", "code", "account", "decision", "reason")

_MIN_AT = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_AT = datetime(2100, 1, 1, tzinfo=UTC)


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _is_duplicate(error: BaseException | None) -> bool:
    orig = getattr(error, "orig", None)
    return isinstance(error, IntegrityError) and (
        getattr(orig, "sqlstate", None) == "23505"
        or getattr(orig, "sqlite_errorname", None) in {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


class Transit:
    """The transit side of one backend, over its store; issuer private keys in ``key_dir`` (None: in memory)."""

    def __init__(self, store: Store, fares_dir: Path | None = None, key_dir: Path | None = None) -> None:
        self.store = store
        self.clearing = Clearing(store, fares_dir)
        self.key_dir = key_dir
        self._signers: dict[str, Any] = {}  # public key (base64url) -> its private key, loaded
        self._keys_lock = threading.Lock()

    @classmethod
    def of(cls, store: Store, key_dir: Path | None) -> Transit:
        """The transit service of a backend whose data dir holds ``key_dir``: fares from its ``fares``
        folder when it has one, else the example metro network."""
        fares = key_dir.parent / "fares" if key_dir is not None else None
        return cls(store, fares if fares is not None and (fares / "fare_products.txt").is_file() else None, key_dir)

    def clear(self) -> dict[str, Any]:
        return self.clearing.clear()

    # issuer keys

    def _key_rows(self, conn: Connection) -> list[Any]:
        return list(conn.execute(select(transit_keys).order_by(transit_keys.c.key_id)))

    @staticmethod
    def _issuer_keys(rows: Sequence[Any]) -> ride.IssuerKeys:
        keys = [ride.IssuerKey(row.key_id, base64.urlsafe_b64decode(row.public_key + "="), row.not_before, row.not_after)
                for row in rows]
        return ride.IssuerKeys(tuple(keys), frozenset(row.key_id for row in rows if row.revoked_at is not None))

    def _private_path(self, public_key: str) -> Path:
        assert self.key_dir is not None
        return self.key_dir / f"transit_issuer_{public_key}.pem"

    def _add_key(self, conn: Connection, rows: Sequence[Any], at: datetime) -> Any:
        """A new issuer key, valid from ``at`` for KEY_LIFETIME, its private half kept (module docstring); its row."""
        key_id = max((row.key_id for row in rows), default=0) + 1
        if key_id > ride.MAX_KEY_ID:
            raise Refused("PROCESS_FAIL", f"every issuer key id up to {ride.MAX_KEY_ID} is used")
        private_key, public = ride.generate_key_pair(key_id, at, at + KEY_LIFETIME)
        public_key = base64.urlsafe_b64encode(public.public_key).decode("ascii").rstrip("=")
        if self.key_dir is not None:
            try:
                key_files.write_private(self._private_path(public_key), ride.private_key_pem(private_key).encode("ascii"))
            except key_files.KeyFileError as exc:
                raise Refused("PROCESS_FAIL", f"cannot keep the new issuer key: {exc}") from None
        self._signers[public_key] = private_key
        row = {"key_id": key_id, "public_key": public_key, "not_before": at, "not_after": at + KEY_LIFETIME,
               "revoked_at": None, "created_at": self.store.clock.now()}
        conn.execute(insert(transit_keys), row)
        return conn.execute(select(transit_keys).where(transit_keys.c.key_id == key_id)).one()

    def _with_current_key(self, conn: Connection, at: datetime) -> tuple[list[Any], Any]:
        """The key rows and the row of the key to sign with at ``at``: a new key if none is usable."""
        rows = self._key_rows(conn)
        current = self._issuer_keys(rows).current(at)
        if current is None:
            rows.append(self._add_key(conn, rows, at))
            return rows, rows[-1]
        return rows, next(row for row in rows if row.key_id == current.key_id)

    def _signer(self, row: Any) -> Any:
        """The private half of the issuer key of ``row``: from memory, else its file in the data dir."""
        key = self._signers.get(row.public_key)
        if key is None:
            if self.key_dir is None:
                raise Refused("PROCESS_FAIL", f"issuer key {row.key_id} was made by another backend, and this one has"
                                              " no data dir to read its private half from: rotate (POST /sim/transit/keys)")
            try:
                key = ride.load_private_key(key_files.read_private_text(self._private_path(row.public_key)))
            except (key_files.KeyFileError, DomainError) as exc:
                raise Refused("PROCESS_FAIL", f"issuer key {row.key_id}: {exc}; rotate (POST /sim/transit/keys)") from None
            self._signers[row.public_key] = key
        return key

    def _keys_tx(self, work: Any) -> Any:
        """Run ``work(conn)`` in a transaction; one that made a key at the same time as another
        backend (the same key id) is run again, once."""
        with self._keys_lock:
            for attempt in (1, 2):
                try:
                    with self.store.begin() as tx:
                        return work(tx)
                except StoreError as exc:
                    if attempt == 2 or not _is_duplicate(exc.__cause__):
                        raise
        raise AssertionError("unreachable")

    @staticmethod
    def _key_json(row: Any, current_id: int | None) -> dict[str, Any]:
        return {"keyId": row.key_id, "algorithm": ride.ALGORITHM, "publicKey": row.public_key,
                "notBefore": _iso(row.not_before), "notAfter": _iso(row.not_after),
                "revoked": row.revoked_at is not None,
                "revokedAt": None if row.revoked_at is None else _iso(row.revoked_at), "current": row.key_id == current_id}

    def keys(self) -> dict[str, Any]:
        """Every issuer key (public halves), which one signs now."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> dict[str, Any]:
            rows, current = self._with_current_key(tx.connection, at)
            return {"keys": [self._key_json(row, current.key_id) for row in rows], "current": current.key_id}

        return self._keys_tx(work)

    def rotate(self, overlap_s: int) -> dict[str, Any]:
        """A new issuer key valid from now; the one signing until now stays valid for codes issued up to
        now + ``overlap_s`` (not later than its own end)."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> dict[str, Any]:
            conn = tx.connection
            rows = self._key_rows(conn)
            before = self._issuer_keys(rows).current(at)
            new = self._add_key(conn, rows, at)
            if before is not None:
                until = max(min(before.not_after, at + timedelta(seconds=overlap_s)), before.not_before + timedelta(seconds=1))
                conn.execute(update(transit_keys).where(transit_keys.c.key_id == before.key_id).values(not_after=until))
            rows, current = self._with_current_key(conn, at)
            return {"key": self._key_json(new, current.key_id), "previous": None if before is None else self._key_json(
                next(row for row in rows if row.key_id == before.key_id), current.key_id)}

        return self._keys_tx(work)

    def revoke(self, key_id: int) -> dict[str, Any] | None:
        """Revoke an issuer key (gates refuse every code it signed); None for an unknown key."""
        at = self.store.clock.now()
        with self.store.begin() as tx:
            conn = tx.connection
            done = conn.execute(update(transit_keys).where(transit_keys.c.key_id == key_id, transit_keys.c.revoked_at.is_(None))
                                .values(revoked_at=at)).rowcount
            row = conn.execute(select(transit_keys).where(transit_keys.c.key_id == key_id)).first()
        if row is None:
            return None
        return {"key": self._key_json(row, None) | {"current": False}, "revokedNow": bool(done)}

    def keyring(self) -> ride.KeyRing:
        """The key ring document gates cache: every key (public halves), the revoked ones, the deny list."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> ride.KeyRing:
            rows, _current = self._with_current_key(tx.connection, at)
            denied = tx.connection.execute(select(transit_deny.c.account).distinct()).scalars()
            return ride.KeyRing(self._issuer_keys(rows), ride.DenyList(frozenset(bytes.fromhex(a) for a in denied)), at)

        return self._keys_tx(work)

    # ride codes

    def ride_code(self, wallet_id: str, companions: int = 0) -> dict[str, Any]:
        """A ride code for the wallet, signed with the current issuer key, valid CODE_VALID_S seconds."""
        at = _whole_second(self.store.clock.now())

        def work(tx: Tx) -> tuple[str, int, Any, bool]:
            wallet = tx.account(wallet_id)
            if wallet is None or wallet.kind != "wallet":
                raise Refused("USER_NOT_EXIST", f"no wallet {wallet_id}")
            conn = tx.connection
            row = {"account": secrets.token_bytes(ACCOUNT_BYTES).hex(), "wallet_id": wallet_id, "sequence": 0, "created_at": at}
            conn.execute(upsert(self.store.dialect)(transit_riders).on_conflict_do_nothing(), row)
            rider = conn.execute(update(transit_riders).where(transit_riders.c.wallet_id == wallet_id)
                                 .values(sequence=transit_riders.c.sequence + 1)
                                 .returning(transit_riders.c.account, transit_riders.c.sequence)).one()
            if rider.sequence > ride.MAX_SEQUENCE:
                raise Refused("USER_STATUS_ABNORMAL", f"wallet {wallet_id} has used every ride code sequence number")
            _rows, key = self._with_current_key(conn, at)
            denied = conn.execute(select(transit_deny.c.cause).where(transit_deny.c.account == rider.account)).scalars().all()
            return rider.account, int(rider.sequence), key, sorted(denied)

        account, sequence, key, denied = self._keys_tx(work)
        code = ride.RideCode(key.key_id, bytes.fromhex(account), at, CODE_VALID_S, sequence, companions)
        return {"code": ride.sign(code, self._signer(key)), "account": account, "keyId": key.key_id,
                "sequence": sequence, "companions": companions, "issuedAt": _iso(at), "expiresAt": _iso(code.expires_at),
                "denied": bool(denied), "deniedFor": denied}

    # the deny list

    @staticmethod
    def _account(text: str) -> str:
        try:
            raw = bytes.fromhex(text) if isinstance(text, str) else b""
        except ValueError:
            raw = b""
        if len(raw) not in ride.ACCOUNT_BYTES:
            raise Refused("PARAM_ILLEGAL", f"account: {text!r} is not an account token"
                                           f" ({ride.ACCOUNT_BYTES.start}-{ride.ACCOUNT_BYTES.stop - 1} bytes in hex)")
        return raw.hex()

    def _denial(self, conn: Connection, account: str) -> dict[str, Any]:
        causes = sorted(conn.execute(select(transit_deny.c.cause).where(transit_deny.c.account == account)).scalars())
        return {"account": account, "denied": bool(causes), "causes": causes}

    def deny(self, account: str) -> dict[str, Any]:
        """Put an account on the deny list (cause "admin")."""
        account = self._account(account)
        with self.store.begin() as tx:
            conn = tx.connection
            row = {"account": account, "cause": DENY_ADMIN, "created_at": self.store.clock.now()}
            conn.execute(upsert(self.store.dialect)(transit_deny).on_conflict_do_nothing(), row)
            return self._denial(conn, account)

    def allow(self, account: str) -> dict[str, Any]:
        """Take an account's admin entry off the deny list; one for an unpaid fare stays until it is paid."""
        account = self._account(account)
        with self.store.begin() as tx:
            conn = tx.connection
            conn.execute(delete(transit_deny).where(transit_deny.c.account == account, transit_deny.c.cause == DENY_ADMIN))
            return self._denial(conn, account)

    # taps

    def upload(self, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store a batch of taps, each tap checked on its own: {"result", "accepted", "duplicates", "refused"},
        ``refused`` listing each tap not stored, ``{"index", "tapId", "reason"}``; a batch that is no batch
        (not an object, no array of taps, more than MAX_TAPS) is refused whole."""
        if not isinstance(body, dict):
            raise Refused("PARAM_ILLEGAL", "the body must be a JSON object")
        if unknown := sorted(set(body) - {"gateId", "taps"}):
            raise Refused("PARAM_ILLEGAL", f"unknown member {', '.join(map(repr, unknown))} (a batch has gateId and taps)")
        _text(body.get("gateId"), "gateId")
        taps = body.get("taps")
        if not isinstance(taps, list):
            raise Refused("PARAM_ILLEGAL", "taps: a JSON array of taps is required")
        if len(taps) > MAX_TAPS:
            raise Refused("PARAM_ILLEGAL", f"taps: {len(taps)} taps; a batch holds at most {MAX_TAPS}")
        fares, _network_id = self.clearing.network()
        stops = fares.network.stop_areas
        at = self.store.clock.now()
        latest = ms(at + AHEAD)
        rows: dict[str, dict[str, Any]] = {}
        refused: list[dict[str, Any]] = []
        for index, tap in enumerate(taps):
            try:
                row = _tap_row(index, tap, client_id, at)
                where = f"taps[{index}] (tapId {row['tap_id']})"
                if stops and row["station_id"] not in stops:
                    raise Refused("PARAM_ILLEGAL", f"{where}.stationId: {row['station_id']!r} is not a station of the network")
                if row["at_ms"] > latest:
                    raise Refused("PARAM_ILLEGAL", f"{where}.at: {tap['at']} is ahead of the backend's clock"
                                                   f" ({_iso(at)}) by more than {AHEAD.seconds} s")
                seen = rows.get(row["tap_id"])
                if seen is not None and seen["digest"] != row["digest"]:
                    raise Refused("REPEAT_REQ_INCONSISTENT", f"{where}: its tapId is in this batch before, with other content")
            except Refused as refusal:
                tap_id = tap.get("tapId") if isinstance(tap, dict) and isinstance(tap.get("tapId"), str) else None
                refused.append({"index": index, "tapId": tap_id, "reason": refusal.detail})
                continue
            rows.setdefault(row["tap_id"], row)
        for attempt in (1, 2):
            try:
                with self.store.begin() as tx:
                    accepted, inconsistent = self._store_taps(tx.connection, rows)
                refused = sorted(refused + inconsistent, key=lambda refusal: refusal["index"])
                return {"result": result(), "accepted": accepted, "duplicates": len(taps) - accepted - len(refused),
                        "refused": refused}
            except StoreError as exc:  # a tap stored meanwhile by a concurrent upload: look again
                if attempt == 2 or not _is_duplicate(exc.__cause__):
                    raise
        raise AssertionError("unreachable")

    def _store_taps(self, conn: Connection, rows: dict[str, dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
        """Store the taps not stored yet: how many, and the refusals of those whose id is another tap's."""
        if not rows:
            return 0, []
        stored = conn.execute(select(transit_taps.c.tap_id, transit_taps.c.digest)
                              .where(transit_taps.c.tap_id.in_(bindparam("ids", expanding=True))), {"ids": list(rows)})
        new = dict(rows)
        inconsistent = []
        for tap_id, digest in stored:
            if digest != rows[tap_id]["digest"]:
                inconsistent.append({"index": rows[tap_id]["index"], "tapId": tap_id, "reason":
                                     f"taps[{rows[tap_id]['index']}] (tapId {tap_id}): uploaded before with other content"})
            del new[tap_id]
        if not new:
            return 0, inconsistent
        names = [name for name in next(iter(new.values())) if name != "index"]
        uploaded_at = {}
        for row in new.values():
            if row["uploaded_at"] not in uploaded_at:
                uploaded_at[row["uploaded_at"]] = db_value(conn, transit_taps.c.uploaded_at, row["uploaded_at"])
        insert_many(conn, transit_taps, names, [
            [uploaded_at[row[name]] if name == "uploaded_at" else row[name] for name in names] for row in new.values()])
        queued: dict[str, tuple[int, int]] = {}
        for row in new.values():
            if row["decision"] == "open":
                count, since = queued.get(row["account"], (0, row["at_ms"]))
                queued[row["account"]] = (count + 1, min(since, row["at_ms"]))
        queue(conn, self.store.dialect, queued)
        return len(new), inconsistent

    # a wallet's transit standing

    def wallet_summary(self, tx: Tx, wallet_id: str) -> dict[str, Any] | None:
        """A wallet's ride account, deny list standing, debt and journeys not fully paid (None: no ride account)."""
        conn = tx.connection
        rider = conn.execute(select(transit_riders).where(transit_riders.c.wallet_id == wallet_id)).first()
        if rider is None:
            return None
        debt = conn.execute(select(transit_debts).where(transit_debts.c.account == rider.account)).first()
        owing = conn.execute(select(transit_journeys).where(
            transit_journeys.c.account == rider.account,
            (transit_journeys.c.amount != transit_journeys.c.paid) | transit_journeys.c.error.is_not(None),
        ).order_by(transit_journeys.c.started_ms)).all()
        return self._denial(conn, rider.account) | {
            "codesIssued": rider.sequence,
            "debt": None if debt is None else {"owed": amount_json(Money.of_minor(debt.owed, debt.currency)),
                                               "since": timestamp(debt.since)},
            "unpaidJourneys": [
                {"journey": row.journey_key, "startedAt": timestamp(utc(row.started_ms)), "summary": row.summary,
                 "amount": amount_json(Money.of_minor(row.amount, row.currency)),
                 "paid": amount_json(Money.of_minor(row.paid, row.currency)), "error": row.error}
                for row in owing
            ],
        }

    def fare_lines(self, tx: Tx, history: Sequence[HistoryEntry]) -> dict[str, list[dict[str, Any]]]:
        """The journeys of each fare posting in ``history`` (the journeys it paid last), oldest first: what each
        costs and why (its summary says a maximum fare and why, and its riders; ``cappedBy`` the cap that capped it,
        ``capName`` what fare_capping.txt's cap_name calls it, else its id)."""
        paid_by = [entry.posting_id for entry in history if entry.kind in FARE_KINDS]
        lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if paid_by:
            for row in tx.connection.execute(select(transit_journeys).where(transit_journeys.c.posting_id.in_(paid_by))
                                             .order_by(transit_journeys.c.started_ms, transit_journeys.c.journey_key)):
                lines[row.posting_id].append(self._fare_line(row))
        return dict(lines)

    def free_fares(self, tx: Tx, wallet_id: str) -> list[tuple[datetime, dict[str, Any]]]:
        """The wallet's journeys that cost nothing (capped to nothing), each as a history line of its own of 0, with
        when clearing priced it: no posting paid them (a posting moves money), yet the rider made the trip."""
        rows = tx.connection.execute(select(transit_journeys).where(
            transit_journeys.c.wallet_id == wallet_id, transit_journeys.c.posting_id.is_(None),
            transit_journeys.c.amount == 0, transit_journeys.c.error.is_(None),
        ).order_by(transit_journeys.c.started_ms, transit_journeys.c.journey_key))
        return [(row.updated_at, {"kind": FARE, "ref": row.account, "amount": 0, "memo": fares_memo([row.started_day]),
                                  "journeys": [self._fare_line(row)]}) for row in rows]

    def _fare_line(self, row: Any) -> dict[str, Any]:
        """A journey of a fare line: what it was, what it cost and why."""
        return {"journey": row.journey_key, "startedAt": timestamp(utc(row.started_ms)), "summary": row.summary,
                "riders": row.riders, "amount": amount_json(Money.of_minor(row.amount, row.currency)),
                "cappedBy": row.capped_by, "capName": row.capped_by and self._cap_name(row.capped_by)}

    def _cap_name(self, cap_id: str) -> str:
        """What riders call the cap ``cap_id``: its cap_name in the fares clearing prices with, else its id."""
        fares, _network_id = self.clearing.network()
        return next((cap.name for cap in fares.network.caps if cap.cap_id == cap_id and cap.name), cap_id)


# --- checking an uploaded tap ----------------------------------------------------------------------------


def _text(value: object, where: str, most: int = MAX_ID_CHARS) -> str:
    if not isinstance(value, str) or not value or len(value) > most or not value.isprintable():
        raise Refused("PARAM_ILLEGAL", f"{where}: {value!r} is not text of 1 to {most} printable characters")
    return value


def _tap_row(index: int, tap: object, client_id: str, uploaded_at: datetime) -> dict[str, Any]:
    """The row of the ``index``-th tap of a batch, every field checked; PARAM_ILLEGAL naming the tap and field."""
    where = f"taps[{index}]"
    if not isinstance(tap, dict):
        raise Refused("PARAM_ILLEGAL", f"{where}: a tap is a JSON object, not {type(tap).__name__}")
    if missing := [name for name in TAP_FIELDS if name not in tap]:
        raise Refused("PARAM_ILLEGAL", f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(set(tap) - set(TAP_FIELDS)):
        raise Refused("PARAM_ILLEGAL", f"{where}: unknown member {', '.join(map(repr, unknown))}"
                                       f" (a tap has {', '.join(TAP_FIELDS)})")
    try:
        tap_id = str(uuid.UUID(tap["tapId"])) if isinstance(tap["tapId"], str) and len(tap["tapId"]) <= 45 else None
    except ValueError:
        tap_id = None
    if tap_id is None:
        raise Refused("PARAM_ILLEGAL", f"{where}.tapId: {tap['tapId']!r} is not a UUID")
    where = f"taps[{index}] (tapId {tap_id})"
    station_id = _text(tap["stationId"], f"{where}.stationId")
    gate_id = _text(tap["gateId"], f"{where}.gateId")
    if tap["direction"] not in DIRECTIONS:
        raise Refused("PARAM_ILLEGAL", f"{where}.direction: {tap['direction']!r} is not \"in\" or \"out\"")
    if tap["decision"] not in DECISIONS:
        raise Refused("PARAM_ILLEGAL", f"{where}.decision: {tap['decision']!r} is not \"open\" or \"deny\"")
    if not isinstance(tap["reason"], str) or tap["reason"] not in REASONS:  # a frozenset: an array or object is unhashable
        raise Refused("PARAM_ILLEGAL", f"{where}.reason: {tap['reason']!r} is not one of {', '.join(sorted(REASONS))}")
    try:
        at = datetime.fromisoformat(tap["at"]) if isinstance(tap["at"], str) and len(tap["at"]) <= 40 else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        raise Refused("PARAM_ILLEGAL", f"{where}.at: {tap['at']!r} is not an ISO 8601 time with a UTC offset"
                                       " (like 2025-03-03T08:00:00+08:00)")
    if not _MIN_AT <= at < _MAX_AT:
        raise Refused("PARAM_ILLEGAL", f"{where}.at: {tap['at']} is not between 2000 and 2100")
    code, account = tap["code"], tap["account"]
    if not isinstance(code, str) or len(code) > MAX_CODE_CHARS:
        raise Refused("PARAM_ILLEGAL", f"{where}.code: not text of at most {MAX_CODE_CHARS} characters")
    if tap["reason"] == "unreadable":  # the gate read no ride code: kept as evidence, of no account
        if tap["decision"] != "deny" or account != "":
            raise Refused("PARAM_ILLEGAL", f"{where}: an unreadable code is denied, with account \"\"")
        companions = 0
    else:
        try:
            read = ride.read(code).code
        except DomainError as exc:
            raise Refused("PARAM_ILLEGAL", f"{where}.code: {exc}") from None
        if account != read.account.hex():
            raise Refused("PARAM_ILLEGAL", f"{where}.account: {account!r} is not the account of its code"
                                           f" ({read.account.hex()}, lower-case hex)")
        companions = read.companions
    canonical = dict(tap, tapId=tap_id)
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    return {"index": index, "tap_id": tap_id, "client_id": client_id, "gate_id": gate_id, "station_id": station_id,
            "direction": tap["direction"], "at_ms": ms(at), "utc_offset_s": int(at.utcoffset().total_seconds()),
            "account": account, "code": code, "companions": companions, "decision": tap["decision"],
            "reason": tap["reason"], "digest": digest, "uploaded_at": uploaded_at}
