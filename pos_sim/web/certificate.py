"""The class's TLS certificate, for ``pos-sim serve --tls``: a browser gives a page the camera only over
HTTPS (or on localhost), so a real phone on the room's network scans the terminal's code live only
when the class is served over HTTPS.

Made once in the class folder (``tls/``: the key 0600 in a 0700 folder, as the issuer keys are) and
kept: a phone told to trust it once trusts it next lesson too. It is self-signed, for this machine's
names and addresses; a phone's browser warns once, and the fingerprint serve prints is what to compare.
A certificate that no longer names an address the class is served on is made again.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 825
"""The longest validity browsers accept for a certificate a user trusts by hand."""


class CertificateError(Exception):
    """A certificate or key that cannot be read or made."""


@dataclass(frozen=True)
class Certificate:
    """A certificate and its key, as files uvicorn reads; its SHA-256 fingerprint as browsers show it."""

    cert_file: Path
    key_file: Path
    fingerprint: str


def names_of_this_machine(host: str) -> tuple[str, ...]:
    """The names and addresses browsers may reach ``host`` by: loopback's, this machine's name and its
    address on the network (the one its default route leaves by), or ``host`` itself when it is one."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host in ("0.0.0.0", "::", ""):
        if (address := network_address()) is not None:
            names.append(address)
    else:
        names.append(host)
    return tuple(dict.fromkeys(names))


def network_address() -> str | None:
    """This machine's address on the network (None with no network): the source address of a route out,
    found without sending anything (a UDP socket's connect only picks the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never reached
            return probe.getsockname()[0]
        except OSError:
            return None


def class_certificate(folder: Path, names: tuple[str, ...]) -> Certificate:
    """The self-signed certificate kept in ``folder`` (made, or made again when it lacks one of ``names``
    or is about to expire)."""
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    if cert_file.exists() and key_file.exists():
        try:
            kept = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise CertificateError(f"{cert_file}: not a certificate ({exc}); remove it to have a new one made") from None
        if set(names) <= _names_in(kept) and kept.not_valid_after_utc - _now() > datetime.timedelta(days=7):
            return Certificate(cert_file, key_file, fingerprint(kept))
    return _make(cert_file, key_file, names)


def given_certificate(cert_file: Path, key_file: Path) -> Certificate:
    """The user's own certificate and key (``--cert``, ``--key``), checked to be readable PEM that go together."""
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except OSError as exc:
        raise CertificateError(f"--cert {cert_file}: {exc.strerror or exc}") from None
    except ValueError:
        raise CertificateError(f"--cert {cert_file}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except OSError as exc:
        raise CertificateError(f"--key {key_file}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise CertificateError(f"--key {key_file}: not an unencrypted PEM private key") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise CertificateError(f"--key {key_file} is not the key of --cert {cert_file}")
    return Certificate(cert_file, key_file, fingerprint(cert))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate, as browsers' certificate viewers write it (AB:CD:...)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _make(cert_file: Path, key_file: Path, names: tuple[str, ...]) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"pos-sim serve on {socket.gethostname()}")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    try:
        cert_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), 0o600)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as exc:
        raise CertificateError(f"{cert_file.parent}: cannot keep the class's certificate ({exc.strerror or exc})") from None
    return Certificate(cert_file, key_file, fingerprint(cert))


def _write(path: Path, data: bytes, mode: int) -> None:
    """``data`` in ``path`` with ``mode`` from its first byte, replacing it whole (never half written)."""
    part = path.with_name(path.name + ".part")
    descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(part, path)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _names_in(cert: x509.Certificate) -> set[str]:
    try:
        alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*alternatives.get_values_for_type(x509.DNSName), *(str(ip) for ip in alternatives.get_values_for_type(x509.IPAddress))}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
