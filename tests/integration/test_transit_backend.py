"""Transit on the wallet side against the real backend on a loopback port (docs/transit-api.md): ride codes
verified with the key ring a gate fetches (its answer's signature checked with the gateway's key from the
data dir), rotation and revocation, taps uploaded idempotently and whole, and clearing: hand-computed
metro fares (pos_sim/assets/transit/README.md) with the daily cap and the max fare, charged once, debts and the
deny list."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from pos_sim.backend.store import keys
from pos_sim.backend.server import DEMO_CLIENT_ID
from pos_sim.domain import ams_signature
from pos_sim.domain.codes import ride
from tests.integration.conftest import balance


class Gate:
    """A gate's calls to the backend: signed with the operator's (the demo merchant's) key, every answer
    verified with the gateway's public key from the data dir, as pos_sim/terminal/gateway.py does."""

    def __init__(self, backend, data_dir, client_id: str = DEMO_CLIENT_ID) -> None:
        self.url = backend.url
        self.client_id = client_id
        self.private_key = keys.read_private_key(data_dir / "keys" / f"{client_id}_private.pem")
        self.gateway_key = keys.read_public_key(data_dir / "keys" / "gateway_public.pem")

    def call(self, method: str, path: str, body: bytes = b"", *, signature: str | None = None) -> requests.Response:
        at = datetime.now(UTC).isoformat()
        signed = signature or ams_signature.sign(self.private_key, method, path, self.client_id, at, body)
        headers = {"client-id": self.client_id, "request-time": at, "signature": ams_signature.signature_header(signed),
                   "content-type": "application/json"}
        answer = requests.request(method, self.url + path, data=body, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        _algorithm, _version, value = ams_signature.parse_signature_header(answer.headers["signature"])
        assert answer.headers["client-id"] == self.client_id
        assert ams_signature.verify(self.gateway_key, method, path, answer.headers["client-id"],
                                    answer.headers["response-time"], answer.content, value), "the answer's signature"
        return answer

    def keyring(self) -> ride.KeyRing:
        return ride.KeyRing.from_json(self.call("GET", "/transit/keyring").content)

    def upload(self, taps: list[dict], gate_id: str = "G1") -> dict:
        return self.call("POST", "/transit/taps", json.dumps({"gateId": gate_id, "taps": taps}).encode()).json()


@pytest.fixture
def gate(backend, data_dir) -> Gate:
    return Gate(backend, data_dir)


def ride_code(backend, wallet_id: str, companions: int = 0) -> dict:
    answer = requests.post(f"{backend.url}/sim/wallets/{wallet_id}/ride-code", json={"companions": companions}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def sim(backend, method: str, path: str, **kwargs) -> dict:
    answer = requests.request(method, f"{backend.url}{path}", timeout=60, **kwargs)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def clear(backend) -> dict:
    return sim(backend, "POST", "/sim/transit/clear")


def tap(code: dict, direction: str, at: str, station: str, **changes) -> dict:
    """A tap the gates of the metro would upload: ``at`` local time in Singapore (+08:00) on ``at``'s day."""
    return {"tapId": str(uuid.uuid4()), "stationId": station, "gateId": f"{station}-G1", "direction": direction,
            "at": at if "+" in at or at.endswith("Z") else at + "+08:00", "code": code["code"], "account": code["account"],
            "decision": "open", "reason": "ok"} | changes


def trip(code: dict, day: str, entry: tuple[str, str], exit_: tuple[str, str] | None) -> list[dict]:
    """A tap-in at station entry[0] at entry[1] on ``day``, and a tap-out likewise (None: none)."""
    taps = [tap(code, "in", f"{day}T{entry[1]}:00", entry[0])]
    if exit_ is not None:
        taps.append(tap(code, "out", f"{day}T{exit_[1]}:00", exit_[0]))
    return taps


def fares_of(backend, wallet_id: str) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """The wallet's fare postings, oldest first: (memo, amount, its journeys as (summary and cap, what it costs))."""
    history = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["history"]
    return [(h["memo"], h["amount"], [(line["summary"] + (f" (capped: {line['cappedBy']})" if line["cappedBy"] else ""),
                                       int(line["amount"]["value"])) for line in h["journeys"]])
            for h in reversed(history) if h["kind"].startswith("fare")]


def journeys_of(backend, wallet_id: str) -> list[tuple[str, int]]:
    """The journeys of the wallet's fare postings, oldest posting first: (summary and cap, what it costs)."""
    return [line for _memo, _amount, lines in fares_of(backend, wallet_id) for line in lines]


# --- ride codes and the key ring ---------------------------------------------------------------------------


def test_a_ride_code_verifies_with_the_key_ring_a_gate_fetches(backend, gate, wallet):
    wallet_id = wallet()
    first = ride_code(backend, wallet_id)
    second = ride_code(backend, wallet_id, companions=2)
    ring = gate.keyring()
    now = datetime.now(UTC)
    for answer in (first, second):
        signed = ride.read(answer["code"])
        assert ride.verify(signed, ring.keys, now).ok
        assert ring.deny.check(signed).ok
        assert signed.code.account.hex() == answer["account"] and signed.code.key_id == answer["keyId"]
        assert signed.code.valid_s <= 60
    assert first["account"] == second["account"]  # the wallet's account token is stable
    assert (ride.read(first["code"]).code.sequence, ride.read(second["code"]).code.sequence) == (1, 2)
    assert ride.read(second["code"]).code.companions == 2
    assert [key.key_id for key in ring.keys.keys] == [first["keyId"]] and not ring.keys.revoked
    other = ride_code(backend, wallet())
    assert other["account"] != first["account"]


def test_a_ride_code_for_an_unknown_wallet_is_404(backend):
    answer = requests.post(f"{backend.url}/sim/wallets/WNOSUCHWALLET/ride-code", json={}, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"] == {"code": "USER_NOT_EXIST", "message": "no wallet WNOSUCHWALLET"}
    answer = requests.post(f"{backend.url}/sim/wallets/WNOSUCHWALLET/ride-code", json={"companions": 10}, timeout=10)
    assert answer.status_code == 400 and "companions" in answer.json()["error"]["message"]


def test_rotation_overlaps_and_revocation_shows_in_the_key_ring(backend, gate, wallet):
    wallet_id = wallet()
    old = ride_code(backend, wallet_id)
    rotated = sim(backend, "POST", "/sim/transit/keys", json={"overlapSeconds": 600})
    new_id, old_id = rotated["key"]["keyId"], rotated["previous"]["keyId"]
    assert (old_id, new_id) == (old["keyId"], old["keyId"] + 1)
    ring = gate.keyring()
    old_key, new_key = ring.keys.get(old_id), ring.keys.get(new_id)
    overlap = (old_key.not_after - new_key.not_before).total_seconds()
    assert overlap == 600  # the old key's window ends 10 minutes after the new one's opens
    new = ride_code(backend, wallet_id)
    assert new["keyId"] == new_id  # the issuer signs with the new key at once
    now = datetime.now(UTC)
    assert ride.verify(ride.read(old["code"]), ring.keys, now).ok  # and codes of the old one still pass
    assert ride.verify(ride.read(new["code"]), ring.keys, now).ok
    listed = sim(backend, "GET", "/sim/transit/keys")
    assert listed["current"] == new_id and [k["keyId"] for k in listed["keys"]] == [old_id, new_id]

    revoked = sim(backend, "POST", f"/sim/transit/keys/{old_id}/revoke")
    assert revoked["key"]["revoked"] and revoked["revokedNow"]
    ring = gate.keyring()
    assert ring.keys.revoked == {old_id}
    assert ride.verify(ride.read(old["code"]), ring.keys, now).reason is ride.Reason.REVOKED_KEY
    assert ride.verify(ride.read(new["code"]), ring.keys, now).ok
    sim(backend, "POST", f"/sim/transit/keys/{new_id}/revoke")  # no usable key left: the next code makes one
    third = ride_code(backend, wallet_id)
    assert third["keyId"] == new_id + 1
    assert ride.verify(ride.read(third["code"]), gate.keyring().keys, datetime.now(UTC)).ok
    answer = requests.post(f"{backend.url}/sim/transit/keys/999/revoke", timeout=10)
    assert answer.status_code == 404 and "999" in answer.json()["error"]["message"]


def test_signed_calls_refuse_a_bad_signature_and_an_unknown_operator(backend, gate, data_dir):
    forged = ams_signature.sign(gate.private_key, "GET", "/transit/other", gate.client_id, "2025-01-01T00:00:00Z", b"")
    answer = gate.call("GET", "/transit/keyring", signature=forged).json()
    assert answer["result"]["resultCode"] == "INVALID_SIGNATURE" and "keys" not in answer
    stranger = Gate(backend, data_dir)
    stranger.client_id = "NO_SUCH_OPERATOR"
    assert stranger.call("GET", "/transit/keyring").json()["result"]["resultCode"] == "INVALID_CLIENT"


# --- taps ------------------------------------------------------------------------------------------------------


def test_taps_uploaded_twice_are_accepted_once(backend, gate, wallet):
    code = ride_code(backend, wallet())
    taps = trip(code, "2025-03-03", ("M01", "08:00"), ("M12", "08:40")) + [
        tap(code, "in", "2025-03-03T09:00:00", "M03", decision="deny", reason="expired")]
    assert gate.upload(taps) == {"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "Success"},
                                 "accepted": 3, "duplicates": 0, "refused": []}
    again = gate.upload(taps)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    more = trip(code, "2025-03-03", ("M02", "12:00"), ("M03", "12:10"))
    answer = gate.upload(taps[:1] + more + more[:1])  # one seen before, two new, one repeated within the batch
    assert (answer["accepted"], answer["duplicates"]) == (2, 2)
    cleared = clear(backend)
    assert cleared["taps"] == 4 and cleared["journeys"] == 2  # the denied tap is stored, not charged


def test_a_tap_whose_id_is_another_taps_is_refused_and_the_rest_of_its_batch_kept(backend, gate, wallet):
    code = ride_code(backend, wallet())
    first = trip(code, "2025-03-03", ("M01", "08:00"), ("M12", "08:40"))
    assert gate.upload(first)["accepted"] == 2
    fresh = trip(code, "2025-03-03", ("M02", "12:00"), ("M03", "12:10"))
    changed = dict(first[1], stationId="M11")  # the same tapId, another station
    answer = gate.upload(fresh + [changed])
    assert answer["result"]["resultCode"] == "SUCCESS" and (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert answer["refused"] == [{"index": 2, "tapId": first[1]["tapId"],
                                  "reason": f"taps[2] (tapId {first[1]['tapId']}): uploaded before with other content"}]
    later = trip(code, "2025-03-03", ("M04", "14:00"), ("M05", "14:10"))
    twice = gate.upload(later + [dict(later[0], at="2025-03-03T14:01:00+08:00")])  # inconsistent within the batch
    assert twice["accepted"] == 2 and [r["index"] for r in twice["refused"]] == [2]
    assert "in this batch before, with other content" in twice["refused"][0]["reason"]
    assert gate.upload(fresh + later) == {"result": twice["result"], "accepted": 0, "duplicates": 4, "refused": []}
    assert clear(backend)["journeys"] == 3


@pytest.mark.parametrize(("change", "where"), [
    ({"at": "2025-03-03T08:00:00"}, "taps[1] (tapId {id}).at"),
    ({"direction": "sideways"}, "taps[1] (tapId {id}).direction"),
    ({"reason": "because"}, "taps[1] (tapId {id}).reason"),
    ({"account": "00" * 16}, "taps[1] (tapId {id}).account"),
    ({"code": "RC1:NOT A CODE"}, "taps[1] (tapId {id}).code"),
    ({"tapId": "G1-42"}, "taps[1].tapId"),
    ({"extra": 1}, "taps[1]: unknown member 'extra'"),
    ({"stationId": "X99"}, "taps[1] (tapId {id}).stationId: 'X99' is not a station of the network"),
    ({"at": "2099-03-03T08:00:00+08:00"}, "taps[1] (tapId {id}).at: 2099-03-03T08:00:00+08:00 is ahead of the backend's clock"),
    ({"decision": ["open"]}, "taps[1] (tapId {id}).decision"),
])
def test_a_tap_with_a_bad_field_is_refused_with_its_reason_and_the_rest_kept(backend, gate, wallet, change, where):
    code = ride_code(backend, wallet())
    taps = trip(code, "2025-03-03", ("M01", "08:00"), ("M12", "08:40")) + trip(code, "2025-03-03", ("M02", "12:00"), None)
    tap_id = taps[1]["tapId"]
    taps[1] = taps[1] | change
    answer = gate.upload(taps)
    assert answer["result"]["resultCode"] == "SUCCESS" and (answer["accepted"], answer["duplicates"]) == (2, 0)
    [refused] = answer["refused"]
    assert refused["index"] == 1 and refused["tapId"] == taps[1]["tapId"]
    assert refused["reason"].startswith(where.format(id=tap_id)), refused
    assert gate.upload(taps[:1])["duplicates"] == 1  # the others were stored


def test_a_batch_holds_at_most_1000_taps(backend, gate, wallet):
    code = ride_code(backend, wallet())
    answer = gate.upload([tap(code, "in", "2025-03-03T08:00:00", "M01") for _ in range(1001)])
    assert answer["result"]["resultCode"] == "PARAM_ILLEGAL" and "at most 1000" in answer["result"]["resultMessage"]
    assert gate.upload([tap(code, "in", "2025-03-03T08:00:00", "M01") for _ in range(1000)])["accepted"] == 1000


# --- clearing --------------------------------------------------------------------------------------------------


MONDAY = "2025-03-03"
TUESDAY = "2025-03-04"


def test_clearing_charges_the_metro_fares_with_the_daily_cap_and_the_max_fare(backend, gate, wallet):
    wallet_id = wallet(balance=10_000)
    code = ride_code(backend, wallet_id)
    taps = (
        trip(code, MONDAY, ("M01", "08:00"), ("M12", "08:40"))  # Z1 -> Z3 at peak: 2.70
        + trip(code, MONDAY, ("M02", "11:00"), ("M10", "11:45"))  # Z1 -> Z3 off-peak: 2.20
        + trip(code, MONDAY, ("M03", "18:00"), ("M11", "18:50"))  # Z1 -> Z3 peak, 2.70: the day's cap leaves 1.10
        + trip(code, MONDAY, ("M05", "20:00"), ("M06", "20:15"))  # Z2 -> Z2 off-peak, 1.20: capped to 0
        + trip(code, MONDAY, ("M01", "21:00"), None)  # no tap-out: the max fare, 3.20, never capped
        + trip(code, TUESDAY, ("M01", "07:30"), ("M04", "07:45"))  # a new service day: Z1 -> Z1 peak, 1.50
    )
    gate.upload(taps[5:])
    gate.upload(taps[:5])  # batches in any order
    cleared = clear(backend)
    assert cleared["taps"] == 11 and cleared["journeys"] == 6 and cleared["accounts"] == 1
    assert cleared["charged"] == {"currency": "SGD", "value": "1070"}
    assert cleared["indebted"] == [] and cleared["errors"] == []
    assert balance(backend, wallet_id) == 10_000 - 1070
    assert fares_of(backend, wallet_id) == [(f"fares {MONDAY}: 1 journey", 0, [  # capped to nothing: no posting, a line of 0
        (f"{MONDAY} M05 20:00 -> M06 20:15 (capped: metro_day)", 0),
    ]), (f"fares {MONDAY} to {TUESDAY}: 5 journeys", -1070, [  # one posting
        (f"{MONDAY} M01 08:00 -> M12 08:40", 270),
        (f"{MONDAY} M02 11:00 -> M10 11:45", 220),
        (f"{MONDAY} M03 18:00 -> M11 18:50 (capped: metro_day)", 110),
        (f"{MONDAY} M01 21:00 -> no tap-out (maximum fare: no tap-out within 3 h)", 320),
        (f"{TUESDAY} M01 07:30 -> M04 07:45", 150),
    ])]
    merchant = sim(backend, "GET", "/sim/merchants")  # the operator was paid what the wallet paid
    assert any(m["clientId"] == DEMO_CLIENT_ID for m in merchant["merchants"])

    again = clear(backend)  # a second clearing charges nothing more
    assert (again["taps"], again["journeys"], again["charged"]["value"], again["accounts"]) == (0, 0, "0", 0)
    assert balance(backend, wallet_id) == 10_000 - 1070

    # a journey uploaded late, early on Monday (Z1 -> Z2 off-peak, 1.70): Monday is priced again, still capped
    # at 6.00 (2.70 + 2.20 + 1.10 before; now 1.70 + 2.70 + 1.60, the rest free): the difference only
    gate.upload(trip(code, MONDAY, ("M01", "06:00"), ("M05", "06:30")))
    late = clear(backend)
    assert late["taps"] == 2 and late["journeys"] == 3
    assert (late["charged"]["value"], late["refunded"]["value"]) == ("170", "170")
    assert balance(backend, wallet_id) == 10_000 - 1070
    assert fares_of(backend, wallet_id)[2:] == [  # the refunds first; each journey under the posting that paid it last
        (f"fare refunds {MONDAY}: 2 journeys", 170, [(f"{MONDAY} M02 11:00 -> M10 11:45 (capped: metro_day)", 160),
                                                      (f"{MONDAY} M03 18:00 -> M11 18:50 (capped: metro_day)", 0)]),
        (f"fares {MONDAY}: 1 journey", -170, [(f"{MONDAY} M01 06:00 -> M05 06:30", 170)]),
    ]
    assert fares_of(backend, wallet_id)[0][2] == [(f"{MONDAY} M05 20:00 -> M06 20:15 (capped: metro_day)", 0)]  # still free
    assert [summary for summary, _cost in fares_of(backend, wallet_id)[1][2]] == [
        f"{MONDAY} M01 08:00 -> M12 08:40", f"{MONDAY} M01 21:00 -> no tap-out (maximum fare: no tap-out within 3 h)",
        f"{TUESDAY} M01 07:30 -> M04 07:45"]
    assert clear(backend)["charged"]["value"] == "0"


def test_a_nights_journeys_are_one_posting_listing_each_journey_with_its_amount_and_why(backend, gate, wallet):
    wallet_id = wallet(balance=10_000)
    alone, for_two = ride_code(backend, wallet_id), ride_code(backend, wallet_id, companions=1)
    gate.upload(trip(alone, MONDAY, ("M01", "08:00"), ("M12", "08:40"))  # Z1 -> Z3 at peak: 2.70
                + trip(for_two, MONDAY, ("M01", "10:00"), ("M02", "10:10"))  # Z1 -> Z1 off-peak, 1.20 each
                + [tap(alone, "out", f"{MONDAY}T14:00:00", "M04")])  # no tap-in: the maximum fare, 3.20
    assert clear(backend)["charged"]["value"] == "830"
    history = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["history"]
    fares = [entry for entry in history if entry["kind"] == "fare"]
    assert [(entry["memo"], entry["amount"], entry["ref"]) for entry in fares] == [
        (f"fares {MONDAY}: 3 journeys", -830, alone["account"])]
    assert [(line["summary"], line["riders"], line["amount"], line["cappedBy"]) for line in fares[0]["journeys"]] == [
        (f"{MONDAY} M01 08:00 -> M12 08:40", 1, {"currency": "SGD", "value": "270"}, None),
        (f"{MONDAY} M01 10:00 -> M02 10:10 (2 riders)", 2, {"currency": "SGD", "value": "240"}, None),
        (f"{MONDAY} no tap-in -> M04 14:00 (maximum fare: no tap-in)", 1, {"currency": "SGD", "value": "320"}, None),
    ]
    assert history[0] == fares[0] and balance(backend, wallet_id) == 10_000 - 830


def test_a_wallet_that_can_pay_some_journeys_gets_a_posting_of_those_and_owes_the_rest(backend, gate, wallet):
    wallet_id = wallet(balance=400)
    code = ride_code(backend, wallet_id)
    gate.upload(trip(code, MONDAY, ("M01", "08:00"), ("M12", "08:40"))  # 2.70: paid, 1.30 left
                + trip(code, MONDAY, ("M02", "11:00"), ("M10", "11:45"))  # 2.20: not enough, owed
                + trip(code, MONDAY, ("M05", "20:00"), ("M06", "20:15")))  # 1.20, the day's cap leaves 1.10: paid
    cleared = clear(backend)
    assert cleared["charged"]["value"] == "380" and cleared["indebted"] == [code["account"]]
    assert fares_of(backend, wallet_id) == [(f"fares {MONDAY}: 2 journeys", -380, [
        (f"{MONDAY} M01 08:00 -> M12 08:40", 270), (f"{MONDAY} M05 20:00 -> M06 20:15 (capped: metro_day)", 110)])]
    shown = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["transit"]
    assert [(j["summary"], j["amount"]["value"], j["paid"]["value"]) for j in shown["unpaidJourneys"]] == [
        (f"{MONDAY} M02 11:00 -> M10 11:45", "220", "0")]
    assert shown["debt"]["owed"] == {"currency": "SGD", "value": "220"} and balance(backend, wallet_id) == 20
    sim(backend, "POST", f"/sim/wallets/{wallet_id}/top-up", json={"amount": 500})
    assert clear(backend)["settled"] == [code["account"]]
    assert fares_of(backend, wallet_id)[1:] == [(f"fares {MONDAY}: 1 journey", -220, [(f"{MONDAY} M02 11:00 -> M10 11:45", 220)])]


def test_a_journey_without_a_tap_in_or_a_tap_out_pays_the_max_fare_and_the_history_says_why(backend, gate, wallet):
    wallet_id = wallet()
    code = ride_code(backend, wallet_id)
    gate.upload([
        tap(code, "in", f"{MONDAY}T10:00:00", "M01"),  # another tap-in follows: no tap-out, 3.20
        tap(code, "in", f"{MONDAY}T10:30:00", "M02"),  # a tap-out 3 h 1 min later: no tap-out, 3.20...
        tap(code, "out", f"{MONDAY}T13:31:00", "M03"),  # ...and that tap-out has no tap-in: 3.20
        tap(code, "out", f"{MONDAY}T14:00:00", "M04"),  # no tap-in: 3.20
    ])
    cleared = clear(backend)
    assert cleared["journeys"] == 4 and cleared["charged"]["value"] == "1280"  # max fares count towards no cap
    assert fares_of(backend, wallet_id) == [(f"fares {MONDAY}: 4 journeys", -1280, [
        (f"{MONDAY} M01 10:00 -> no tap-out (maximum fare: no tap-out within 3 h)", 320),
        (f"{MONDAY} M02 10:30 -> no tap-out (maximum fare: no tap-out within 3 h)", 320),
        (f"{MONDAY} no tap-in -> M03 13:31 (maximum fare: no tap-in)", 320),
        (f"{MONDAY} no tap-in -> M04 14:00 (maximum fare: no tap-in)", 320),
    ])]
    assert clear(backend)["charged"]["value"] == "0"


def test_a_code_shown_again_at_another_gate_is_counted_as_a_replay_not_charged_as_a_journey(backend, gate, wallet):
    wallet_id = wallet()
    code = ride_code(backend, wallet_id)
    first = trip(code, MONDAY, ("M01", "10:00"), ("M02", "10:10"))  # Z1 -> Z1 off-peak, 1.20
    again = tap(code, "in", f"{MONDAY}T10:00:30", "M03")  # the same code at another station's gate, offline: opened
    gate.upload([*first, again])
    cleared = clear(backend)
    assert (cleared["journeys"], cleared["replays"], cleared["charged"]["value"]) == (1, 1, "120")
    assert journeys_of(backend, wallet_id) == [(f"{MONDAY} M01 10:00 -> M02 10:10", 120)]


def test_companions_are_capped_as_riders_of_their_own(backend, gate, wallet):
    wallet_id = wallet()
    alone, for_two = ride_code(backend, wallet_id), ride_code(backend, wallet_id, companions=1)
    gate.upload(trip(for_two, MONDAY, ("M01", "10:00"), ("M02", "10:10")))  # Z1 -> Z1 off-peak, 1.20 each
    assert clear(backend)["charged"]["value"] == "240"
    gate.upload(trip(alone, MONDAY, ("M01", "11:00"), ("M12", "11:50"))  # Z1 -> Z3 off-peak, 2.20: the holder's 3.40
                + trip(alone, MONDAY, ("M12", "12:00"), ("M01", "12:50")))  # 2.20: 5.60
    assert clear(backend)["charged"]["value"] == "440"
    gate.upload(trip(for_two, MONDAY, ("M01", "18:00"), ("M12", "18:50")))  # Z1 -> Z3 peak, 2.70 each
    assert clear(backend)["charged"]["value"] == "310"  # the holder's day cap leaves 0.40; the companion pays 2.70
    assert fares_of(backend, wallet_id)[-1] == (f"fares {MONDAY}: 1 journey", -310, [
        (f"{MONDAY} M01 18:00 -> M12 18:50 (2 riders) (capped: metro_day)", 310)])


def test_a_wallet_that_cannot_pay_goes_into_debt_and_onto_the_deny_list_until_funded(backend, gate, wallet):
    wallet_id = wallet(balance=250)
    code = ride_code(backend, wallet_id)
    gate.upload(trip(code, MONDAY, ("M05", "10:00"), ("M06", "10:10"))  # 1.20: paid
                + trip(code, MONDAY, ("M01", "12:00"), ("M12", "12:50")))  # 2.20: 1.30 left, not enough
    cleared = clear(backend)
    assert cleared["charged"]["value"] == "120" and cleared["indebted"] == [code["account"]]
    assert balance(backend, wallet_id) == 130  # nothing of the unpaid fare was taken, no balance below zero
    shown = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["transit"]
    assert shown["denied"] and shown["causes"] == ["debt"]
    assert shown["debt"]["owed"] == {"currency": "SGD", "value": "220"}
    assert [(j["summary"], j["amount"]["value"], j["paid"]["value"]) for j in shown["unpaidJourneys"]] == [
        (f"{MONDAY} M01 12:00 -> M12 12:50", "220", "0")]
    ring = gate.keyring()
    signed = ride.read(ride_code(backend, wallet_id)["code"])
    assert ride.verify(signed, ring.keys, datetime.now(UTC)).ok  # the code is genuine...
    assert ring.deny.check(signed).reason is ride.Reason.DENIED_ACCOUNT  # ...but the account is denied
    assert sim(backend, "DELETE", f"/sim/transit/deny/{code['account']}")["causes"] == ["debt"]  # not lifted by admin

    again = clear(backend)  # still too poor: nothing moves, still owed
    assert again["charged"]["value"] == "0" and again["indebted"] == [code["account"]]
    sim(backend, "POST", f"/sim/wallets/{wallet_id}/top-up", json={"amount": 500})
    settled = clear(backend)
    assert settled["charged"]["value"] == "220" and settled["settled"] == [code["account"]] and settled["indebted"] == []
    assert balance(backend, wallet_id) == 130 + 500 - 220
    shown = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["transit"]
    assert not shown["denied"] and shown["debt"] is None and shown["unpaidJourneys"] == []
    assert code["account"] not in {a.hex() for a in gate.keyring().deny.accounts}
    assert clear(backend)["accounts"] == 0


def test_the_admin_deny_list_shows_in_the_key_ring(backend, gate, wallet):
    account = ride_code(backend, wallet())["account"]
    assert sim(backend, "POST", "/sim/transit/deny", json={"account": account}) == {
        "account": account, "denied": True, "causes": ["admin"]}
    assert bytes.fromhex(account) in gate.keyring().deny
    assert not sim(backend, "DELETE", f"/sim/transit/deny/{account}")["denied"]
    assert bytes.fromhex(account) not in gate.keyring().deny
    answer = requests.post(f"{backend.url}/sim/transit/deny", json={"account": "xyz"}, timeout=10)
    assert answer.status_code == 400 and "account" in answer.json()["error"]["message"]


def test_a_wallet_in_another_currency_is_an_error_not_a_charge(backend, gate, wallet):
    wallet_id = wallet(currency="THB", balance=100_000)
    code = ride_code(backend, wallet_id)
    gate.upload(trip(code, MONDAY, ("M01", "10:00"), ("M02", "10:10")))
    cleared = clear(backend)
    assert cleared["charged"]["value"] == "0" and cleared["indebted"] == []
    assert cleared["errors"] == [{"account": code["account"], "error": "not charged: the wallet holds THB; fares on metro are in SGD"}]
    assert balance(backend, wallet_id) == 100_000
    shown = sim(backend, "GET", f"/sim/wallets/{wallet_id}")["transit"]
    assert shown["unpaidJourneys"][0]["error"].startswith("the wallet holds THB")


def test_a_tap_in_still_travelling_waits_for_its_tap_out_or_the_limit(backend, gate, wallet):
    now = datetime.fromisoformat(sim(backend, "GET", "/sim/clock")["now"])
    just_now = (now.replace(microsecond=0) - timedelta(minutes=10)).isoformat()
    lost, home = ride_code(backend, wallet()), ride_code(backend, wallet())
    gate.upload([tap(lost, "in", just_now, "M01"), tap(home, "in", just_now, "M01")])
    waiting = clear(backend)
    assert (waiting["taps"], waiting["journeys"], waiting["charged"]["value"]) == (2, 0, "0")
    assert clear(backend)["accounts"] == 2  # still waiting, looked at again
    gate.upload([tap(home, "out", now.replace(microsecond=0).isoformat(), "M02")])  # Z1 -> Z1: 1.20 or 1.50
    assert clear(backend)["charged"]["value"] in ("120", "150")
    sim(backend, "POST", "/sim/clock", json={"advanceSeconds": 3 * 3600})  # 3 h 10 min since the tap-in
    late = clear(backend)
    assert (late["journeys"], late["charged"]["value"]) == (1, "320")  # no tap-out: the max fare
    assert clear(backend)["accounts"] == 0


def test_taps_of_an_account_no_wallet_has_are_an_error(backend, gate, wallet):
    code = ride_code(backend, wallet())
    stranger = ride.sign(ride.RideCode(ride.read(code["code"]).code.key_id, bytes(12), datetime(2025, 3, 3, tzinfo=UTC), 60, 1),
                         ride.generate_key_pair(1, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))[0])
    gate.upload(trip({"code": stranger, "account": bytes(12).hex()}, MONDAY, ("M01", "10:00"), ("M02", "10:10")))
    cleared = clear(backend)
    assert cleared["charged"]["value"] == "0"
    assert cleared["errors"] == [{"account": bytes(12).hex(), "error": "no wallet has this ride account: its taps are not charged"}]
