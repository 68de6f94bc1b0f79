"""The terminal's gateway settings without a network: credentials from key files and texts, the
gateway URL, timeouts, polling, amounts on the wire, and what an outcome says about money."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import Money
from pos_sim.terminal.authorize import Outcome, Polling, new_request_id
from pos_sim.terminal.errors import SettingsError, TerminalError
from pos_sim.terminal.gateway import Credentials, Timeouts, amount_json, gateway_url, read_amount
from pos_sim.terminal.journal import State

MERCHANT = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GATEWAY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def data_dir(tmp_path):
    """A simulator data dir as the backend leaves it: keys/ with the demo merchant's and the gateway's keys."""
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    (keys / "SIM_DEMO_private.pem").write_bytes(private_pem(MERCHANT))
    (keys / "gateway_public.pem").write_bytes(public_pem(GATEWAY))
    return tmp_path / "data"


def test_the_demo_merchant_of_a_simulator_data_dir(data_dir):
    creds = Credentials.from_simulator_data_dir("http://127.0.0.1:8000/", data_dir)
    assert (creds.url, creds.client_id) == ("http://127.0.0.1:8000", "SIM_DEMO")
    assert creds.private_key.private_numbers() == MERCHANT.private_numbers()
    assert creds.gateway_public_key.public_numbers() == GATEWAY.public_key().public_numbers()
    assert "PRIVATE" not in repr(creds) and "private_key" not in repr(creds)


def test_a_gateway_is_known_by_its_key_not_its_port(data_dir):
    one = Credentials.from_simulator_data_dir("http://127.0.0.1:8000", data_dir)
    other_port = Credentials.from_simulator_data_dir("http://127.0.0.1:9000", data_dir)
    other_gateway = Credentials.from_texts("http://127.0.0.1:8000", "SIM_DEMO", private_pem(MERCHANT).decode(), public_pem(MERCHANT).decode())
    assert one.gateway_key_id == other_port.gateway_key_id != other_gateway.gateway_key_id
    assert len(one.gateway_key_id) == 16


def test_keys_as_the_dashboard_hands_them_out():
    bare = "".join(line for line in public_pem(GATEWAY).decode().splitlines() if not line.startswith("-----"))
    creds = Credentials.from_texts("https://open-sea-global.alipay.com", "SANDBOX_5Y", private_pem(MERCHANT).decode(), bare)
    assert creds.gateway_public_key.public_numbers() == GATEWAY.public_key().public_numbers()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: (d / "keys" / "SIM_DEMO_private.pem").unlink(), "keys/SIM_DEMO_private.pem: no private key file there"),
        (lambda d: (d / "keys" / "gateway_public.pem").unlink(), "keys/gateway_public.pem: no public key file there"),
        (lambda d: (d / "keys" / "SIM_DEMO_private.pem").write_bytes(public_pem(MERCHANT)),
         "SIM_DEMO_private.pem: this is a public key; a private key was expected"),
        (lambda d: (d / "keys" / "gateway_public.pem").write_bytes(private_pem(GATEWAY)),
         "gateway_public.pem: this is a private key"),
        (lambda d: (d / "keys" / "gateway_public.pem").write_text("hello"), "gateway_public.pem: the public key is neither PEM nor base64"),
        (lambda d: (d / "keys" / "gateway_public.pem").write_bytes(b"\x80\x81\x82"), "gateway_public.pem: the public key is base64 but not a key"),
        (lambda d: (d / "keys" / "SIM_DEMO_private.pem").write_bytes(private_pem(ec.generate_private_key(ec.SECP256R1()))),
         "not an RSA key"),
        (lambda d: ((d / "keys" / "gateway_public.pem").unlink(), (d / "keys" / "gateway_public.pem").mkdir()),
         "gateway_public.pem: a directory, not a public key file"),
        (lambda d: [p.unlink() for p in (d / "keys").iterdir()] and (d / "keys").rmdir(), "no keys/ in it"),
    ],
    ids=["no-private", "no-public", "public-as-private", "private-as-public", "not-a-key", "binary-junk", "ec-key",
         "directory", "no-keys-dir"],
)
def test_a_data_dir_it_cannot_use_is_said_with_the_file(data_dir, spoil, message):
    spoil(data_dir)
    with pytest.raises(SettingsError, match=message) as error:
        Credentials.from_simulator_data_dir("http://127.0.0.1:8000", data_dir)
    assert str(data_dir) in str(error.value)


def test_a_data_dir_that_is_not_there(tmp_path):
    with pytest.raises(SettingsError, match="no simulator data dir there"):
        Credentials.from_simulator_data_dir("http://127.0.0.1:8000", tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("HTTPS://open-sea-global.alipay.com/", "https://open-sea-global.alipay.com"),
        ("http://[::1]:8000/gateway/", "http://[::1]:8000/gateway"),
    ],
)
def test_gateway_urls(url, expected):
    assert gateway_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8000", "expected http"),
        ("ftp://example.com", "expected http"),
        ("http://", "expected http"),
        ("http://127.0.0.1:99999", "out of range"),
        ("http://example.com/?a=1", "no query"),
        ("http://user:pw@example.com", "no query, fragment or user name"),
        (None, "must be text"),
    ],
)
def test_bad_gateway_urls_are_said(url, message):
    with pytest.raises(SettingsError, match=message):
        gateway_url(url)


@pytest.mark.parametrize("client_id", ["", " SIM_DEMO", "SIM DEMO\n", "商户"])
def test_bad_client_ids_are_said(client_id):
    with pytest.raises(SettingsError, match="client id"):
        Credentials("http://127.0.0.1:8000", client_id, MERCHANT, GATEWAY.public_key())


def test_keys_must_be_the_right_halves():
    with pytest.raises(SettingsError, match="must be an RSA private key"):
        Credentials("http://127.0.0.1:8000", "SIM_DEMO", MERCHANT.public_key(), GATEWAY.public_key())
    with pytest.raises(SettingsError, match="must be an RSA public key"):
        Credentials("http://127.0.0.1:8000", "SIM_DEMO", MERCHANT, GATEWAY)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "5", True])
def test_timeouts_are_positive_seconds(value):
    with pytest.raises(SettingsError, match="must be a number of seconds above 0"):
        Timeouts(connect_s=value)
    with pytest.raises(SettingsError, match="read_s"):
        Timeouts(read_s=value)


def test_polling_settings():
    assert Polling() == Polling(3.0, 60.0, 5)  # the provider's practice: every 3 s for about a minute
    assert Polling(deadline_s=0).deadline_s == 0  # one inquiry, then cancel
    with pytest.raises(SettingsError, match="interval_s=0"):
        Polling(interval_s=0)
    with pytest.raises(SettingsError, match="deadline_s=-1"):
        Polling(deadline_s=-1)
    with pytest.raises(SettingsError, match="cancel_attempts=0"):
        Polling(cancel_attempts=0)


def test_amounts_on_the_wire_are_strings_of_minor_units():
    assert amount_json(Money.of_minor(1250, "SGD")) == {"currency": "SGD", "value": "1250"}
    assert read_amount({"currency": "JPY", "value": "1054"}, "paymentAmount") == Money.of_minor(1054, "JPY")
    for bad in ({"currency": "SGD", "value": 1250}, {"currency": "SGD", "value": "12.50"}, {"currency": "XXX", "value": "1"},
                {"currency": "SGD", "value": "-1"}, "1250 SGD"):
        with pytest.raises(AmountError):
            read_amount(bad, "paymentAmount")


def test_what_an_outcome_says_about_money():
    amount = Money.of_minor(1250, "SGD")
    assert Outcome("R", State.APPROVED, amount).charged is True
    for state in (State.DECLINED, State.CANCELLED, State.REVERSED, State.NOT_PROCESSED):
        assert Outcome("R", state, amount).charged is False and Outcome("R", state, amount).resolved
    for state in (State.SENT, State.RESOLVING, State.CANCELLING):
        assert Outcome("R", state, amount).charged is None and not Outcome("R", state, amount).resolved


def test_request_ids_are_fresh_and_fit_the_api():
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) <= 64 and i.isalnum() for i in ids)


def test_every_terminal_error_is_one_family():
    assert issubclass(SettingsError, TerminalError)
