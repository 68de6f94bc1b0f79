"""Every parser of outside text or bytes without a property test of its own elsewhere, fed anything:
it answers, or raises only its documented error type (whose message says what and where), never
another exception. The parsers with their own such tests: EMV MPM and CPM (test_emv_mpm.py,
test_emv_cpm.py), GS1 (test_gs1.py), wallet codes (test_wallet_codes.py), device tokens
(test_device_token.py), money (test_money.py), GTFS fares (test_fares.py), AMS signatures and keys
(test_ams_signature.py)."""

from __future__ import annotations

import base64
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.assets import ASSETS
from pos_sim.backend import protocol
from pos_sim.backend.protocol import Refused
from pos_sim.domain import codes
from pos_sim.domain.catalogue import CatalogueError, read_catalogue
from pos_sim.domain.codes import emv_mpm, ride, schemes, url
from pos_sim.domain.errors import AmountError, CodeError
from pos_sim.domain.fx import DEMO_RATES, RateTable
from pos_sim.scan.wedge import Scan, Typed, WedgeScanner
from pos_sim.scenarios import ScenarioError, parse_text
from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.gateway import read_amount
from pos_sim.terminal.settings import DEFAULT_CATALOGUE, ENV_VARIABLES, KEYS, TerminalSettings, from_environment, read_config

SCENARIO_FILES = sorted((ASSETS / "scenarios").rglob("*.yaml"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=24),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ODD = [None, True, False, 0, -1, 1.5, 10**30, "", "0", "-5", "1e999999", "NaN", "Infinity", "12.50", " 100",
       "\u0661\u0662", "9" * 40, "x" * 300, "\x00", "\u202e", "\U0001f600", [], {}, [1], {"a": 1}]


def mutated(value: Any, data: st.DataObject) -> Any:
    """``value`` (JSON-like) with one member or item deleted, retyped or given an odd value."""
    value = json.loads(json.dumps(value, default=str))
    spots = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, item in items:
            spots.append((node, key))
            walk(item)

    walk(value)
    if not spots:
        return data.draw(json_values)
    parent, key = data.draw(st.sampled_from(spots))
    action = data.draw(st.sampled_from(["delete", "retype", "odd"]))
    if action == "delete":
        del parent[key]
    else:
        parent[key] = data.draw(json_values if action == "retype" else st.sampled_from(ODD))
    return value


def said_where(message: str) -> None:
    """An error message says something: what is wrong, in more than a word."""
    assert len(message.strip()) > 5, message


# --- codes: classify, decode, parse; links, ride codes, key rings -----------------------------------------------

code_texts = (st.text(max_size=120) | st.from_regex(r"(00|hQVDUFY|RC1:|https?://|[0-9]{8,32})[\s\S]{0,80}", fullmatch=True)
              | st.binary(max_size=90).map(lambda b: ride.PREFIX + ride.base45_encode(b)))


@given(code_texts, st.booleans())
def test_any_scanned_text_is_classified_and_parses_or_raises_code_error(text, strict):
    assert codes.classify(text).kind in codes.KINDS
    try:
        code = codes.parse(text, strict)
    except CodeError as exc:
        said_where(str(exc))
        return
    assert code.kind in codes.KINDS
    code.fields(), code.as_objects()  # a code that parses can be shown
    if isinstance(code, emv_mpm.MerchantPresentedCode):
        assert all(isinstance(name, str) for name in schemes.schemes_of(code))


@given(st.text(max_size=80).map(lambda t: "https://" + t) | st.text(max_size=80), st.booleans())
def test_any_link_decodes_and_validates_or_raises_code_error(text, strict):
    try:
        link = url.decode(text)
        link.validate(strict)
        link.fields()
    except CodeError as exc:
        said_where(str(exc))


@given(st.text(max_size=200).map(lambda t: ride.PREFIX + t) | st.text(max_size=200) | st.binary(max_size=200).map(
    lambda b: ride.PREFIX + ride.base45_encode(b)))
def test_any_text_as_a_ride_code_reads_or_raises_code_error(text):
    try:
        signed = ride.read(text)
    except CodeError as exc:
        said_where(str(exc))
        return
    signed.code.account.hex()  # what a gate uses of it


def _key_ring() -> dict:
    """A real key ring document as the backend publishes it: two keys, one revoked, one denied account."""
    keys = tuple(ride.generate_key_pair(i, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))[1] for i in (1, 2))
    ring = ride.KeyRing(ride.IssuerKeys(keys, frozenset({1})), ride.DenyList(frozenset({bytes(16)})),
                        datetime(2026, 11, 21, 10, tzinfo=UTC))
    return ring.to_document()


KEY_RING_DOCUMENT = _key_ring()


