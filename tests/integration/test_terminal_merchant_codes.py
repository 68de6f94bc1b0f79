"""The terminal's OrderCode and EntryCode tenders against the real backend: the terminal shows a code,
the customer's wallet scans it (the backend's /sim scan), and the terminal's polling finds the outcome;
a code nobody pays is cancelled when it expires; a phone tap pays as a customer code."""

import threading

import requests

from pos_sim.terminal.authorize import MerchantCode, Polling, authorize
from pos_sim.terminal.journal import State
from tests.integration.conftest import balance
from tests.integration.test_terminal_authorize import FAST, credentials, gateway, journal, sgd  # noqa: F401 (fixtures)

WAITING = Polling(interval_s=0.1, deadline_s=5.0, cancel_attempts=3)


def scan_when_shown(backend, wallet_id, shown: list, confirm_ms=0):
    """on_code for authorize: the customer scans the code the terminal shows, from another thread."""

    def on_code(code: MerchantCode) -> None:
        shown.append(code)
        value = code.value
        if value is None:  # an entry code: the customer scans the store's static code
            value = requests.get(f"{backend.url}/sim/merchants/SIM_DEMO/entry-code", params={"storeId": code.store_id},
                                 timeout=10).json()["codeValue"]
        threading.Thread(target=requests.post, args=(f"{backend.url}/sim/wallets/{wallet_id}/scan",),
                         kwargs={"json": {"codeValue": value, "confirmMs": confirm_ms}, "timeout": 10}).start()

    return on_code


def test_an_order_code_shown_and_paid_is_approved(backend, wallet, gateway, journal):
    customer, shown = wallet("SGD", 10_000), []
    outcome = authorize(gateway, journal, sgd(1250), None, scenario="OrderCode", polling=WAITING,
                        on_code=scan_when_shown(backend, customer, shown, confirm_ms=300))
    assert (outcome.state, outcome.charged) == (State.APPROVED, True)
    assert shown[0].value.startswith("https://") and shown[0].expires_at is not None
    assert shown[0].payment_id == outcome.payment_id and balance(backend, customer) == 8_750


def test_the_entry_code_of_the_store_pays_the_keyed_amount(backend, wallet, gateway, journal):
    customer, shown = wallet("SGD", 10_000), []
    outcome = authorize(gateway, journal, sgd(480), None, scenario="EntryCode", store_id="TILL-1", polling=WAITING,
                        on_code=scan_when_shown(backend, customer, shown))
    assert outcome.state is State.APPROVED and balance(backend, customer) == 9_520
    assert shown[0].value is None and shown[0].store_id == "TILL-1"


def test_a_wallet_that_cannot_pay_the_order_code_is_a_decline(backend, wallet, gateway, journal):
    poor, shown = wallet("SGD", 100), []
    outcome = authorize(gateway, journal, sgd(1250), None, scenario="OrderCode", polling=WAITING,
                        on_code=scan_when_shown(backend, poor, shown))
    assert (outcome.state, outcome.result_code) == (State.DECLINED, "USER_BALANCE_NOT_ENOUGH")
    assert balance(backend, poor) == 100


def test_an_order_code_nobody_scans_closes_when_it_expires(backend, gateway, journal):
    shown = []
    outcome = authorize(gateway, journal, sgd(1250), None, scenario="OrderCode", polling=FAST, on_code=shown.append,
                        code_lifetime_s=2)
    assert outcome.state in (State.CANCELLED, State.DECLINED) and outcome.charged is False
    # the order closed (cancelled by the terminal, or expired at the gateway first): it no longer pays
    paid = requests.post(f"{backend.url}/sim/wallets/W0/scan", json={"codeValue": shown[0].value}, timeout=10)
    assert paid.status_code == 404


def test_a_phone_tap_pays_as_a_customer_code(backend, wallet, gateway, journal):
    customer = wallet("SGD", 10_000)
    token = requests.post(f"{backend.url}/sim/wallets/{customer}/device-token", timeout=10).json()
    tap = requests.post(f"{backend.url}/sim/device-tokens/{token['tokenId']}/tap", timeout=10).json()
    outcome = authorize(gateway, journal, sgd(990), tap["payload"], polling=FAST)
    assert outcome.state is State.APPROVED and balance(backend, customer) == 9_010
    again = authorize(gateway, journal, sgd(990), tap["payload"], polling=FAST)  # a replayed tap
    assert (again.state, again.result_code) == (State.DECLINED, "INVALID_CODE") and balance(backend, customer) == 9_010
