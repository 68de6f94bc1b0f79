"""A real simulated backend on a loopback port, in a fresh data dir, for each test that asks."""

import pytest
import requests

from pos_sim.backend import server


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def backend(data_dir):
    running = server.start(server.open_gateway(data_dir))
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