@given(st.data())
def test_any_key_ring_document_loads_or_raises_key_ring_error(data):
    document = data.draw(st.sampled_from(["mutated", "any", "text"]))
    text = (json.dumps(mutated(KEY_RING_DOCUMENT, data)) if document == "mutated" else json.dumps(data.draw(json_values))
            if document == "any" else data.draw(st.text(max_size=60)))
    try:
        ring = ride.KeyRing.from_json(text)
    except ride.KeyRingError as exc:
        said_where(str(exc))
        return
    ring.to_json()


@given(st.text(max_size=300) | st.binary(max_size=120).map(
    lambda b: "-----BEGIN PRIVATE KEY-----\n" + base64.b64encode(b).decode() + "\n-----END PRIVATE KEY-----\n"))
def test_any_text_as_an_issuer_private_key_loads_or_raises_key_ring_error(text):
    try:
        ride.load_private_key(text)
    except ride.KeyRingError as exc:
        said_where(str(exc))


# --- money on the wire, exchange rates, catalogues --------------------------------------------------------------

@given(json_values | st.fixed_dictionaries({"currency": st.sampled_from(["SGD", "JPY", "KWD", "sgd", "XXX", ""]) | json_values,
                                            "value": st.from_regex(r"[0-9]{0,25}", fullmatch=True) | json_values}))
def test_any_amount_object_in_a_gateway_answer_reads_or_raises_amount_error(obj):
    try:
        money = read_amount(obj, "paymentAmount")
    except AmountError as exc:
        assert "paymentAmount" in str(exc) or "currency" in str(exc).lower(), exc
        return
    assert money.minor >= 0


rate_values = (st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.integers(min_value=-(10**40), max_value=10**40)
               | st.sampled_from(["1e999999999", "1e-999999999", "1e30", "1e-30", "0.000000001", "sNaN", "+Infinity"])
               | json_values)


@given(st.sampled_from(["USD", "SGD", "JPY", "usd", "XXX", ""]) | st.text(max_size=4),
       st.dictionaries(st.sampled_from(sorted(DEMO_RATES)) | st.text(max_size=4), rate_values, max_size=4))
def test_any_rate_table_is_refused_with_amount_error_or_quotes_every_pair(base, rates):
    try:
        table = RateTable(base, rates)
    except AmountError as exc:
        said_where(str(exc))
        return
    for source in table.rates:
        for target in table.rates:
            quote = table.quote(source, target)  # any table taken can price any of its pairs
            assert quote.price > 0


CATALOGUE = json.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))


@given(st.data())
def test_any_catalogue_reads_or_raises_catalogue_error(data):
    kind = data.draw(st.sampled_from(["mutated", "mutated", "any", "text"]))
    text = (json.dumps(mutated(CATALOGUE, data), ensure_ascii=False) if kind == "mutated"
            else json.dumps(data.draw(json_values)) if kind == "any" else data.draw(st.text(max_size=80)))
    try:
        read_catalogue(text)
    except CatalogueError as exc:
        said_where(str(exc))


# --- the wire format of the simulated backend: request times, bodies, fields ------------------------------------

@given(st.text(max_size=70) | st.from_regex(r"[0-9]{1,16}", fullmatch=True)
       | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
       | st.datetimes().map(lambda d: d.isoformat()))
def test_any_request_time_is_read_or_refused_invalid_signature(text):
    at = datetime.now(UTC)
    try:
        protocol.check_fresh(text, at)
    except Refused as exc:
        assert exc.code == "INVALID_SIGNATURE" and "request-time" in exc.detail
        return
    assert abs((protocol.request_time(text) - at).total_seconds()) <= protocol.REQUEST_TIME_WINDOW_S


def test_request_times_at_the_edge_of_the_window():
    at = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    window = protocol.REQUEST_TIME_WINDOW_S
    for offset in (-window, window):
        protocol.check_fresh((at + timedelta(seconds=offset)).isoformat(), at)
    for offset, words in [(-window - 1, "5 min 1 s behind"), (window + 1, "5 min 1 s ahead of"), (-90_000, "1 day 1 h behind")]:
        with pytest.raises(Refused, match=words):
            protocol.check_fresh((at + timedelta(seconds=offset)).astimezone(UTC).isoformat(), at)
    milliseconds = str(int(at.timestamp() * 1000) - 600_000)
    with pytest.raises(Refused, match=r"milliseconds since 1970: 2026-11-21T09:50:00\+00:00\) is 10 min behind"):
        protocol.check_fresh(milliseconds, at)


@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
       | st.integers(min_value=1, max_value=3000).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"))
def test_any_body_is_a_json_object_or_refused_param_illegal(body):
    try:
        parsed = protocol.json_object(body)
    except Refused as exc:
        assert exc.code == "PARAM_ILLEGAL" and "body" in exc.detail
        return
    assert isinstance(parsed, dict)
    json.dumps(parsed)  # as the services store and hash it


