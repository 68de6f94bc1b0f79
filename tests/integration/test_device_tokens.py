"""Phone wallet device tokens against the real backend on a loopback port: provision over /sim, tap,
then pay with the presentation as the payment code of a PaymentCode pay, through the provider's own
client; the cryptogram, the counter and the ledger after."""

import base64
import json
import secrets
import threading
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests

from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from pos_sim import language
from pos_sim.backend.protocol import Refused
from pos_sim.backend.services.tokens import TOKEN_AID, TOKEN_BIN
from pos_sim.domain import device_token
from pos_sim.domain.codes import classify, emv_cpm
from pos_sim.domain.codes.emv_cpm import TokenPresentation, read_token_presentation, token_presentation
from tests.integration.conftest import balance
from tests.integration.test_faults import arm, settled
from tests.integration.test_official_sdk import pay_request, sdk  # noqa: F401 (sdk: the official client, a fixture)


CUT_SHORT = base64.b64encode(base64.b64decode(token_presentation(
    TokenPresentation("9999000112345677", "2911", 1, bytes(8), TOKEN_AID)))[:-14]).decode()  # a tap missing its last bytes


def provision(backend, wallet_id: str) -> dict:
    answer = requests.post(f"{backend.url}/sim/wallets/{wallet_id}/device-token", timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def tap(backend, token_id: str) -> dict:
    answer = requests.post(f"{backend.url}/sim/device-tokens/{token_id}/tap", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def pay(client, payload: str, value: str = "1250", request_id: str | None = None) -> dict:
    return json.loads(client.execute(pay_request(payload, value, request_id=request_id)))


def inquire(client, request_id: str) -> dict:
    query = AlipayPayQueryRequest()
    query.payment_request_id = request_id
    return json.loads(client.execute(query))


def forged(payload: str, **changes) -> str:
    """The presentation ``payload`` with some of its fields changed, rebuilt as a well-formed CPM payload."""
    read = read_token_presentation(payload)
    return token_presentation(TokenPresentation(**{**read.__dict__, **changes}))


@pytest.fixture
def token(backend, wallet):
    """A device token on a fresh SGD 100.00 wallet: the provisioning answer."""
    return provision(backend, wallet("SGD", 10_000))


def test_provision_tap_and_pay_charges_the_bound_wallet(sdk, backend, token):
    pan, key = token["tokenPan"], bytes.fromhex(token["key"])
    assert token["atc"] == 0 and token["tokenId"] and len(key) == 16
    assert pan.startswith(TOKEN_BIN) and len(pan) == 16 and device_token.luhn_valid(pan)
    assert token["expiry"] == device_token.expiry_after(datetime.now(UTC).date(), 3)

    tapped = tap(backend, token["tokenId"])
    assert tapped["tokenId"] == token["tokenId"] and tapped["atc"] == 1
    payload = tapped["payload"]
    emv_cpm.parse(payload, strict=True)
    assert classify(payload).kind == "emv-cpm"
    presented = read_token_presentation(payload)
    assert (presented.pan, presented.expiry, presented.atc, presented.aid) == (pan, token["expiry"], 1, TOKEN_AID)
    assert device_token.verify(key, pan, token["expiry"], 1, presented.cryptogram)  # the phone's key made it

    paid = pay(sdk, payload)
    assert paid["result"]["resultStatus"] == "S", paid["result"]
    assert paid["pspCustomerInfo"]["pspCustomerId"] == token["walletId"]
    assert balance(backend, token["walletId"]) == 8_750
    status = inquire(sdk, paid["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("SUCCESS", "SUCCESS")
    assert tap(backend, token["tokenId"])["atc"] == 2


def test_the_same_presentation_again_is_a_replay(sdk, backend, token):
    payload = tap(backend, token["tokenId"])["payload"]
    assert pay(sdk, payload)["result"]["resultStatus"] == "S"
    again = pay(sdk, payload)  # a new paymentRequestId, the same tap
    assert again["result"]["resultCode"] == "INVALID_CODE" and "replayed" in again["result"]["resultMessage"]
    assert "ATC 1" in again["result"]["resultMessage"]
    status = inquire(sdk, again["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("FAIL", "INVALID_CODE")
    assert balance(backend, token["walletId"]) == 8_750


def test_the_same_request_id_answers_the_same_and_moves_money_once(sdk, backend, token):
    payload = tap(backend, token["tokenId"])["payload"]
    first = pay(sdk, payload, request_id="till-9-0001")
    assert first["result"]["resultStatus"] == "S"
    assert pay(sdk, payload, request_id="till-9-0001") == first  # the merchant's retry, not a replay
    assert balance(backend, token["walletId"]) == 8_750


def test_an_older_counter_after_a_newer_one_is_refused(sdk, backend, token):
    older = tap(backend, token["tokenId"])["payload"]
    newer = tap(backend, token["tokenId"])["payload"]
    assert pay(sdk, newer)["result"]["resultStatus"] == "S"
    stale = pay(sdk, older)
    assert stale["result"]["resultCode"] == "INVALID_CODE" and "not above 2" in stale["result"]["resultMessage"]
    assert balance(backend, token["walletId"]) == 8_750


def test_a_tampered_cryptogram_is_refused_and_leaves_the_counter_alone(sdk, backend, token):
    payload = tap(backend, token["tokenId"])["payload"]
    cryptogram = read_token_presentation(payload).cryptogram
    flipped = bytes([cryptogram[0] ^ 0x01]) + cryptogram[1:]
    refused = pay(sdk, forged(payload, cryptogram=flipped))
    assert refused["result"]["resultCode"] == "INVALID_CODE" and "cryptogram" in refused["result"]["resultMessage"]
    assert balance(backend, token["walletId"]) == 10_000
    assert pay(sdk, payload)["result"]["resultStatus"] == "S"  # the genuine tap of that counter still pays
    assert balance(backend, token["walletId"]) == 8_750


@pytest.mark.parametrize("changes", [
    {"atc": 7},  # a counter raised by hand: the cryptogram was made for 1
    {"expiry": "9912"},  # a later expiry
    {"cryptogram": bytes(8)},
])
def test_a_presentation_changed_after_the_tap_does_not_verify(sdk, backend, token, changes):
    refused = pay(sdk, forged(tap(backend, token["tokenId"])["payload"], **changes))
    assert refused["result"]["resultCode"] == "INVALID_CODE" and "cryptogram (9F26)" in refused["result"]["resultMessage"]
    assert balance(backend, token["walletId"]) == 10_000


def test_a_cryptogram_made_with_another_key_is_refused(sdk, backend, token):
    pan, expiry = token["tokenPan"], token["expiry"]
    wrong = device_token.cryptogram(secrets.token_bytes(16), pan, expiry, 1)
    refused = pay(sdk, token_presentation(TokenPresentation(pan, expiry, 1, wrong, TOKEN_AID)))
    assert refused["result"]["resultCode"] == "INVALID_CODE" and "cryptogram" in refused["result"]["resultMessage"]
    right = device_token.cryptogram(bytes.fromhex(token["key"]), pan, expiry, 1)  # what the phone makes from its key
    assert pay(sdk, token_presentation(TokenPresentation(pan, expiry, 1, right, TOKEN_AID)))["result"]["resultStatus"] == "S"
    assert balance(backend, token["walletId"]) == 8_750


def test_an_unknown_token_pan_is_refused(sdk, backend, token):
    pan = device_token.token_pan("99990002", token["tokenPan"][8:15])  # the token's digits under another BIN
    key = secrets.token_bytes(16)
    payload = token_presentation(TokenPresentation(pan, "3012", 1, device_token.cryptogram(key, pan, "3012", 1), TOKEN_AID))
    refused = pay(sdk, payload)
    assert refused["result"]["resultCode"] == "INVALID_CODE"
    assert refused["result"]["resultMessage"] == f"no device token has PAN {pan[:6]}******{pan[-4:]}"


@pytest.mark.parametrize("payload", [
    "hQVDUFYwMQ==",  # the CPM prefix, no application
    "hQVDUFY!!!",  # not base64
    CUT_SHORT,
    emv_cpm.build([{"aid": "A0000000041010", "pan": "5413330089010434"}]),  # a card, not a token presentation
])
def test_a_payload_that_is_no_presentation_is_an_invalid_code(sdk, backend, token, payload):
    refused = pay(sdk, payload)  # a 500 would raise here: the SDK refuses a non-200 answer
    assert refused["result"]["resultCode"] == "INVALID_CODE"
    assert refused["result"]["resultMessage"].startswith("the device token presentation does not read: ")
    assert balance(backend, token["walletId"]) == 10_000


def test_a_refusal_is_english_whatever_the_merchants_language(sdk, backend, token):
    """The AMS API speaks English: with the terminal in Japanese and its backend embedded in the same process (as the
    TUI runs it), the CodeError of a presentation that does not read answers its English, not its translation."""
    language.use("ja")
    try:
        refused = pay(sdk, CUT_SHORT)
    finally:
        language.use("en")
    assert refused["result"]["resultMessage"] == ("the device token presentation does not read: length 62 runs past the "
                                                  "data (48 bytes left) (tag 61, offset 8)")


def test_a_declined_pay_uses_the_presentation_up(sdk, backend, wallet):
    poor = provision(backend, wallet("SGD", 100))
    payload = tap(backend, poor["tokenId"])["payload"]
    assert pay(sdk, payload)["result"]["resultCode"] == "USER_BALANCE_NOT_ENOUGH"
    assert pay(sdk, payload, "50")["result"]["resultCode"] == "INVALID_CODE"  # as a one-time code is
    assert pay(sdk, tap(backend, poor["tokenId"])["payload"], "50")["result"]["resultStatus"] == "S"
    assert balance(backend, poor["walletId"]) == 50


def test_a_late_success_charges_the_presentation_when_it_completes(sdk, backend, token):
    arm(backend, call="pay", action="late-success", delayMs=200)
    late = pay(sdk, tap(backend, token["tokenId"])["payload"])
    assert late["result"]["resultStatus"] == "U" and balance(backend, token["walletId"]) == 10_000
    status = settled(sdk, late["paymentRequestId"])
    assert (status["paymentStatus"], status["paymentResultCode"]) == ("SUCCESS", "SUCCESS")
    assert balance(backend, token["walletId"]) == 8_750


def test_concurrent_pays_with_one_presentation_charge_once(sdk, backend, token):
    payload = tap(backend, token["tokenId"])["payload"]
    answers: list[dict] = []
    lock = threading.Lock()

    def one() -> None:
        answer = pay(sdk, payload)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    codes = sorted(a["result"]["resultCode"] for a in answers)
    assert codes == ["INVALID_CODE"] * 5 + ["SUCCESS"]
    assert balance(backend, token["walletId"]) == 8_750


def test_an_expired_token_is_an_expired_code(backend, token):
    payload = tap(backend, token["tokenId"])["payload"]
    year, month = device_token.expiry_month(token["expiry"])
    after = datetime(year, month + 1, 1, tzinfo=UTC) if month < 12 else datetime(year + 1, 1, 1, tzinfo=UTC)
    last_day = datetime(year, month, 28, 23, 59, tzinfo=UTC)
    gateway = backend.gateway
    with pytest.raises(Refused) as info, gateway.store.begin() as tx:
        gateway.payments.tokens.take(tx, payload, after)
    assert info.value.code == "EXPIRED_CODE" and f"{token['expiry'][2:]}/{token['expiry'][:2]}" in info.value.detail
    with gateway.store.begin() as tx:  # good through its month; the refusal above moved no counter
        assert gateway.payments.tokens.take(tx, payload, last_day) == token["walletId"]


# --- the /sim routes ---------------------------------------------------------------------------


def test_each_token_is_its_own_and_bound_to_its_wallet(backend, wallet):
    wallet_id = wallet("SGD", 10_000)
    first, second = provision(backend, wallet_id), provision(backend, wallet_id)
    assert first["walletId"] == second["walletId"] == wallet_id
    assert first["tokenId"] != second["tokenId"] and first["tokenPan"] != second["tokenPan"] and first["key"] != second["key"]
    assert tap(backend, first["tokenId"])["atc"] == 1 and tap(backend, second["tokenId"])["atc"] == 1


@pytest.mark.parametrize("wallet_id", ["W-NOBODY", "merchant:SIM_DEMO:SGD", "x" * 2000, "零", "%00", " "])
def test_provisioning_for_no_wallet_is_a_404_that_says_so(backend, wallet_id):
    answer = requests.post(f"{backend.url}/sim/wallets/{quote(wallet_id, safe='')}/device-token", timeout=10)
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "USER_NOT_EXIST" and error["message"].startswith("no wallet ")


@pytest.mark.parametrize("token_id", ["T-NOBODY", "x" * 2000, "零", "%00", "' OR 1=1 --"])
def test_tapping_no_token_is_a_404_that_says_so(backend, token_id):
    answer = requests.post(f"{backend.url}/sim/device-tokens/{quote(token_id, safe='')}/tap", timeout=10)
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == {"code": "USER_NOT_EXIST", "message": f"no device token {token_id}"}


def test_other_methods_and_bodies_on_the_routes_are_4xx_or_ignored(backend, token):
    for url in (f"{backend.url}/sim/wallets/{token['walletId']}/device-token", f"{backend.url}/sim/device-tokens/{token['tokenId']}/tap"):
        wrong = requests.get(url, timeout=10)
        assert wrong.status_code == 405 and wrong.json()
    garbage = requests.post(f"{backend.url}/sim/device-tokens/{token['tokenId']}/tap", data=b"\xff{not json", timeout=10,
                            headers={"Content-Type": "application/json"})
    assert garbage.status_code == 200 and garbage.json()["atc"] == 1  # the route takes no body
    assert requests.post(f"{backend.url}/sim/device-tokens//tap", timeout=10).status_code == 404


def test_the_routes_are_in_the_openapi_document(backend):
    paths = requests.get(f"{backend.url}/sim/openapi.json", timeout=10).json()["paths"]
    provision_route = paths["/sim/wallets/{wallet_id}/device-token"]["post"]
    tap_route = paths["/sim/device-tokens/{token_id}/tap"]["post"]
    assert "201" in provision_route["responses"] and "device token" in provision_route["summary"]
    assert "presentation" in tap_route["summary"]
