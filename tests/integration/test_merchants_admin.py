"""More merchants through the admin API: with a key pair made in the data dir, or with their own public key."""

import json
import stat
import uuid
from datetime import datetime, timedelta, timezone

import requests

from pos_sim.backend import server
from pos_sim.domain import ams_signature
from tests.integration.conftest import balance, payment_code


def signed_pay(backend, client_id, private_pem, code, value="1250", currency="THB"):
    body = json.dumps({
        "productCode": "IN_STORE_PAYMENT", "paymentRequestId": uuid.uuid4().hex,
        "paymentAmount": {"currency": currency, "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
        "paymentFactor": {"inStorePaymentScenario": "PaymentCode"},
    }).encode()
    path = "/ams/api/v1/payments/pay"
    at = datetime.now(timezone(timedelta(hours=7))).isoformat(timespec="seconds")  # signed now, in Bangkok's offset
    signature = ams_signature.sign(ams_signature.load_private_key(private_pem), "POST", path, client_id, at, body)
    headers = {"client-id": client_id, "Request-Time": at, "Signature": ams_signature.signature_header(signature),
               "Content-Type": "application/json; charset=UTF-8"}
    return requests.post(backend.url + path, data=body, headers=headers, timeout=10).json()


def test_a_merchant_added_without_a_key_gets_a_pair_in_the_data_dir_and_can_pay(backend, data_dir, wallet):
    added = requests.post(f"{backend.url}/sim/merchants", json={"clientId": "SHOP_TH_01", "name": "Krua Thai",
                                                                 "settlementCurrency": "THB"}, timeout=10)
    assert added.status_code == 201
    private_file = data_dir / "keys" / "SHOP_TH_01_private.pem"
    assert added.json()["privateKeyFile"] == str(private_file)
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    customer = wallet("THB", 100_000)
    paid = signed_pay(backend, "SHOP_TH_01", private_file.read_text(), payment_code(backend, customer))
    assert paid["result"]["resultStatus"] == "S" and balance(backend, customer) == 100_000 - 1250
    listed = requests.get(f"{backend.url}/sim/merchants", timeout=10).json()["merchants"]
    assert [m["clientId"] for m in listed] == ["SHOP_TH_01", "SIM_DEMO"] and "privateKey" not in listed[0]


def test_a_merchant_with_its_own_public_key_signs_with_its_own_private_key(backend, tmp_path, wallet):
    keys = tmp_path / "mine"
    server.keys.generate_key_pair(keys / "private.pem", keys / "public.pem")
    added = requests.post(f"{backend.url}/sim/merchants", json={"clientId": "SANDBOX_SHOP_2", "name": "Kopi Stall",
                                                                 "settlementCurrency": "SGD",
                                                                 "publicKey": (keys / "public.pem").read_text()}, timeout=10)
    assert added.status_code == 201 and "privateKey" not in added.json()
    customer = wallet("SGD")
    paid = signed_pay(backend, "SANDBOX_SHOP_2", (keys / "private.pem").read_text(), payment_code(backend, customer), currency="SGD")
    assert paid["result"]["resultStatus"] == "S"


def test_bad_or_taken_merchants_are_refused_saying_why(backend):
    url = f"{backend.url}/sim/merchants"
    taken = requests.post(url, json={"clientId": "SIM_DEMO", "name": "again", "settlementCurrency": "SGD"}, timeout=10)
    assert taken.status_code == 409 and "SIM_DEMO exists" in taken.json()["error"]["message"]
    for body, words in [
        ({"clientId": "has space", "name": "x", "settlementCurrency": "SGD"}, "clientId"),
        ({"clientId": "OK_1", "name": "x", "settlementCurrency": "ZZZ"}, "settlementCurrency"),
        ({"clientId": "OK_2", "name": "x", "settlementCurrency": "SGD", "publicKey": "not a key"}, "publicKey"),
        ({"clientId": "OK_3", "settlementCurrency": "SGD"}, "body.name"),
    ]:
        answer = requests.post(url, json=body, timeout=10)
        assert answer.status_code == 400 and words in json.dumps(answer.json()["error"]), answer.json()
    assert [m["clientId"] for m in requests.get(url, timeout=10).json()["merchants"]] == ["SIM_DEMO"]
