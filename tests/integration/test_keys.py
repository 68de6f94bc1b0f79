"""Key files on a real file system: modes, PEM formats, refusing to overwrite, unusable files."""

import os
import re
import stat
from pathlib import Path

import pytest
from com.alipay.ams.api.tools import signature_tool as sdk
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pos_sim.backend.store.keys import KeyFileError, ensure_key_pair, generate_key_pair, read_private_key, read_public_key
from pos_sim.domain.ams_signature import sign, verify

PATH = "/ams/api/v1/payments/pay"
BODY = '{\n   "paymentRequestId": "p-1",\n   "orderDescription": "咖啡"\n}'


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def error(path: Path, fragment: str):
    return pytest.raises(KeyFileError, match=re.escape(str(path)) + ".*" + re.escape(fragment))


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    keys = tmp_path / "config" / "keys"
    return keys / "merchant_private.pem", keys / "merchant_public.pem"


@pytest.fixture
def umask_zero():
    """A umask that masks nothing, so the modes seen are the ones the code asked for."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_a_new_pair_is_pem_with_a_0600_private_key_in_a_0700_keys_dir(pair, umask_zero):
    private, public = pair
    generate_key_pair(private, public)
    assert (mode(private), mode(public), mode(private.parent)) == (0o600, 0o644, 0o700)
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")  # X.509 SubjectPublicKeyInfo
    assert read_private_key(private).key_size == 2048


def test_modes_hold_under_a_strict_umask(pair):
    previous = os.umask(0o077)
    try:
        generate_key_pair(*pair)
    finally:
        os.umask(previous)
    assert (mode(pair[0]), mode(pair[1])) == (0o600, 0o644)


def test_generated_keys_sign_and_verify(pair):
    generate_key_pair(*pair, bits=3072)
    private, public = read_private_key(pair[0]), read_public_key(pair[1])
    assert private.key_size == 3072
    signature = sign(private, "POST", PATH, "SIM_DEMO", "2024-05-01T12:30:00+08:00", BODY.encode())
    assert verify(public, "POST", PATH, "SIM_DEMO", "2024-05-01T12:30:00+08:00", BODY.encode(), signature)
    # and the official client verifies with the public key file as written
    assert sdk.verify("POST", PATH, "SIM_DEMO", "2024-05-01T12:30:00+08:00", BODY, signature, pair[1].read_text()) is True


def test_the_official_client_signs_with_the_bare_body_of_the_private_key_file(pair):
    # global-open-sdk-python 1.7.1 cannot load a full "BEGIN PRIVATE KEY" PEM; it takes the bare body.
    generate_key_pair(*pair)
    body = "".join(line for line in pair[0].read_text().splitlines() if not line.startswith("-----"))
    signature = sdk.sign("POST", PATH, "SIM_DEMO", "t", BODY, body)
    assert verify(read_public_key(pair[1]), "POST", PATH, "SIM_DEMO", "t", BODY.encode(), signature)


def test_an_existing_private_key_is_never_overwritten(pair):
    generate_key_pair(*pair)
    before = pair[0].read_bytes()
    with error(pair[0], "refusing to overwrite"):
        generate_key_pair(*pair)
    assert pair[0].read_bytes() == before


def test_a_dangling_symlink_is_not_followed(pair, tmp_path):
    pair[0].parent.mkdir(parents=True)
    pair[0].symlink_to(tmp_path / "elsewhere.pem")
    with error(pair[0], "refusing to overwrite"):
        generate_key_pair(*pair)
    assert not (tmp_path / "elsewhere.pem").exists()


def test_a_short_key_or_one_file_for_both_halves_is_refused(pair):
    with error(pair[0], "at least 2048 bits"):
        generate_key_pair(*pair, bits=1024)
    with error(pair[0], "two different files"):
        generate_key_pair(pair[0], pair[0])
    assert not pair[0].exists()


def test_an_unwritable_public_key_leaves_no_private_key(pair, tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where a directory should be")
    with error(blocker, "cannot create the key directory"):
        generate_key_pair(pair[0], blocker / "public.pem")
    assert not pair[0].exists()


def test_ensure_makes_a_pair_once_then_loads_it(pair):
    first = ensure_key_pair(*pair)
    again = ensure_key_pair(*pair)
    assert again[0].private_numbers() == first[0].private_numbers()
    assert again[1].public_numbers() == first[1].public_numbers() == first[0].public_key().public_numbers()


def test_ensure_derives_a_missing_public_key_again(pair):
    private, _ = ensure_key_pair(*pair)
    pair[1].unlink()
    _, public = ensure_key_pair(*pair)
    assert public.public_numbers() == private.public_key().public_numbers()
    assert mode(pair[1]) == 0o644


def test_ensure_refuses_a_public_key_from_another_pair(pair, tmp_path):
    other = tmp_path / "other" / "private.pem", tmp_path / "other" / "public.pem"
    generate_key_pair(*pair)
    generate_key_pair(*other)
    pair[1].write_bytes(other[1].read_bytes())
    with error(pair[1], f"not the public half of {pair[0]}"):
        ensure_key_pair(*pair)


def test_reading_a_missing_file_names_it(tmp_path):
    with error(tmp_path / "nope.pem", "no private key file there"):
        read_private_key(tmp_path / "nope.pem")
    with error(tmp_path / "nope.pub", "no public key file there"):
        read_public_key(tmp_path / "nope.pub")


def test_reading_a_directory_or_through_a_file_names_it(tmp_path):
    with error(tmp_path, "a directory, not a private key file"):
        read_private_key(tmp_path)
    (tmp_path / "file").write_text("x")
    with error(tmp_path / "file" / "key.pem", "cannot read the public key file (Not a directory)"):
        read_public_key(tmp_path / "file" / "key.pem")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a 0000 file anyway")
def test_an_unreadable_file_names_it(pair):
    generate_key_pair(*pair)
    pair[0].chmod(0)
    with error(pair[0], "Permission denied"):
        read_private_key(pair[0])


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"password=hunter2\n", "neither PEM nor base64"),
        (b"\x00\x01\x02garbage\xff", "base64 but not a key"),
        (b"-----BEGIN PRIVATE KEY-----\nMIIE\n", "incomplete PEM"),
    ],
)
def test_a_garbage_file_names_it_and_says_why(tmp_path, content, fragment):
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    with error(path, fragment):
        read_private_key(path)
    with error(path, fragment):
        read_public_key(path)


def test_halves_swapped_or_not_rsa_name_the_file(pair, tmp_path):
    generate_key_pair(*pair)
    with error(pair[1], "a private key was expected"):
        read_private_key(pair[1])
    with error(pair[0], "a public key was expected"):
        read_public_key(pair[0])
    ec_path = tmp_path / "ec.pem"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_path.write_bytes(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with error(ec_path, "not an RSA key"):
        read_private_key(ec_path)


def test_der_and_bom_files_are_read(pair, tmp_path):
    private, _ = ensure_key_pair(*pair)
    der = tmp_path / "key.der"
    der.write_bytes(private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    assert read_private_key(der).private_numbers() == private.private_numbers()
    bom = tmp_path / "public_bom.pem"
    bom.write_bytes(b"\xef\xbb\xbf" + pair[1].read_bytes().replace(b"\n", b"\r\n"))  # saved by Notepad
    assert read_public_key(bom).public_numbers() == private.public_key().public_numbers()
