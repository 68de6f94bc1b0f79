"""No hot row in clearing: the fares a clearing collects go to the operator's account as a pay's takings do, into a
balance shard no other transaction holds (PostgreSQL), so clearing never waits on a transaction that holds the
operator's account row; every balance read after is exact, and the ledger sums to zero."""

import tempfile
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from pos_sim.backend.services.transit import Transit
from pos_sim.backend.store.database import Store
from pos_sim.backend.store.tables import accounts
from pos_sim.backend.store.transit import transit_riders
from pos_sim.domain.codes import ride
from tests.integration.conftest import PG_URL, empty_database

OPERATOR = "METRO_OPS"


def test_clearing_does_not_wait_on_the_operators_account_row():
    if not PG_URL:
        pytest.skip("set POS_SIM_TEST_PG to run on PostgreSQL (SQLite takes one writer at a time by design)")
    with tempfile.TemporaryDirectory() as folder, empty_database("postgresql", Path(folder)) as url, Store.open(url) as store:
        start = store.clock.now().replace(microsecond=0) - timedelta(hours=1)
        issuer_key, issuer = ride.generate_key_pair(1, start - timedelta(days=1), start + timedelta(days=365))
        account = bytes([9]) * 16
        with store.begin() as tx:
            tx.add_merchant(OPERATOR, "City Metro", "(not used)", "SGD")
            wallet = tx.add_wallet("SGD", 10_000, "rider")
            tx.connection.execute(insert(transit_riders), {"account": account.hex(), "wallet_id": wallet,
                                                           "sequence": 2, "created_at": start})
            operator = tx.merchant_account(OPERATOR, "SGD")
        code = ride.sign(ride.RideCode(issuer.key_id, account, start, 60, 1, 0), issuer_key)
        taps = [{"tapId": str(uuid.UUID(int=n + 1)), "stationId": station, "gateId": "G1", "direction": direction,
                 "at": (start + timedelta(minutes=20 * n)).isoformat(), "code": code, "account": account.hex(),
                 "decision": "open", "reason": "ok"} for n, (direction, station) in enumerate([("in", "M01"), ("out", "M05")])]
        transit = Transit(store)
        assert transit.upload(OPERATOR, {"gateId": "G1", "taps": taps})["accepted"] == 2

        held, release, cleared = threading.Event(), threading.Event(), threading.Event()

        def hold_the_row() -> None:  # as a writer of the operator's balance in its row would, until told to commit
            with store.begin() as tx:
                tx.connection.execute(update(accounts).where(accounts.c.id == operator).values(balance=accounts.c.balance))
                held.set()
                assert release.wait(30)

        def clear() -> None:
            transit.clear()
            cleared.set()

        holder, clearing = threading.Thread(target=hold_the_row), threading.Thread(target=clear)
        holder.start()
        try:
            assert held.wait(30)
            clearing.start()
            assert cleared.wait(10), "clearing waited for the transaction holding the operator's account row"
        finally:
            release.set()
            holder.join()
            clearing.join()
        with store.begin() as tx:
            charged = 10_000 - tx.account(wallet).balance
            assert charged > 0
            assert tx.account(operator).balance == charged
            assert tx.history(operator)[0].balance_after == charged
            assert tx.trial_balance() == {"SGD": 0}
