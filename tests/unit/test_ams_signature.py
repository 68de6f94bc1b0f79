"""The AMS RSA256 signature against the provider's own client, global-open-sdk-python 1.7.1."""

import base64
import datetime
import json
import re
from urllib.parse import quote, quote_plus

import pytest
from com.alipay.ams.api.tools import signature_tool as sdk
from com.alipay.ams.api.tools.webhook_tool import check_signature
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_sim.domain.ams_signature import (
    SignatureError,
    load_private_key,
    load_public_key,
    parse_signature_header,
    sign,
    signature_header,
    signed_text,
    verify,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PATH = "/ams/api/v1/payments/pay"
CLIENT = "SANDBOX_5YEZ1W2ZH8HS02367"
TIME = "2024-05-01T12:30:00+08:00"
PAYLOAD = {
    "productCode": "IN_STORE_PAYMENT",
    "paymentRequestId": "pay-0001",
    "order": {"orderDescription": "2 × kopi-o, 1 × 咖啡 ☕, crème brûlée", "orderAmount": {"currency": "SGD", "value": "1250"}},
}
BODY_TEXT = json.dumps(PAYLOAD, indent=3, ensure_ascii=False)  # the SDK's indent, non-ASCII left raw
BODY = BODY_TEXT.encode("utf-8")


def private_pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def public_pem(key: rsa.RSAPublicKey, fmt: serialization.PublicFormat) -> str:
    return key.public_bytes(serialization.Encoding.PEM, fmt).decode()


def bare(pem: str) -> str:
    """The one-line base64 body, as the provider's dashboard hands keys out."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


PKCS1 = private_pem(KEY, serialization.PrivateFormat.TraditionalOpenSSL)
PKCS8 = private_pem(KEY, serialization.PrivateFormat.PKCS8)
SPKI = public_pem(KEY.public_key(), serialization.PublicFormat.SubjectPublicKeyInfo)
RSA_PUBLIC = public_pem(KEY.public_key(), serialization.PublicFormat.PKCS1)
PRIVATE_FORMS = {"PKCS#1 PEM": PKCS1, "PKCS#8 PEM": PKCS8, "PKCS#1 bare": bare(PKCS1), "PKCS#8 bare": bare(PKCS8)}
PUBLIC_FORMS = {"SPKI PEM": SPKI, "SPKI bare": bare(SPKI), "PKCS#1 PEM": RSA_PUBLIC, "PKCS#1 bare": bare(RSA_PUBLIC)}
# What the SDK itself can load: it wraps keys in "RSA PRIVATE KEY" / "PUBLIC KEY" armour when missing,
# so a full PKCS#8 PEM ("BEGIN PRIVATE KEY") fails in its sign, and it verifies with SPKI keys only.


def error(fragment: str):
    return pytest.raises(SignatureError, match=re.escape(fragment))


# --- signed text ---------------------------------------------------------------------------


def test_signed_text_is_method_path_newline_client_time_body():
    text = signed_text("POST", PATH, CLIENT, TIME, b'{"a":1}')
    assert text == b'POST /ams/api/v1/payments/pay\nSANDBOX_5YEZ1W2ZH8HS02367.2024-05-01T12:30:00+08:00.{"a":1}'


def test_signed_text_is_the_sdks_own_over_a_non_ascii_indented_body():
    assert signed_text("POST", PATH, CLIENT, TIME, BODY) == sdk.gen_sign_content("POST", PATH, CLIENT, TIME, BODY_TEXT).encode("utf-8")


@pytest.mark.parametrize(
    ("method", "path", "fragment"),
    [
        ("POST", "https://open-sea-global.alipay.com" + PATH, "path only"),
        ("", PATH, "single word"),
        ("PO ST", PATH, "single word"),
        ("POST", PATH + "\udc80", "not UTF-8 encodable"),
    ],
)
def test_signed_text_refuses_a_malformed_request_line(method, path, fragment):
    with error(fragment):
        signed_text(method, path, CLIENT, TIME, BODY)


# --- interop with the official SDK ----------------------------------------------------------


@pytest.mark.parametrize(
    ("private_form", "public_form"),
    [("PKCS#1 PEM", "SPKI PEM"), ("PKCS#1 bare", "SPKI bare"), ("PKCS#8 bare", "PKCS#1 PEM"), ("PKCS#8 bare", "PKCS#1 bare")],
)
def test_a_signature_made_by_the_sdk_verifies_with_ours(private_form, public_form):
    signature = sdk.sign("POST", PATH, CLIENT, TIME, BODY_TEXT, PRIVATE_FORMS[private_form])
    assert verify(load_public_key(PUBLIC_FORMS[public_form]), "POST", PATH, CLIENT, TIME, BODY, signature)


@pytest.mark.parametrize(
    ("private_form", "public_form"),
    [("PKCS#1 PEM", "SPKI PEM"), ("PKCS#8 PEM", "SPKI bare"), ("PKCS#1 bare", "SPKI bare"), ("PKCS#8 bare", "SPKI PEM")],
)
def test_our_signature_verifies_with_the_sdks_verify(private_form, public_form):
    signature = sign(load_private_key(PRIVATE_FORMS[private_form]), "POST", PATH, CLIENT, TIME, BODY)
    assert sdk.verify("POST", PATH, CLIENT, TIME, BODY_TEXT, signature, PUBLIC_FORMS[public_form]) is True


def test_our_signature_is_byte_for_byte_the_sdks():
    # PKCS#1 v1.5 is deterministic: same key, same text, same signature, same URL-encoding.
    ours = sign(KEY, "POST", PATH, CLIENT, TIME, BODY)
    assert ours == sdk.sign("POST", PATH, CLIENT, TIME, BODY_TEXT, bare(PKCS1))
    assert "%2B" in ours or "%2F" in ours or "%3D" in ours  # URL-encoded, as the SDK sends it
    assert not set(ours) & set("+/=")


def test_an_ascii_escaped_body_is_signed_as_sent():
    # The SDK's own to_ams_json() keeps json.dumps' default ensure_ascii=True: "\u5496" on the wire.
    text = json.dumps(PAYLOAD, indent=3)
    signature = sdk.sign("POST", PATH, CLIENT, TIME, text, bare(PKCS8))
    assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, text.encode("ascii"), signature)
    assert not verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, signature)  # never re-serialise


def test_our_header_passes_the_sdks_header_handling():
    header = signature_header(sign(KEY, "POST", "/webhook", CLIENT, TIME, BODY))
    assert check_signature("POST", "/webhook", CLIENT, TIME, BODY_TEXT, header, SPKI) is True
    assert header.split("signature=")[1] == parse_signature_header(header)[2]  # how its client reads responses


def test_the_sdks_header_parses():
    value = sdk.sign("POST", PATH, CLIENT, TIME, BODY_TEXT, bare(PKCS8))
    algorithm, version, signature = parse_signature_header("algorithm=RSA256,keyVersion=1,signature=" + value)
    assert (algorithm, version) == ("RSA256", 1)
    assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, signature)


# --- verify -----------------------------------------------------------------------------------

GOOD = sign(KEY, "POST", PATH, CLIENT, TIME, BODY)


@pytest.mark.parametrize(
    "tampered",
    [
        {"body": BODY.replace(b"1250", b"1251")},
        {"body": BODY + b"\n"},
        {"time": "2024-05-01T12:30:01+08:00"},
        {"client_id": "SANDBOX_5YEZ1W2ZH8HS02368"},
        {"path": "/ams/sandbox/api/v1/payments/pay"},
        {"method": "GET"},
    ],
)
def test_anything_changed_fails_verification(tampered):
    message = {"method": "POST", "path": PATH, "client_id": CLIENT, "time": TIME, "body": BODY} | tampered
    assert verify(KEY.public_key(), signature=GOOD, **message) is False


def test_another_key_fails_verification():
    assert verify(OTHER_KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, GOOD) is False


def test_a_signature_of_the_wrong_length_fails_verification():
    short = quote_plus(base64.b64encode(b"\x01" * 128).decode())
    assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, short) is False


def test_a_signature_not_url_encoded_is_taken_as_plain_base64():
    plain = base64.b64encode(KEY.sign(signed_text("POST", PATH, CLIENT, TIME, BODY), padding.PKCS1v15(), hashes.SHA256())).decode()
    assert "+" in plain or "/" in plain or "=" in plain
    assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, plain)


@pytest.mark.parametrize("encode", [
    lambda text: quote(text, safe=""),  # every escape the same, as quote_plus writes them
    lambda text: quote(text, safe="").replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d"),  # lowercase
    lambda text: "".join(f"%{ord(c):02X}" for c in text),  # every character escaped
    lambda text: quote(quote(text, safe=""), safe=""),  # escaped twice: its "%25" is not base64, so it fails
], ids=["quote", "lowercase", "every character", "twice"])
def test_a_signature_is_url_decoded_whatever_escapes_it_uses(encode):
    plain = base64.b64encode(KEY.sign(signed_text("POST", PATH, CLIENT, TIME, BODY), padding.PKCS1v15(), hashes.SHA256())).decode()
    encoded = encode(plain)
    if "%25" in encoded:
        with error("not base64"):
            verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, encoded)
    else:
        assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, encoded)


@pytest.mark.parametrize(("signature", "fragment"), [("", "empty"), ("not base64!", "not base64"), ("%ZZ", "not base64"), ("abc", "not base64")])
def test_a_malformed_signature_is_an_error_not_a_false(signature, fragment):
    with error(fragment):
        verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, signature)


def test_keys_of_the_wrong_kind_are_refused():
    with error("RSA private key"):
        sign(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY)
    with error("RSA public key"):
        verify(KEY, "POST", PATH, CLIENT, TIME, BODY, GOOD)
    with error("RSA private key"):
        sign(PKCS8, "POST", PATH, CLIENT, TIME, BODY)


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(PRIVATE_FORMS))
def test_private_keys_load_from_pem_or_bare_base64(form):
    assert load_private_key(PRIVATE_FORMS[form]).private_numbers() == KEY.private_numbers()


@pytest.mark.parametrize("form", list(PUBLIC_FORMS))
def test_public_keys_load_from_pem_or_bare_base64(form):
    assert load_public_key(PUBLIC_FORMS[form]).public_numbers() == KEY.public_key().public_numbers()


def test_keys_load_with_literal_backslash_n_and_surrounding_text():
    assert load_private_key(PKCS8.replace("\n", "\\n")).private_numbers() == KEY.private_numbers()
    assert load_public_key("the gateway's key:\n" + SPKI + "\n").public_numbers() == KEY.public_key().public_numbers()


def test_the_sdks_mislabelled_pem_loads():
    # The SDK wraps a bare PKCS#8 body in "RSA PRIVATE KEY" armour; the label does not decide.
    mislabelled = "-----BEGIN RSA PRIVATE KEY-----\n" + bare(PKCS8) + "\n-----END RSA PRIVATE KEY-----"
    assert load_private_key(mislabelled).private_numbers() == KEY.private_numbers()


EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _certificate() -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pos-sim")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    return builder.sign(KEY, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


ENCRYPTED_PKCS8 = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
).decode()
ENCRYPTED_PKCS1 = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.BestAvailableEncryption(b"secret")
).decode()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("not a key, at all", "neither PEM nor base64"),
        ("MIIBIjAN BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA!", "neither PEM nor base64"),
        ("clé", "neither PEM nor base64"),
        (base64.b64encode(b"hello, world").decode(), "base64 but not a key"),
        (SPKI, "this is a public key; a private key was expected"),
        (bare(RSA_PUBLIC), "this is a public key; a private key was expected"),
        (private_pem(EC_KEY, serialization.PrivateFormat.PKCS8), "not an RSA key (EC)"),
        (ENCRYPTED_PKCS8, "encrypted"),
        (bare(ENCRYPTED_PKCS8), "encrypted"),
        (ENCRYPTED_PKCS1, "encrypted"),
        (PKCS8.rsplit("-----END", 1)[0], "incomplete PEM"),
        (PKCS8 + PKCS8, "2 PEM blocks"),
        (PKCS8.replace("END PRIVATE KEY", "END PUBLIC KEY"), "closes with 'PUBLIC KEY'"),
        (_certificate(), "certificate"),
    ],
    ids=lambda value: "key" if len(value) > 60 else value[:24],  # a key's text differs run by run (xdist asks for stable ids)
)
def test_unusable_private_keys_say_what_is_wrong(text, fragment):
    with error(fragment):
        load_private_key(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----", "empty"),
        ("ssh-rsa AAAAB3NzaC1yc2E", "neither PEM nor base64"),
        (PKCS8, "this is a private key; a public key was expected"),
        (bare(PKCS1), "this is a private key; a public key was expected"),
        (public_pem(EC_KEY.public_key(), serialization.PublicFormat.SubjectPublicKeyInfo), "not an RSA key (EC)"),
        (bare(_certificate()), "base64 but not a key (expected X.509 SubjectPublicKeyInfo or PKCS#1 DER)"),
    ],
    ids=lambda value: "key" if len(value) > 60 else value[:24],
)
def test_unusable_public_keys_say_what_is_wrong(text, fragment):
    with error(fragment):
        load_public_key(text)


def test_a_key_must_be_text():
    with error("must be text"):
        load_public_key(SPKI.encode())  # type: ignore[arg-type]


# --- the Signature header ---------------------------------------------------------------------


def test_signature_header_is_the_sdks_form():
    assert signature_header("abc%2B%3D") == "algorithm=RSA256,keyVersion=1,signature=abc%2B%3D"
    assert signature_header("abc", key_version=3) == "algorithm=RSA256,keyVersion=3,signature=abc"
    assert parse_signature_header(signature_header("abc%2B%3D", 2)) == ("RSA256", 2, "abc%2B%3D")


def test_signature_header_parsing_is_lenient_on_case_spaces_and_unknown_names():
    assert parse_signature_header(" Algorithm=RSA256, KEYVERSION=7 ,signature=s%3D%3D, future=x,") == ("RSA256", 7, "s%3D%3D")
    assert parse_signature_header("signature=abc==,algorithm=RSA256") == ("RSA256", 1, "abc==")  # keyVersion optional
    # the header as written, and near it: a signature with spaces about it, a name after it, one named twice
    assert parse_signature_header("algorithm=RSA256,keyVersion=1,signature=x%2By=") == ("RSA256", 1, "x%2By=")
    assert parse_signature_header("algorithm=RSA256,keyVersion=1,signature= abc ") == ("RSA256", 1, "abc")
    assert parse_signature_header("algorithm=RSA256,keyVersion=1,signature=abc,future=x") == ("RSA256", 1, "abc")
    with error("names signature twice"):
        parse_signature_header("algorithm=RSA256,keyVersion=1,signature=abc,signature=def")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "no algorithm="),
        ("keyVersion=1,signature=abc", "no algorithm="),
        ("algorithm=RSA256,keyVersion=1", "no signature="),
        ("algorithm=RSA256,keyVersion=1,signature=", "no signature="),
        ("algorithm=RSA256,keyVersion=one,signature=abc", "keyVersion 'one' is not a number"),
        ("algorithm=RSA256,keyVersion=١,signature=abc", "is not a number"),
        ("algorithm=RSA256,signature=a,signature=b", "names signature twice"),
        ("RSA256 abc", "is not name=value"),
        ("=RSA256,signature=abc", "is not name=value"),
    ],
)
def test_a_malformed_signature_header_says_what_is_missing(value, fragment):
    with error(fragment):
        parse_signature_header(value)


@pytest.mark.parametrize(("signature", "version"), [("", 1), ("a,b", 1), ("a b", 1), ("abc", -1), ("abc", True)])
def test_signature_header_refuses_what_it_cannot_carry(signature, version):
    with pytest.raises(SignatureError):
        signature_header(signature, version)


# --- properties -------------------------------------------------------------------------------

header_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)


@settings(max_examples=50)  # each example signs with RSA-2048
@given(body=st.binary(max_size=2000), client_id=header_text, time=header_text)
def test_any_body_signs_and_verifies(body, client_id, time):
    signature = sign(KEY, "POST", PATH, client_id, time, body)
    assert verify(KEY.public_key(), "POST", PATH, client_id, time, body, signature)
    assert not verify(KEY.public_key(), "POST", PATH, client_id, time, body + b"x", signature)


@settings(max_examples=50)  # each example signs with RSA-2048
@given(body=st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_body_we_sign_verifies_with_the_sdk(body):
    # (the SDK's sign reloads and re-checks the key on every call, ~50 ms: its verify keeps this fast)
    signature = sign(KEY, "POST", PATH, CLIENT, TIME, body.encode("utf-8"))
    assert sdk.verify("POST", PATH, CLIENT, TIME, body, signature, bare(SPKI)) is True


key_text = st.one_of(
    st.text(),
    st.binary(max_size=600).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=600).map(lambda b: "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(b).decode() + "\n-----END PUBLIC KEY-----"),
    st.text().map(lambda t: "-----BEGIN PRIVATE KEY-----\n" + t),
)


@given(text=key_text)
def test_any_text_into_the_loaders_raises_only_signature_error(text):
    for load in (load_private_key, load_public_key):
        with pytest.raises(SignatureError):
            load(text)


@given(value=st.one_of(st.text(), st.lists(st.sampled_from(["algorithm=", "keyVersion=", "signature=", ",", "=", " ", "RSA256", "1", "x"])).map("".join)))
def test_any_text_into_the_header_parser_raises_only_signature_error(value):
    try:
        algorithm, version, signature = parse_signature_header(value)
    except SignatureError:
        return
    assert algorithm and signature and version >= 0


@given(signature=st.text(max_size=400))
def test_any_text_as_a_signature_is_false_or_signature_error(signature):
    try:
        assert verify(KEY.public_key(), "POST", PATH, CLIENT, TIME, BODY, signature) is False
    except SignatureError:
        pass
