"""SQLite's shared commit as the edge makes it: AMS calls the event loop reads while a group waits join its commit."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

from pos_sim.backend.edge.app import create_app
from pos_sim.backend.server import open_gateway
from pos_sim.domain import ams_signature

PAY_PATH = "/ams/api/v1/payments/pay"


def _signed_pay(key: Any, code: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps({
        "productCode": "IN_STORE_PAYMENT",
        "paymentRequestId": uuid.uuid4().hex,
        "paymentAmount": {"currency": "SGD", "value": "100"},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
        "paymentFactor": {"inStorePaymentScenario": "PaymentCode"},
    }).encode()
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    signature = ams_signature.signature_header(ams_signature.sign(key, "POST", PAY_PATH, "SIM_DEMO", at, body))
    return body, [(b"client-id", b"SIM_DEMO"), (b"request-time", at.encode()), (b"signature", signature.encode())]


async def _ask(edge: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """One AMS call through the edge's ASGI interface; the answer's JSON."""
    scope = {"type": "http", "method": "POST", "path": PAY_PATH, "headers": headers, "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await edge(scope, receive, send)
    return json.loads(sent[-1]["body"])


def test_a_pay_read_while_a_group_waits_joins_its_commit(tmp_path: Path) -> None:
    """A pay read on a later turn of the loop, while the group of a pay answered before it waits for its commit,
    joins that group: one commit for both (each commit is an fsync), and both answered SUCCESS once it is made."""
    gateway = open_gateway(tmp_path)
    store = gateway.store
    edge = create_app(gateway)
    key = ams_signature.load_private_key((tmp_path / "keys" / "SIM_DEMO_private.pem").read_text())
    wallet = gateway.wallets.open("SGD", 10_000, "Alice")["walletId"]
    first, second = (_signed_pay(key, gateway.wallets.payment_code(wallet)["code"]) for _ in range(2))
    commits: list[int] = []  # how many calls each commit of a group made durable
    commit = store.commit_group

    def counted() -> Any:
        if joined := store.joined():
            commits.append(joined)
        return commit()

    store.commit_group = counted  # type: ignore[method-assign]

    async def pays() -> list[dict[str, Any]]:
        answered_first = asyncio.create_task(_ask(edge, *first))
        await asyncio.sleep(0)  # the first pay is answered, and waits for its group's commit
        assert store.joined() == 1 and commits == []
        answered_second = asyncio.create_task(_ask(edge, *second))  # read on the loop's next turn
        return [await answered_first, await answered_second]

    try:
        answers = asyncio.run(pays())
        assert [answer["result"]["resultCode"] for answer in answers] == ["SUCCESS", "SUCCESS"]
        assert commits == [2]
        with store.begin() as tx:
            assert tx.account(wallet).balance == 9_800 and tx.trial_balance() == {"SGD": 0}
    finally:
        store.close()
