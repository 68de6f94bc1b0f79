"""The terminal's client of an AMS-compatible payment gateway (the simulator or a provider sandbox).

Every call is a POST of a JSON body serialised once; those exact bytes are signed with the
merchant's key (``client-id``, ``Request-Time`` and ``Signature`` headers) and sent. Every answer is
verified with the gateway's public key over the exact bytes received, before it is parsed.

An answer is only an answer if it is HTTP 200, signed by the gateway for this client id, JSON,
and carries an AMS ``result`` (and echoes the ids it was asked about). Anything else, and any
timeout or dropped connection, is a ``TransportFailure``: the outcome of the call is not known, so
a payment flow treats it as U, never as S or F. ``requests`` is used with a connect and a read
timeout on every call, no redirects, and no settings from the environment (proxies are passed in).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_sim import __version__
from pos_sim.domain import ams_signature
from pos_sim.domain.ams_signature import SignatureError
from pos_sim.domain.errors import AmountError
from pos_sim.domain.money import MAX_MINOR_DIGITS, Money, currency
from pos_sim.language import N_, Phrase
from pos_sim.terminal.errors import SettingsError

SIMULATOR_CLIENT_ID = "SIM_DEMO"
"""The demo merchant every simulator data dir holds (the backend's ``server.DEMO_CLIENT_ID``)."""

CALLS = ("pay", "inquiryPayment", "cancel", "refund", "inquiryRefund")
ECHOED_IDS = ("paymentRequestId", "paymentId", "refundRequestId", "refundId")
"""Ids an answer must give back unchanged when the request named them."""


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Where the gateway is and the keys of one merchant there: what every call is signed and verified with."""

    url: str
    client_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    gateway_public_key: rsa.RSAPublicKey = field(repr=False)
    key_version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", gateway_url(self.url))
        if not isinstance(self.client_id, str) or not self.client_id.strip() or self.client_id != self.client_id.strip():
            raise SettingsError(f"client id {self.client_id!r}: must be non-empty text without surrounding spaces")
        if not self.client_id.isascii() or not self.client_id.isprintable():
            raise SettingsError(f"client id {self.client_id!r}: must be printable ASCII (it is sent as a header)")
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise SettingsError(f"the merchant private key must be an RSA private key, not {type(self.private_key).__name__}")
        if not isinstance(self.gateway_public_key, rsa.RSAPublicKey):
            raise SettingsError(f"the gateway public key must be an RSA public key, not {type(self.gateway_public_key).__name__}")
        if isinstance(self.key_version, bool) or not isinstance(self.key_version, int) or self.key_version < 0:
            raise SettingsError(f"key version {self.key_version!r}: must be a whole number, 0 or more")

    @classmethod
    def from_texts(cls, url: str, client_id: str, private_key: str, gateway_public_key: str) -> Credentials:
        """Keys as a provider's dashboard hands them out: one-line base64 bodies, or PEM."""
        return cls(url, client_id, _key("the merchant private key", private_key, ams_signature.load_private_key),
                   _key("the gateway public key", gateway_public_key, ams_signature.load_public_key))

    @classmethod
    def from_key_files(cls, url: str, client_id: str, private_key_path: Path, gateway_public_key_path: Path) -> Credentials:
        """Keys read from files (PEM, bare base64 or DER); errors name the file."""
        private_key = _key_file(Path(private_key_path), "private", ams_signature.load_private_key)
        public_key = _key_file(Path(gateway_public_key_path), "public", ams_signature.load_public_key)
        return cls(url, client_id, private_key, public_key)

    @classmethod
    def from_simulator_data_dir(cls, url: str, data_dir: Path) -> Credentials:
        """The demo merchant of a simulator's data dir: DIR/keys/SIM_DEMO_private.pem and DIR/keys/gateway_public.pem."""
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise SettingsError(f"{data_dir}: no simulator data dir there (the backend makes it on its first start)")
        key_dir = data_dir / "keys"
        if not key_dir.is_dir():
            raise SettingsError(f"{data_dir}: no keys/ in it; is it a pos-sim backend data dir?")
        return cls.from_key_files(url, SIMULATOR_CLIENT_ID, key_dir / f"{SIMULATOR_CLIENT_ID}_private.pem",
                                  key_dir / "gateway_public.pem")

    @property
    def gateway_key_id(self) -> str:
        """A short fingerprint of the gateway's public key: which gateway this is, whatever its URL or port."""
        der = self.gateway_public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).hexdigest()[:16]