@pytest.mark.parametrize("brackets_in_text", ["", "[[{{" * 10])
def test_a_body_nested_to_the_limit_is_read_and_one_level_deeper_refused(brackets_in_text):
    """A value at depth ``MAX_JSON_DEPTH`` is read, one level deeper refused, whatever brackets the body's text
    holds (a body with fewer brackets than that is read without its depth walked)."""
    def body(lists: int) -> bytes:  # the value 1 inside `lists` arrays inside the object: at depth lists + 2
        return b'{"note":"' + brackets_in_text.encode() + b'","a":' + b"[" * lists + b"1" + b"]" * lists + b"}"

    deepest = protocol.MAX_JSON_DEPTH - 2
    assert protocol.json_object(body(deepest))["note"] == brackets_in_text
    with pytest.raises(Refused, match=f"deeper than {protocol.MAX_JSON_DEPTH}"):
        protocol.json_object(body(deepest + 1))


@given(st.dictionaries(st.sampled_from(["amount", "x"]), json_values | st.fixed_dictionaries(
    {"currency": st.sampled_from(["SGD", "JPY", "XXX"]) | json_values, "value": st.from_regex(r"-?[0-9]{0,22}", fullmatch=True) | json_values}),
    max_size=2), st.integers(min_value=1, max_value=64))
def test_any_amount_or_field_of_a_body_is_read_or_refused_param_illegal(body, most):
    for read in (lambda: protocol.amount(body, "amount"), lambda: protocol.field(body, "amount.value", most=most)):
        try:
            read()
        except Refused as exc:
            assert exc.code == "PARAM_ILLEGAL" and "amount" in exc.detail


# --- scenario files ---------------------------------------------------------------------------------------------

SCENARIO_DOCUMENTS = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in SCENARIO_FILES]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_scenario_file_parses_or_raises_scenario_error(data):
    kind = data.draw(st.sampled_from(["mutated", "mutated", "mutated", "any", "text"]))
    if kind == "mutated":
        text = yaml.safe_dump(mutated(data.draw(st.sampled_from(SCENARIO_DOCUMENTS)), data), allow_unicode=True)
    elif kind == "any":
        text = yaml.safe_dump(data.draw(json_values))
    else:
        text = data.draw(st.text(max_size=200) | st.sampled_from(["a: [", "{", "- !!python/object:os.system x", "*x", "a: &a [*a]"]))
    try:
        parse_text(text, SCENARIO_FILES[0])
    except ScenarioError as exc:
        said_where(str(exc))


# --- the terminal's settings: environment variables, the settings file, the values ---------------------------

@given(st.dictionaries(st.sampled_from(sorted(ENV_VARIABLES)) | st.text(max_size=20).map(lambda t: "POS_SIM_" + t.upper()),
                       st.text(max_size=30), max_size=4))
def test_any_environment_gives_settings_or_raises_settings_error(environ):
    try:
        values = from_environment(environ)
    except SettingsError as exc:
        said_where(str(exc))
        return
    assert set(values) <= set(KEYS)


@settings(deadline=None)
@given(st.text(max_size=200) | st.dictionaries(st.sampled_from(sorted(KEYS)), json_values, max_size=3).map(
    lambda d: "\n".join(f"{k.replace('.', '_')} = {json.dumps(v)}" for k, v in d.items())))
def test_any_settings_file_reads_or_raises_settings_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settings.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            read_config(path)
        except SettingsError as exc:
            assert str(path) in str(exc)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(name for name, (kind, _flag) in KEYS.items() if kind != "path")),
                       json_values | st.sampled_from(ODD), max_size=3))
def test_any_setting_values_build_settings_or_raise_settings_error(values):
    with tempfile.TemporaryDirectory() as folder:
        given_values = {"gateway.url": "http://127.0.0.1:8360", "journal_dir": Path(folder)} | values
        try:
            TerminalSettings.build(given_values)
        except SettingsError as exc:
            said_where(str(exc))


# --- the keyboard wedge -----------------------------------------------------------------------------------------

keys_fed = st.lists(st.tuples(st.text(min_size=1, max_size=2) | st.sampled_from(["\r", "\n", "]", "C1"]),
                              st.floats(min_value=0.001, max_value=100)), max_size=60)


@given(keys_fed, st.sampled_from(["", "]", "]C1"]), st.sampled_from(["\r", "\n", "", "\r\n"]))
def test_every_key_fed_to_the_wedge_comes_out_once_as_typing_or_in_a_scan(keys, prefix, suffix):
    wedge = WedgeScanner(prefix=prefix, suffix=suffix, double_scan_ms=0)  # no double scans: nothing is dropped
    events, now = [], 0.0
    for key, gap in keys:
        now += gap
        events += wedge.feed(key, now)
    events += wedge.flush(now + 1000)
    out = "".join(event.text if isinstance(event, Typed) else prefix + event.text + suffix for event in events)
    assert out == "".join(key for key, _gap in keys)
    assert all(isinstance(event, (Scan, Typed)) for event in events)
