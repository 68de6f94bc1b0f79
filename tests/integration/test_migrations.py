"""Data kept across upgrades: a ledger made by pos-sim 0.1.0 (before migrations; a SQLite file and a
PostgreSQL dump in tests/fixtures/schema-0.1.0) opens with every balance and payment intact, the
migrations make exactly the store's tables, and a ledger of a newer release is refused untouched; the
terminal's journal and sales book of 0.1.0 reprint every receipt as first printed, and its files migrate
in one transaction or not at all."""

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
import requests
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from pos_sim.backend import server
from pos_sim.backend.store import migrations, transit  # noqa: F401  (every table on the metadata)
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.errors import StoreError
from pos_sim.backend.store.tables import metadata
from pos_sim.domain.receipt import layout
from pos_sim.terminal import local_file
from pos_sim.terminal.errors import TerminalError
from pos_sim.terminal.register import Register
from pos_sim.terminal.settings import TerminalSettings
from tests.integration.conftest import PG_URL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "schema-0.1.0"


WALLET = ("walletId", "name", "currency", "balance", "history")


def shown(running, expected: Path) -> dict:
    """What the simulator shows now of each wallet the fixture recorded, as 0.1.0 showed it. A fare posting's
    journeys, which 0.1.0 did not list, must be the one journey it paid (its memo "fare {the journey's summary}")."""
    wallets = {}
    for wallet_id in json.loads(expected.read_text(encoding="utf-8"))["wallets"]:
        answer = requests.get(f"{running.url}/sim/wallets/{wallet_id}", timeout=10)
        assert answer.status_code == 200, answer.text
        wallets[wallet_id] = {key: answer.json()[key] for key in WALLET}
        for line in wallets[wallet_id]["history"]:
            if line["kind"] == "fare":
                assert [f"fare {journey['summary']}" for journey in line.pop("journeys")] == [line["memo"]]
    return wallets


def recorded(path: Path) -> dict:
    return {wallet_id: {key: wallet[key] for key in WALLET}
            for wallet_id, wallet in json.loads(path.read_text(encoding="utf-8"))["wallets"].items()}