def gateway_url(url: str) -> str:
    """``url`` as a gateway base URL: http(s), a host, no query or fragment, no trailing slash."""
    if not isinstance(url, str):
        raise SettingsError(f"gateway URL {url!r}: must be text like http://127.0.0.1:8000")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise SettingsError(f"gateway URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"gateway URL {url!r}: expected http(s)://host[:port], like http://127.0.0.1:8000")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"gateway URL {url!r}: no query, fragment or user name; only scheme, host, port and path")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}"


def _key(what: str, text: str, load: Any) -> Any:
    try:
        return load(text)
    except SignatureError as exc:
        raise SettingsError(f"{what}: {exc}") from None


def _key_file(path: Path, half: str, load: Any) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"{path}: no {half} key file there") from None
    except IsADirectoryError:
        raise SettingsError(f"{path}: a directory, not a {half} key file") from None
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the {half} key file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = base64.b64encode(data).decode("ascii")  # binary: a DER file, for the loader to judge
    try:
        return load(text)
    except SignatureError as exc:
        raise SettingsError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Timeouts:
    """How long one call may take: to connect, and between bytes of the answer (``requests``' read timeout)."""

    connect_s: float = 5.0
    read_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect_s", "read_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise SettingsError(f"timeout {name}={value!r}: must be a number of seconds above 0")


# --- replies --------------------------------------------------------------------------------


ResultStatus = Literal["S", "F", "U"]


