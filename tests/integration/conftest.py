"""A real simulated backend on a loopback port, in a fresh data dir, for each test that asks: on SQLite,
and on PostgreSQL too (a fresh schema per test) when POS_SIM_TEST_PG holds a URL such as
postgresql://postgres@127.0.0.1:5432/test."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from pos_sim.backend import server

PG_URL = os.environ.get("POS_SIM_TEST_PG")


def _pg_conninfo() -> str:
    """POS_SIM_TEST_PG as libpq takes it (no SQLAlchemy driver name)."""
    assert PG_URL
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="set POS_SIM_TEST_PG=postgresql://... to run on PostgreSQL"),
        ),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database URL with no tables in it yet: a SQLite file, or a fresh PostgreSQL schema."""
    with empty_database(request.param, tmp_path) as made:
        yield made


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new empty database: a SQLite file in ``folder``, or a new PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'ledger-{secrets.token_hex(4)}.db'}"
        return
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(_pg_conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_pg_conninfo(), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def data_dir(tmp_path, keyed):
    """A fresh data dir holding the session's keys (tests of making keys use a folder of their own)."""
    return keyed(tmp_path / "data")


@pytest.fixture
def backend(data_dir, url):
    running = server.start(server.open_gateway(data_dir, url))
    yield running
    running.stop()


@pytest.fixture
def wallet(backend):
    """Open a funded wallet: wallet(currency="SGD", balance=10000) -> wallet id."""

    def open_wallet(currency: str = "SGD", balance: int = 10_000, name: str = "Tan Ah Kow") -> str:
        answer = requests.post(f"{backend.url}/sim/wallets", json={"currency": currency, "balance": balance, "name": name}, timeout=10)
        answer.raise_for_status()
        return answer.json()["walletId"]

    return open_wallet


def payment_code(backend, wallet_id: str) -> str:
    answer = requests.post(f"{backend.url}/sim/wallets/{wallet_id}/payment-code", timeout=10)
    answer.raise_for_status()
    return answer.json()["code"]


def balance(backend, wallet_id: str) -> int:
    return requests.get(f"{backend.url}/sim/wallets/{wallet_id}", timeout=10).json()["balance"]
