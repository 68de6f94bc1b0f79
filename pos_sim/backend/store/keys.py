"""Key files: make an RSA pair (the private key 0600 from its first byte), read them, or both; and
any private key's file (``write_private``: the transit issuer's Ed25519 keys too).

Files are PEM: the private key PKCS#8 (``BEGIN PRIVATE KEY``), the public key X.509
SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``). A directory made to hold a private key is 0700.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pos_sim.domain.ams_signature import SignatureError, load_private_key, load_public_key

MIN_BITS = 2048


class KeyFileError(OSError):
    """A key file that cannot be created, read or used; the message names the path."""


def generate_key_pair(private_path: Path, public_path: Path, bits: int = 2048) -> None:
    """Write a new RSA key pair; never overwrites a private key (an existing public key is replaced)."""
    private_path, public_path = Path(private_path), Path(public_path)
    if bits < MIN_BITS:
        raise KeyFileError(f"{private_path}: a {bits}-bit RSA key is too short; use at least {MIN_BITS} bits")
    if private_path.absolute() == public_path.absolute():
        raise KeyFileError(f"{private_path}: the private and the public key need two different files")
    if os.path.lexists(private_path):
        raise _exists(private_path)
    _make_dir(private_path.parent, 0o700)
    _make_dir(public_path.parent, 0o755)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    _write_private(private_path, key)
    try:
        _write_public(public_path, key.public_key())
    except KeyFileError:
        private_path.unlink(missing_ok=True)  # all or nothing: no private key without its public half
        raise


def read_private_key(path: Path) -> rsa.RSAPrivateKey:
    """The RSA private key in the file at ``path`` (PEM, bare base64 or DER)."""
    return _read_key(Path(path), "private", load_private_key)


def read_public_key(path: Path) -> rsa.RSAPublicKey:
    """The RSA public key in the file at ``path`` (PEM, bare base64 or DER)."""
    return _read_key(Path(path), "public", load_public_key)


def _read_key(path: Path, half: str, load: Callable[[str], Any]) -> Any:
    try:
        return load(_read(path, half))
    except SignatureError as exc:
        raise KeyFileError(f"{path}: {exc}") from None


def ensure_key_pair(private_path: Path, public_path: Path) -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    """The key pair at these paths, made first if the private key is missing.

    A missing public key is derived again from the private one; a public key that is not the
    private key's own half is an error.
    """
    private_path, public_path = Path(private_path), Path(public_path)
    if not os.path.lexists(private_path):
        generate_key_pair(private_path, public_path)
    private_key = read_private_key(private_path)
    if not os.path.lexists(public_path):
        _write_public(public_path, private_key.public_key())
    public_key = read_public_key(public_path)
    if public_key.public_numbers() != private_key.public_key().public_numbers():
        raise KeyFileError(f"{public_path}: not the public half of {private_path}; delete it to derive it again")
    return private_key, public_key


def read_private_text(path: Path) -> str:
    """The text of the private key file at ``path``."""
    return _read(Path(path), "private")


def _write_private(path: Path, key: rsa.RSAPrivateKey) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def write_private(path: Path, data: bytes) -> None:
    """Write a private key file, 0600 from its first byte, in a folder made 0700; never over an existing file."""
    path = Path(path)
    _make_dir(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # umask can only narrow 0600
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create the private key file ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KeyFileError(f"{path}: cannot write the private key file ({exc.strerror})") from None


def _write_public(path: Path, key: rsa.RSAPublicKey) -> None:
    data = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _make_dir(path.parent, 0o755)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(path, 0o644)  # whatever the umask: anyone may read a public key
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write the public key file ({exc.strerror})") from None


def _make_dir(directory: Path, mode: int) -> None:
    if directory.is_dir():
        return
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=mode, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{directory}: cannot create the key directory ({exc.strerror})") from None


def _read(path: Path, kind: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no {kind} key file there") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: a directory, not a {kind} key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {kind} key file ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")  # binary: a DER file, for the loaders to judge


def _exists(path: Path) -> KeyFileError:
    return KeyFileError(f"{path}: a private key is already there; refusing to overwrite it (move it away to make a new pair)")