def contents(path: Path) -> list[str]:
    """Every table and row of a SQLite file, as SQL (the file's bytes move with WAL checkpoints)."""
    with closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def sqlite_rows(path: Path, query: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


def engine_of(url: str):
    return create_engine(make_url(url).set(drivername="postgresql+psycopg") if url.startswith("postgresql") else url)


def at_revision(connection, revision_id: str) -> None:
    """The ledger of ``connection`` migrated up to ``revision_id``, with the metro operator's merchant row."""
    command.upgrade(migrations.config(connection), revision_id)
    connection.execute(text("INSERT INTO merchants (client_id, name, public_key, settlement_currency, created_at)"
                            " VALUES ('METRO_OPS', 'City Metro', '-', 'SGD', '2025-03-04 00:00:00+00:00')"))


def schema_differences(url: str) -> list:
    engine = engine_of(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()


def revision(url: str) -> str:
    engine = engine_of(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_a_new_ledger_is_made_at_the_newest_revision_with_exactly_the_stores_tables(url):
    Store.open(url).close()
    assert revision(url) == migrations.head()
    assert schema_differences(url) == []


def test_the_journeys_of_a_ledger_at_revision_0004_are_kept_and_keyed_by_their_local_day(url):
    late_evening = 86_400_000 - 3_600_000  # 23:00 UTC on day 0: day 1 at the gate's +08:00
    engine = engine_of(url)
    try:
        with engine.begin() as connection:
            at_revision(connection, "0004")
            connection.execute(text(
                "INSERT INTO transit_taps (tap_id, client_id, gate_id, station_id, direction, at_ms, utc_offset_s, account,"
                " code, companions, decision, reason, digest, uploaded_at) VALUES ('tap-1', 'METRO_OPS', 'G1', 'M01', 'in',"
                " :at, 28800, :account, 'code', 0, 'open', 'ok', 'digest', '2025-03-04 00:00:00+00:00')"),
                {"at": late_evening, "account": "ab" * 16})
            connection.execute(text(
                "INSERT INTO transit_journeys (account, journey_key, wallet_id, client_id, started_ms, legs, riders, currency,"
                " fare, amount, paid, penalty, capped_by, summary, error, updated_at) VALUES (:account, :key, NULL, 'METRO_OPS',"
                " :started, 1, 1, 'SGD', 320, 320, 120, 0, NULL, '2025-03-03 M01 08:00 -> M12 08:40', NULL, '2025-03-04 00:00:00+00:00')"),
                [{"account": "ab" * 16, "key": key, "started": started} for key, started in (("tap-2", 1000), ("tap-1", late_evening))])
        Store.open(url).close()
        assert revision(url) == migrations.head() and schema_differences(url) == []
        with engine.connect() as connection:
            assert inspect(connection).get_pk_constraint("transit_journeys")["constrained_columns"] == [
                "started_day", "account", "started_ms", "journey_key"]
            kept = connection.execute(text("SELECT journey_key, started_ms, started_day, amount, paid FROM transit_journeys"
                                           " ORDER BY account, started_ms")).all()
        # tap-2's tap is not in the ledger: its day is the UTC one
        assert [tuple(row) for row in kept] == [("tap-2", 1000, 0, 320, 120), ("tap-1", late_evening, 1, 320, 120)]
    finally:
        engine.dispose()


def test_the_journeys_of_a_ledger_at_revision_0007_name_the_fare_posting_that_paid_them_last(url):
    engine = engine_of(url)
    try:
        with engine.begin() as connection:
            at_revision(connection, "0007")
            connection.execute(text("INSERT INTO postings (id, kind, ref, memo, created_at) VALUES (:id, :kind, :ref, :memo, :at)"), [
                {"id": "L2", "kind": "fare", "ref": "tap-1", "memo": "fare 2025-03-03 M01 08:00 -> M12 08:40",
                 "at": "2025-03-04 00:00:00+00:00"},  # paid, then refunded by a later clearing (a random id of 0.1.0)
                {"id": "L1", "kind": "fare-refund", "ref": "tap-1", "memo": "fare refund 2025-03-03 M01 08:00 -> M12 08:40",
                 "at": "2025-03-05 00:00:00+00:00"},
                {"id": "L3", "kind": "pay", "ref": "tap-2", "memo": "pay SIM_DEMO", "at": "2025-03-06 00:00:00+00:00"}])
            connection.execute(text(
                "INSERT INTO transit_journeys (account, journey_key, wallet_id, client_id, started_ms, started_day, legs, riders,"
                " currency, fare, amount, paid, penalty, capped_by, summary, error, updated_at) VALUES (:account, :key, NULL,"
                " 'METRO_OPS', 1000, 0, 1, 1, 'SGD', 270, 110, :paid, 0, NULL, '2025-03-03 M01 08:00 -> M12 08:40', NULL,"
                " '2025-03-04 00:00:00+00:00')"),
                [{"account": "ab" * 16, "key": "tap-1", "paid": 110}, {"account": "ab" * 16, "key": "tap-2", "paid": 0}])
        Store.open(url).close()
        assert revision(url) == migrations.head() and schema_differences(url) == []
        with engine.connect() as connection:
            named = connection.execute(text("SELECT journey_key, posting_id FROM transit_journeys ORDER BY journey_key")).all()
        assert [tuple(row) for row in named] == [("tap-1", "L1"), ("tap-2", None)]  # the newest fare posting; unpaid: none
    finally:
        engine.dispose()


def test_the_checkpoints_of_a_ledger_at_revision_0008_hold_their_latest_journey_and_cap_totals(url):
    engine = engine_of(url)
    checked, new = "ab" * 16, "cd" * 16  # a checkpoint of a cleared account; an account of 0.1.0 with journeys and none
    try:
        with engine.begin() as connection:
            at_revision(connection, "0008")
            connection.execute(text(
                "INSERT INTO transit_journeys (account, journey_key, wallet_id, client_id, started_ms, started_day, legs, riders,"
                " currency, fare, amount, paid, penalty, capped_by, summary, error, updated_at, posting_id) VALUES (:account,"
                " :key, NULL, 'METRO_OPS', :started, 0, 1, 1, 'SGD', 270, 270, 270, 0, NULL, '1970-01-01 M01 08:00 -> M12 08:40',"
                " NULL, '2025-03-04 00:00:00+00:00', NULL)"),
                [{"account": checked, "key": "tap-1", "started": 9000}, {"account": checked, "key": "tap-2", "started": 1000},
                 {"account": new, "key": "tap-3", "started": 5000}])
            connection.execute(text("INSERT INTO transit_checkpoints (account, before_ms) VALUES (:account, 8000)"),
                               {"account": checked})
            connection.execute(text("INSERT INTO transit_cap_totals (account, rider, cap_id, period, spent) VALUES"
                                    " (:account, :rider, :cap, :period, :spent)"), [
                {"account": checked, "rider": 0, "cap": "metro_week", "period": "2025-03-03", "spent": 1200},
                {"account": checked, "rider": 1, "cap": "metro_day", "period": "2025-03-04", "spent": 300},
                {"account": checked, "rider": 0, "cap": "metro_day", "period": "2025-03-04", "spent": 450}])
        Store.open(url).close()
        assert revision(url) == migrations.head() and schema_differences(url) == []  # transit_cap_totals dropped
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT account, before_ms, latest_journey_ms, cap_totals FROM transit_checkpoints"
                                           " ORDER BY account")).all()
        # days counted from 1970-01-01: 2025-03-03 is day 20150
        assert [tuple(row) for row in rows] == [
            (checked, 8000, 9000, '[[0,"metro_day",20151,450],[0,"metro_week",20150,1200],[1,"metro_day",20151,300]]'),
            (new, 0, 5000, None)]  # priced from its first tap, as with no checkpoint
    finally:
        engine.dispose()


def test_a_sqlite_ledger_of_pos_sim_0_1_0_opens_with_every_balance_and_payment_intact(tmp_path):
    data = shutil.copytree(FIXTURES / "backend", tmp_path / "backend")
    issuer_keys = sqlite_rows(data / "ledger.db", "SELECT key_id, public_key, private_key FROM transit_keys")
    running = server.start(server.open_gateway(data))
    try:
        assert shown(running, FIXTURES / "expected.json") == recorded(FIXTURES / "expected.json")
        ledger = requests.get(f"{running.url}/sim/merchants", timeout=10).json()
        assert any(merchant["clientId"] == "SIM_DEMO" for merchant in ledger["merchants"])
        wallet = next(iter(recorded(FIXTURES / "expected.json")))
        ride_code = requests.post(f"{running.url}/sim/wallets/{wallet}/ride-code", json={"companions": 0}, timeout=10)
        assert ride_code.status_code == 201, ride_code.text  # signed with the issuer key the ledger held
        assert ride_code.json()["keyId"] in {key_id for key_id, _public, _private in issuer_keys}
    finally:
        running.stop()
    for _key_id, public_key, private_key in issuer_keys:  # the issuer's private keys moved to key files, 0600
        moved = data / "keys" / f"transit_issuer_{public_key}.pem"
        assert moved.read_text(encoding="ascii") == private_key and moved.stat().st_mode & 0o777 == 0o600
    assert issuer_keys and b"PRIVATE KEY" not in b"".join(path.read_bytes() for path in data.glob("ledger.db*"))
    url = f"sqlite:///{data / 'ledger.db'}"
    assert revision(url) == migrations.head()
    assert schema_differences(url) == []
    with create_engine(url).connect() as connection:  # double entry: every posting's entries still sum to zero
        assert connection.execute(text("SELECT count(*) FROM (SELECT posting_id FROM entries GROUP BY posting_id "
                                       "HAVING sum(amount) != 0) AS unbalanced")).scalar_one() == 0


@pytest.mark.skipif(not PG_URL, reason="set POS_SIM_TEST_PG=postgresql://... to run on PostgreSQL")
@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_a_postgresql_ledger_of_pos_sim_0_1_0_opens_with_every_balance_and_payment_intact(url, tmp_path):
    schema = make_url(url).query["options"].removeprefix("-csearch_path=")
    dump = (FIXTURES / "postgresql" / "ledger.sql").read_text(encoding="utf-8").replace("@SCHEMA@", f'"{schema}"')
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(dump)
    data = tmp_path / "backend"
    shutil.copytree(FIXTURES / "postgresql" / "keys", data / "keys")
    running = server.start(server.open_gateway(data, url))
    try:
        expected = FIXTURES / "postgresql" / "expected.json"
        assert shown(running, expected) == recorded(expected)
    finally:
        running.stop()
    assert revision(url) == migrations.head()
    assert schema_differences(url) == []


def test_a_ledger_of_a_newer_release_is_refused_untouched_with_one_line_saying_so(tmp_path):
    data = shutil.copytree(FIXTURES / "backend", tmp_path / "backend")
    url = f"sqlite:///{data / 'ledger.db'}"
    Store.open(url, key_dir=data / "keys").close()
    with create_engine(url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    before = contents(data / "ledger.db")
    with pytest.raises(StoreError, match=f"revision 9999, made by a newer pos-sim; this one knows revisions up to "
                                         f"{migrations.head()}: open it with that newer pos-sim"):
        Store.open(url)
    run = subprocess.run([sys.executable, "-m", "pos_sim", "backend", "--port", "0", "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "revision 9999, made by a newer pos-sim" in run.stderr
    assert "Traceback" not in run.stderr
    assert contents(data / "ledger.db") == before


# --- the terminal's own files: the payment journal and the sales book ---------------------------------


def test_the_journal_and_sales_book_of_pos_sim_0_1_0_open_with_every_receipt_intact(tmp_path):
    data = shutil.copytree(FIXTURES / "backend", tmp_path / "backend")
    journal_dir = shutil.copytree(FIXTURES / "terminal", tmp_path / "terminal")
    receipts = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))["receipts"]
    running = server.start(server.open_gateway(data))
    try:
        settings = TerminalSettings.build({"gateway.url": running.url, "gateway.simulator_data_dir": data,
                                           "journal_dir": journal_dir, "time_zone": "Asia/Singapore"})
        with Register.open(settings) as register:
            assert not register.recovered.sales and not register.recovered.reversals  # nothing was left pending
            reprinted = {number: "\n".join(layout(register.reprint(number), settings.receipt_width)) for number in receipts}
            assert [(sale.receipt_number, sale.state.value) for sale in register.book.sales()] == [
                ("T01-000001", "APPROVED"), ("T01-000002", "APPROVED"), ("T01-000003", "APPROVED")]
    finally:
        running.stop()
    assert reprinted == receipts


class FileError(TerminalError):
    pass


def file_kind(version: int, schema: str, **migrations: str) -> local_file.FileKind:
    return local_file.FileKind("test book", 0x54455354, schema, version, FileError,
                               migrations={int(step.removeprefix("v")): sql for step, sql in migrations.items()})


FIRST = file_kind(1, "CREATE TABLE sales (number TEXT PRIMARY KEY, minor INTEGER NOT NULL)")
SECOND = file_kind(2, "CREATE TABLE sales (number TEXT PRIMARY KEY, minor INTEGER NOT NULL, currency TEXT NOT NULL)",
                   v1="ALTER TABLE sales ADD COLUMN currency TEXT NOT NULL DEFAULT 'SGD'")


def made(path: Path, kind: local_file.FileKind, *rows: tuple) -> Path:
    with closing(local_file.connect(path, kind)) as db:
        db.executemany(f"INSERT INTO sales VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return path


def test_a_terminal_file_of_an_older_version_is_migrated_with_its_rows_kept(tmp_path):
    path = made(tmp_path / "book.db", FIRST, ("T01-000001", 1250), ("T01-000002", 340))
    with closing(local_file.connect(path, SECOND)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT * FROM sales ORDER BY number").fetchall() == [("T01-000001", 1250, "SGD"),
                                                                             ("T01-000002", 340, "SGD")]


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path):
    path = made(tmp_path / "book.db", FIRST, ("T01-000001", 1250))
    before = contents(path)
    broken = file_kind(2, SECOND.schema, v1="ALTER TABLE sales ADD COLUMN currency TEXT; UPDATE sales SET minor = NULL")
    with pytest.raises(FileError, match="cannot use it as a test book .*NOT NULL constraint failed: sales.minor"):
        local_file.connect(path, broken)
    assert contents(path) == before


def test_a_terminal_file_with_no_way_up_or_of_a_newer_pos_sim_is_refused_untouched(tmp_path):
    path = made(tmp_path / "book.db", FIRST, ("T01-000001", 1250))
    before = contents(path)
    with pytest.raises(FileError, match=r"a test book of version 1, and this pos-sim has no migration from version 1 to 2"):
        local_file.connect(path, file_kind(2, SECOND.schema))
    newer = made(tmp_path / "newer.db", SECOND, ("T01-000001", 1250, "SGD"))
    with pytest.raises(FileError, match=r"written by a newer pos-sim \(test book version 2, this one reads 1\)"):
        local_file.connect(newer, FIRST)
    assert contents(path) == before


def test_a_ledger_holding_issuer_keys_opened_without_its_data_dir_is_refused_untouched(tmp_path):
    data = shutil.copytree(FIXTURES / "backend", tmp_path / "backend")
    before = contents(data / "ledger.db")
    with pytest.raises(StoreError, match="the ledger holds transit issuer private keys, which now live in the data dir's "
                                         r"key files: open it with its data dir \(pos-sim backend --data-dir DIR\)"):
        Store.open(f"sqlite:///{data / 'ledger.db'}")
    assert contents(data / "ledger.db") == before
