"""``pos-sim serve --tls``: the class over HTTPS, so that a real phone in the room, which reaches the class
by this machine's name or address, gets its camera (browsers give a page the camera over HTTPS, or on
localhost only). Chromium maps the machine's name to 127.0.0.1 here: the tests stay on loopback."""

from __future__ import annotations

import base64
import hashlib
import socket
import stat
import subprocess
import sys
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium.webdriver.common.by import By

from conftest import start_serve, stop_serve

pytestmark = pytest.mark.xdist_group("web")  # one process: each test runs a server, its terminals (and a browser)


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pos_sim", "serve", *args], capture_output=True, text=True, timeout=60)


def printed_fingerprint(served) -> str:
    """The certificate line serve printed after its three URLs."""
    lines = [served.process.stdout.readline() for _ in range(4)]
    return lines[-1].removeprefix("  certificate SHA-256 ").strip()


def test_the_class_certificate_is_kept_private_named_for_this_machine_and_the_same_next_lesson(tmp_path):
    first = start_serve(tmp_path / "class", "--tls")
    try:
        assert first.url.startswith("https://127.0.0.1:")
        cert_file = tmp_path / "class" / "tls" / "cert.pem"
        answer = requests.get(first.url + "/phone", verify=str(cert_file), timeout=10)  # verified: names 127.0.0.1
        assert answer.status_code == 200
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        assert printed_fingerprint(first) == cert.fingerprint(cert.signature_hash_algorithm).hex(":").upper()
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert socket.gethostname() in names.get_values_for_type(x509.DNSName)
        with pytest.raises(requests.exceptions.SSLError):  # not a certificate anyone else vouches for
            requests.get(first.url + "/phone", timeout=10)
        asleep = requests.Session()  # a phone gone to sleep, its connection open: it answers no close
        assert asleep.get(first.url + "/phone", verify=str(cert_file), timeout=10).status_code == 200
        started = time.monotonic()
    finally:
        said = stop_serve(first)
    assert time.monotonic() - started < 25, "ctrl+c waited for the sleeping phone (asyncio gives its close 30 s)"
    assert first.process.returncode == 130 and "ERROR" not in said, said
    asleep.close()
    assert stat.S_IMODE((tmp_path / "class" / "tls").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "class" / "tls" / "key.pem").stat().st_mode) == 0o600
    again = start_serve(tmp_path / "class", "--tls")
    try:
        assert printed_fingerprint(again) == cert.fingerprint(cert.signature_hash_algorithm).hex(":").upper()
    finally:
        stop_serve(again)


def test_a_phone_reaching_the_class_by_name_gets_its_camera_over_https_only(tmp_path, browser):
    name = socket.gethostname()
    plain = start_serve(tmp_path / "plain")
    secure = start_serve(tmp_path / "class", "--tls")
    try:
        cert = x509.load_pem_x509_certificate((tmp_path / "class" / "tls" / "cert.pem").read_bytes())
        spki = base64.b64encode(hashlib.sha256(cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()).decode()
        said = {}
        for served in (plain, secure):
            scheme, port = served.url.split("://")[0], served.url.rsplit(":", 1)[1]
            phone = browser("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--host-resolver-rules=MAP {name} 127.0.0.1",  # the room's phone, by the machine's name
                            f"--ignore-certificate-errors-spki-list={spki}",  # the class's certificate trusted, as a phone told to
                            "--window-size=420,900")
            phone.get(f"{scheme}://{name}:{port}/phone")
            phone.find_element(By.CSS_SELECTOR, "a.wallet").click()  # Tan Ah Kow's: in Chinese
            phone.find_element(By.ID, "scan").click()
            deadline = time.monotonic() + 60  # a browser asked for its camera on a busy machine
            while not (text := phone.find_element(By.ID, "said").text) and time.monotonic() < deadline:
                time.sleep(0.2)
            said[scheme] = text
        assert said["http"].startswith("无法使用相机")  # no camera: pick a photo instead
        assert said["https"] == "将相机对准终端上的码……"  # the camera on: point it at the terminal's code
    finally:
        stop_serve(plain)
        stop_serve(secure)


def test_a_certificate_not_readable_or_not_of_its_key_is_refused_in_one_line_before_anything_starts(tmp_path):
    from pos_sim.web.certificate import class_certificate

    one = class_certificate(tmp_path / "one", ("127.0.0.1",))
    two = class_certificate(tmp_path / "two", ("127.0.0.1",))
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = {("--cert", str(one.cert_file)): "error: --cert and --key go together: the certificate and its private key\n",
             ("--cert", str(junk), "--key", str(one.key_file)): f"error: --cert {junk}: not a PEM certificate\n",
             ("--cert", str(one.cert_file), "--key", str(junk)): f"error: --key {junk}: not an unencrypted PEM private key\n",
             ("--cert", str(one.cert_file), "--key", str(two.key_file)):
                 f"error: --key {two.key_file} is not the key of --cert {one.cert_file}\n",
             ("--cert", str(tmp_path / "gone.pem"), "--key", str(one.key_file)):
                 f"error: --cert {tmp_path / 'gone.pem'}: No such file or directory\n",
             ("--tls", "--cert", str(one.cert_file), "--key", str(one.key_file)): None}
    for args, error in cases.items():
        run = serve("--port", "0", "--data-dir", str(tmp_path / "class"), *args)
        assert run.returncode == 2, args
        if error is not None:
            assert run.stderr == error
        else:
            assert "not allowed with argument" in run.stderr  # argparse: --tls or a certificate of your own
    assert not (tmp_path / "class").exists()
