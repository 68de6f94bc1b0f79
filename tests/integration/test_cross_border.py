"""Cross-border payments: a wallet in one currency pays a merchant in another at a quoted rate; the
merchant is settled in settlementStrategy.settlementCurrency; refunds give the wallet back what it paid."""

import json
import uuid

import requests

from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.model.settlement_strategy import SettlementStrategy
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from tests.integration.conftest import balance, payment_code
from tests.integration.test_official_sdk import pay_request, sdk  # noqa: F401  (sdk is a fixture)

RATES = {"base": "USD", "rates": {"USD": "1", "SGD": "1.25", "THB": "35", "JPY": "150"}}


def refund(sdk, payment_id, value, currency="THB"):
    request = AlipayRefundRequest()
    request.refund_request_id = uuid.uuid4().hex
    request.payment_id = payment_id
    request.refund_amount = Amount(currency, value)
    return json.loads(sdk.execute(request))


def ledger(backend):
    """Every account's balance, from the running backend's store."""
    with backend.gateway.store.begin() as tx:
        return {account.id: account.balance for account in tx.accounts()}, tx.trial_balance()


def test_a_singapore_wallet_pays_a_thai_merchant_and_gets_back_exactly_what_it_paid(sdk, backend, wallet):
    assert requests.put(f"{backend.url}/sim/fx-rates", json=RATES, timeout=10).json()["rates"]["THB"] == "35"
    customer = wallet("SGD", 10_000)
    paid = json.loads(sdk.execute(pay_request(payment_code(backend, customer), "100000", "THB")))  # THB 1,000.00
    assert paid["result"]["resultStatus"] == "S", paid
    assert paid["paymentAmount"] == {"currency": "THB", "value": "100000"}
    assert paid["customerPayAmount"] == {"currency": "SGD", "value": "3571"}  # 1000 / 28 = 35.714... half up
    assert paid["paymentQuote"]["quoteCurrencyPair"] == "THB/SGD"
    assert paid["paymentQuote"]["quotePrice"] == "0.03571429"
    assert balance(backend, customer) == 10_000 - 3571
    query = AlipayPayQueryRequest()
    query.payment_id = paid["paymentId"]
    assert json.loads(sdk.execute(query))["customerPayAmount"] == {"currency": "SGD", "value": "3571"}

    shares = [refund(sdk, paid["paymentId"], value) for value in ("33333", "33333", "33334")]
    assert [r.get("customerRefundAmount") for r in shares] == [
        {"currency": "SGD", "value": "1190"}, {"currency": "SGD", "value": "1190"}, {"currency": "SGD", "value": "1191"}]
    assert balance(backend, customer) == 10_000  # the last share is what was left: not a cent more or less
    accounts, trial = ledger(backend)
    assert accounts["merchant:SIM_DEMO:THB"] == 0 and set(trial.values()) == {0}


def test_settlement_strategy_credits_the_merchant_in_its_currency(sdk, backend, wallet):
    requests.put(f"{backend.url}/sim/fx-rates", json=RATES, timeout=10)
    customer = wallet("JPY", 100_000)
    request = pay_request(payment_code(backend, customer), "35000", "THB")  # THB 350.00
    request.settlement_strategy = SettlementStrategy()
    request.settlement_strategy.settlement_currency = "USD"
    paid = json.loads(sdk.execute(request))
    assert paid["customerPayAmount"] == {"currency": "JPY", "value": "1500"}
    assert paid["grossSettlementAmount"] == {"currency": "USD", "value": "1000"}
    assert paid["settlementQuote"]["quoteCurrencyPair"] == "THB/USD"
    accounts, trial = ledger(backend)
    assert accounts["merchant:SIM_DEMO:USD"] == 1000 and accounts["fx:JPY"] == 1500 and accounts["fx:USD"] == -1000
    assert set(trial.values()) == {0}

    cancel = AlipayPayCancelRequest()
    cancel.payment_id = paid["paymentId"]
    assert json.loads(sdk.execute(cancel))["result"]["resultStatus"] == "S"
    accounts, _ = ledger(backend)
    assert balance(backend, customer) == 100_000 and accounts["merchant:SIM_DEMO:USD"] == 0 and accounts["fx:JPY"] == 0


def test_currencies_without_a_rate_are_refused(sdk, backend, wallet):
    requests.put(f"{backend.url}/sim/fx-rates", json=RATES, timeout=10)
    customer = wallet("KWD", 10_000)
    declined = json.loads(sdk.execute(pay_request(payment_code(backend, customer), "1250", "SGD")))
    assert declined["result"]["resultCode"] == "CURRENCY_NOT_SUPPORT" and "KWD" in declined["result"]["resultMessage"]
    request = pay_request(payment_code(backend, wallet("SGD")), "1250", "SGD")
    request.settlement_strategy = SettlementStrategy()
    request.settlement_strategy.settlement_currency = "XXX"
    assert json.loads(sdk.execute(request))["result"]["resultCode"] == "CURRENCY_NOT_SUPPORT"
    assert balance(backend, customer) == 10_000


def test_bad_rate_tables_are_refused_and_change_nothing(backend):
    before = requests.get(f"{backend.url}/sim/fx-rates", timeout=10).json()
    for table, words in [
        ({"base": "USD", "rates": {"SGD": "-1"}}, "SGD"),
        ({"base": "USD", "rates": {"USD": "2"}}, "base currency USD"),
        ({"base": "USD", "rates": {"SGD": "abc"}}, "not a number"),
        ({"base": "ZZZ", "rates": {}}, "ZZZ"),
        ({"base": "USD", "rates": {"SGD": 1.34}}, "rates.SGD"),
    ]:
        answer = requests.put(f"{backend.url}/sim/fx-rates", json=table, timeout=10)
        assert answer.status_code == 400 and words in answer.json()["error"]["message"], answer.json()
    assert requests.get(f"{backend.url}/sim/fx-rates", timeout=10).json() == before