@dataclass(frozen=True)
class GatewayAnswer:
    """A verified answer: its ``result`` (status S/F/U, code, message) and the whole body."""

    call: str
    status: ResultStatus
    code: str
    message: str
    body: Mapping[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.status == "S"

    @property
    def failed(self) -> bool:
        return self.status == "F"

    def amount(self, name: str) -> Money | None:
        """The ``{"currency", "value"}`` amount ``name`` of the body; None when absent.

        Raises AmountError when it is there but is not an amount of minor units in a known currency.
        """
        obj = self.body.get(name)
        if obj is None:
            return None
        return read_amount(obj, name)

    def text(self, name: str) -> str | None:
        """The text field ``name`` of the body; None when absent or not text."""
        value = self.body.get(name)
        return value if isinstance(value, str) and value else None


class Failure(StrEnum):
    """Why a call has no answer the terminal can trust."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_STATUS = "http-status"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad-signature"
    NOT_JSON = "not-json"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class TransportFailure:
    """No trustworthy answer: the call may or may not have been done by the gateway."""

    call: str
    failure: Failure
    detail: str


Reply = GatewayAnswer | TransportFailure


def read_amount(obj: Any, where: str) -> Money:
    """An AMS amount ``{"currency": "SGD", "value": "1250"}`` (value a string of minor units) as Money."""
    if not isinstance(obj, Mapping):
        raise AmountError(f"{where}: {obj!r} is not an amount object with currency and value")
    value, code = obj.get("value"), obj.get("currency")
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > MAX_MINOR_DIGITS:
        raise AmountError(f"{where}.value: {value!r} is not a string of minor units like \"1250\"")
    return Money.of_minor(int(value), currency(str(code)))


def amount_json(money: Money) -> dict[str, str]:
    """``money`` as an AMS amount: value a string of minor units."""
    return {"currency": money.currency.code, "value": str(money.minor)}


# --- the client -----------------------------------------------------------------------------


class GatewayClient:
    """Signed AMS calls to one gateway as one merchant, over a ``requests`` session.

    ``timeouts`` applies to every call, ``per_call`` overrides it by call name ("pay", ...).
    Usable from several threads; close it (or use it as a context manager) when done.
    """

    def __init__(self, credentials: Credentials, timeouts: Timeouts = Timeouts(), *,
                 per_call: Mapping[str, Timeouts] | None = None, proxies: Mapping[str, str] | None = None) -> None:
        if not isinstance(credentials, Credentials):
            raise SettingsError(f"a gateway client needs Credentials, not {type(credentials).__name__}")
        per_call = dict(per_call or {})
        for name, value in per_call.items():
            if name not in CALLS:
                raise SettingsError(f"timeouts for {name!r}: not a call; one of {', '.join(CALLS)}")
            if not isinstance(value, Timeouts):
                raise SettingsError(f"timeouts for {name}: must be Timeouts, not {type(value).__name__}")
        if not isinstance(timeouts, Timeouts):
            raise SettingsError(f"timeouts must be Timeouts, not {type(timeouts).__name__}")
        self.credentials = credentials
        self.timeouts = timeouts
        self.per_call = MappingProxyType(per_call)
        # The official SDK sends a SANDBOX_ client id to the sandbox paths; the simulator serves both.
        sandbox = credentials.client_id.startswith("SANDBOX_")
        base = urlsplit(credentials.url)
        self._origin = f"{base.scheme}://{base.netloc}"
        self._prefix = base.path + ("/ams/sandbox/api/v1/payments/" if sandbox else "/ams/api/v1/payments/")
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies or .netrc from the environment: settings come from the caller
        if proxies:
            self._session.proxies.update(proxies)
        self._session.headers["User-Agent"] = f"pos-sim/{__version__}"

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def timeouts_for(self, call: str) -> Timeouts:
        return self.per_call.get(call, self.timeouts)

    # --- the calls ---

    def pay(self, payment_request_id: str, amount: Money, payment_code: str | None, *, scenario: str = "PaymentCode",
            order_reference: str | None = None, description: str = "", terminal_id: str | None = None,
            store_id: str | None = None, notify_url: str | None = None, expires_at: datetime | None = None) -> Reply:
        """Charge ``amount``: to the customer's scanned ``payment_code`` (PaymentCode), or by a merchant code
        the customer's wallet scans (OrderCode: the answer carries the code to show; EntryCode: the store's
        static code, ``store_id``), which the gateway answers U until the customer has paid."""
        order: dict[str, Any] = {
            "referenceOrderId": order_reference or payment_request_id,
            "orderDescription": description or "in-store sale",
            "orderAmount": amount_json(amount),
        }
        if terminal_id:
            order["env"] = {"storeTerminalId": terminal_id, "storeTerminalRequestTime": _now()}
        if store_id:
            order["merchant"] = {"store": {"referenceStoreId": store_id}}
        method: dict[str, Any] = {"paymentMethodType": "CONNECT_WALLET"}
        if payment_code is not None:
            method["paymentMethodId"] = payment_code
        body: dict[str, Any] = {
            "productCode": "IN_STORE_PAYMENT",
            "paymentRequestId": payment_request_id,
            "order": order,
            "paymentAmount": amount_json(amount),
            "paymentMethod": method,
            "paymentFactor": {"inStorePaymentScenario": scenario},
        }
        if notify_url:
            body["paymentNotifyUrl"] = notify_url
        if expires_at is not None:
            body["paymentExpiryTime"] = expires_at.isoformat()
        return self.call("pay", body)

    def inquire_payment(self, *, payment_request_id: str | None = None, payment_id: str | None = None) -> Reply:
        """The payment's status (``paymentStatus``) by either id; the answer's own result only says the inquiry worked."""
        return self.call("inquiryPayment", _ids(paymentRequestId=payment_request_id, paymentId=payment_id))

    def cancel(self, *, payment_request_id: str | None = None, payment_id: str | None = None) -> Reply:
        """Close the payment; one that succeeded is reversed, its money back to the customer. U: send it again."""
        return self.call("cancel", _ids(paymentRequestId=payment_request_id, paymentId=payment_id))

    def refund(self, refund_request_id: str, payment_id: str, amount: Money, reason: str | None = None) -> Reply:
        """Give back ``amount`` (all or part) of a successful payment; ``refund_request_id`` is the idempotency key."""
        body: dict[str, Any] = {"refundRequestId": refund_request_id, "paymentId": payment_id, "refundAmount": amount_json(amount)}
        if reason:
            body["refundReason"] = reason
        return self.call("refund", body)

    def inquire_refund(self, *, refund_request_id: str | None = None, refund_id: str | None = None) -> Reply:
        return self.call("inquiryRefund", _ids(refundRequestId=refund_request_id, refundId=refund_id))

    def call(self, call: str, body: Mapping[str, Any]) -> Reply:
        """Send one signed AMS call and read its answer; never raises for anything the network or the gateway does."""
        if call not in CALLS:
            raise SettingsError(f"{call!r}: not an AMS payment call; one of {', '.join(CALLS)}")
        path = self._prefix + call
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        response = self._send(call, "POST", path, data, self.timeouts_for(call))
        if isinstance(response, TransportFailure):
            return response
        return self._read(call, path, body, response)

    def _send(self, call: str, method: str, path: str, data: bytes,
              timeouts: Timeouts | None = None) -> requests.Response | TransportFailure:
        """One signed request (``data`` the body, empty for a GET); the response, or why there is none."""
        creds = self.credentials
        request_time = _now()
        signature = ams_signature.sign(creds.private_key, method, path, creds.client_id, request_time, data)
        headers = {
            "client-id": creds.client_id,
            "Request-Time": request_time,
            "Signature": ams_signature.signature_header(signature, creds.key_version),
        }
        if data:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        timeouts = timeouts or self.timeouts
        try:
            return self._session.request(method, self._origin + path, data=data or None, headers=headers,
                                         timeout=(timeouts.connect_s, timeouts.read_s), allow_redirects=False)
        except requests.Timeout:
            return TransportFailure(call, Failure.TIMEOUT, Phrase(
                N_("no answer from {url} within the timeout (connect {connect} s, read {read} s)"), url=creds.url,
                connect=timeouts.connect_s, read=timeouts.read_s))
        except requests.ConnectionError as exc:
            return TransportFailure(call, Failure.CONNECTION, Phrase(N_("connection to {url} failed or dropped ({reason})"),
                                                                     url=creds.url, reason=_reason(exc)))
        except requests.RequestException as exc:
            return TransportFailure(call, Failure.CONNECTION, Phrase(N_("request to {url} failed ({reason})"),
                                                                     url=creds.url, reason=_reason(exc)))

    def _verified(self, call: str, method: str, path: str, response: requests.Response) -> bytes | TransportFailure:
        """The body of an answer signed by the gateway for this client over ``method`` and ``path``."""
        creds = self.credentials
        where = answer_from(call, creds.url)
        client_id = response.headers.get("client-id")
        response_time = response.headers.get("response-time")
        header = response.headers.get("signature")
        if not client_id or not response_time or not header:
            missing = [name for name, value in (("client-id", client_id), ("response-time", response_time),
                                                ("signature", header)) if not value]
            return TransportFailure(call, Failure.UNSIGNED, Phrase(
                N_("{where}: no {headers} header; an unsigned answer is not trusted"), where=where, headers=", ".join(missing)))
        if client_id != creds.client_id:
            return TransportFailure(call, Failure.BAD_SIGNATURE, Phrase(N_("{where}: signed for client {client!r}, not {ours!r}"),
                                                                        where=where, client=client_id, ours=creds.client_id))
        try:
            algorithm, _version, value = ams_signature.parse_signature_header(header)
            if algorithm.upper() != ams_signature.ALGORITHM:
                return TransportFailure(call, Failure.BAD_SIGNATURE, Phrase(
                    N_("{where}: signature algorithm {algorithm!r}, not RSA256"), where=where, algorithm=algorithm))
            good = ams_signature.verify(creds.gateway_public_key, method, path, client_id, response_time, response.content, value)
        except SignatureError as exc:
            return TransportFailure(call, Failure.BAD_SIGNATURE, Phrase("{where}: {problem}", where=where, problem=str(exc)))
        if not good:
            return TransportFailure(call, Failure.BAD_SIGNATURE, Phrase(
                N_("{where}: the signature does not match the gateway's key; not trusted"), where=where))
        return response.content

    def _read(self, call: str, path: str, sent: Mapping[str, Any], response: requests.Response) -> Reply:
        """The verified AMS answer in ``response`` to a POST of ``sent``, or why it is not one."""
        where = answer_from(call, self.credentials.url)
        if response.status_code != 200:
            return TransportFailure(call, Failure.HTTP_STATUS, Phrase(N_("{where}: HTTP {status}, not 200"), where=where,
                                                                      status=response.status_code))
        raw = self._verified(call, "POST", path, response)
        if isinstance(raw, TransportFailure):
            return raw
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return TransportFailure(call, Failure.NOT_JSON, Phrase(NOT_JSON, where=where))
        result = body.get("result") if isinstance(body, dict) else None
        status = result.get("resultStatus") if isinstance(result, dict) else None
        code = result.get("resultCode") if isinstance(result, dict) else None
        if status not in ("S", "F", "U") or not isinstance(code, str) or not code:
            return TransportFailure(call, Failure.MALFORMED, Phrase(
                N_("{where}: no result with resultStatus S, F or U and a resultCode"), where=where))
        for name in ECHOED_IDS:
            if name in sent and name in body and body[name] != sent[name]:
                return TransportFailure(call, Failure.MISMATCH, Phrase(N_("{where}: {name} {got!r} is not the {asked!r} asked about"),
                                                                       where=where, name=name, got=body[name], asked=sent[name]))
        message = result.get("resultMessage")
        return GatewayAnswer(call, status, code, message if isinstance(message, str) else "", MappingProxyType(body))


NOT_JSON = N_("{where}: the body is not JSON")


def answer_from(call: str, url: str) -> str:
    """Where an answer that is not one came from: the call's and the gateway's (a ``Phrase``)."""
    return Phrase(N_("{call} answer from {url}"), call=call, url=url)


def _ids(**ids: str | None) -> dict[str, str]:
    given = {name: value for name, value in ids.items() if value}
    if not given:
        raise SettingsError(f"one of {' or '.join(ids)} is required")
    return given


def _now() -> str:
    """ISO 8601 with an offset, as the provider writes times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a ``requests`` error, in one short line."""
    for _ in range(10):  # requests -> urllib3 -> socket: a few levels, never a cycle followed for ever
        if exc.__context__ is None or exc.__context__ is exc:
            break
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
