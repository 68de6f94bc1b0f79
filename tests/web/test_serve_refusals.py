"""What ``pos-sim serve`` refuses, and a session whose terminal process is killed: each a clear answer,
nothing lost. The terminal's WebSocket is driven as textual-serve's page drives it (JSON envelopes)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import sign_in, start_serve, stop_serve

from pos_sim.terminal.journal import Journal, State


pytestmark = pytest.mark.xdist_group("web")  # one process: each test runs a server, its terminals (and a browser)


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pos_sim", "serve", *args], capture_output=True, text=True, timeout=60)


def journalled(path: Path, within_s: float = 30.0) -> None:
    """Wait until the terminal's journal at ``path`` holds a payment."""
    deadline = time.monotonic() + within_s
    while True:
        with Journal.open(path) as journal:
            if journal.entries():
                return
        assert time.monotonic() < deadline, f"{path}: no payment journalled"
        time.sleep(0.1)


def socket_url(served) -> str:
    page = requests.get(served.page("/"), timeout=10)
    assert page.status_code == 200
    return re.search(r'data-session-websocket-url="([^"]+)"', page.text)[1] + "?width=140&height=44"


def closed(url: str) -> tuple[int, str]:
    """The code and reason a WebSocket to ``url`` is closed with."""
    try:
        with connect(url, open_timeout=10) as socket:
            socket.recv(timeout=10)
    except ConnectionClosed as exc:
        return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError(f"{url}: not closed")


def test_beyond_loopback_only_with_a_token(tmp_path):
    run = serve("--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "class"))
    assert run.returncode == 2
    assert run.stderr == "error: --host 0.0.0.0 serves beyond this machine: give --token TOKEN (or --token new) to guard it\n"
    assert not (tmp_path / "class").exists()


def test_a_data_dir_that_is_a_file_is_refused_naming_it(tmp_path):
    file = tmp_path / "class.txt"
    file.write_text("not a folder\n")
    run = serve("--port", "0", "--data-dir", str(file))
    assert (run.returncode, run.stderr) == (2, f"error: --data-dir {file} is a file, not a folder\n")
    assert file.read_text() == "not a folder\n"


def test_a_busy_port_or_a_class_served_already_is_refused_and_the_class_goes_on(served, tmp_path):
    port = served.url.rsplit(":", 1)[1]
    run = serve("--port", port, "--data-dir", str(tmp_path / "other"))
    assert (run.returncode, run.stderr) == (2, f"error: port {port} on 127.0.0.1 is taken (another pos-sim serve?): "
                                               "stop it, or give --port (0 takes a free one)\n")
    assert not (tmp_path / "other").exists()
    run = serve("--port", "0", "--data-dir", str(served.data_dir))
    assert (run.returncode, run.stderr) == (2, f"error: --data-dir {served.data_dir} is served by another pos-sim serve "
                                               f"(pid {served.process.pid}): stop it, or give another --data-dir\n")
    assert served.api("/api/terminals").status_code == 200


def test_the_token_guards_every_page_and_call(tmp_path):
    served = start_serve(tmp_path / "class", "--token", "s3cret")
    try:
        for path in ("/", "/trainer", "/phone", "/api/terminals"):
            missing = requests.get(served.url + path, timeout=10)
            assert (missing.status_code, missing.text) == (401, "this pos-sim serve needs its token: open the URL it "
                                                                "printed (it ends ?token=...)\n")
            wrong = requests.get(served.url + path + "?token=guess", timeout=10)
            assert (wrong.status_code, wrong.text) == (403, "a wrong token: use the URL pos-sim serve printed\n")
            assert requests.get(served.page(path), timeout=10).status_code == 200
        with connect(socket_url(served), open_timeout=10):  # the page's session key opens its terminal
            served.wait("T01", lambda t: t["session"] == "live")
        served.wait("T01", lambda t: t["session"] == "ended")
    finally:
        stop_serve(served)


def test_an_unknown_session_terminal_or_wallet_and_a_bad_frame_are_said(served):
    assert closed(served.url.replace("http", "ws") + "/terminal/ws/made-up") == (
        4404, "an unknown or used session: open the terminal page again")
    assert served.api("/api/terminals/T42").json() == {"error": {"code": "UNKNOWN_TERMINAL", "message": "no terminal 'T42' in this class"}}
    assert requests.get(served.url + "/phone/W000", timeout=10).status_code == 404
    wallet = re.search(r'href="/phone/([^"]+)"', requests.get(served.url + "/phone", timeout=10).text)[1]
    frame = requests.post(f"{served.url}/api/wallets/{wallet}/scan", data=b"not an image", timeout=10)
    assert (frame.status_code, frame.json()["error"]["message"]) == (
        400, "the phone's frame: not an image (neither OpenCV nor Pillow could read it)")
    huge = requests.post(f"{served.url}/api/wallets/{wallet}/scan", data=b"\0" * (8 * 1024 * 1024 + 1), timeout=30)
    assert huge.status_code == 413


def tui_process(status_file: Path) -> int:
    """The pid of the ``pos-sim tui`` whose status file is ``status_file``."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tui" in command and str(status_file).encode() in command:
            return int(proc.name)
    raise AssertionError(f"no pos-sim tui for {status_file}")


def until(socket, text: str, within_s: float = 30.0) -> None:
    """Read the terminal's screen updates until one holds ``text``."""
    deadline = time.monotonic() + within_s
    while text.encode() not in (update := socket.recv(timeout=max(0.1, deadline - time.monotonic()))):
        pass


def test_a_killed_terminal_ends_its_session_and_its_payment_is_resolved(served):
    folder = served.data_dir / "terminals" / "T01"

    def press(*keys: str) -> None:
        for key in keys:
            socket.send(json.dumps(["stdin", key]))

    with connect(socket_url(served), open_timeout=10) as socket:
        until(socket, served.backend_url)  # the sign-in screen, the gateway reached
        sign_in(served, "T01", "01", lambda: press("\r"))
        until(socket, "S001")  # the sale screen
        time.sleep(0.5)  # its entry field focused
        press("7", ".", "1", "0", "\r")
        until(socket, "$7.10")  # in the cart
        press("\x1b[15~")  # F5, pay
        until(socket, "Order code")
        press("2")
        served.wait("T01", lambda t: t["payment"] in (State.SENT.value, State.RESOLVING.value))
        journalled(folder / "journal.db")  # the payment under way (the screen says SENT a moment before its journal does)
        os.kill(tui_process(folder / "status.json"), signal.SIGKILL)
        try:
            while True:
                socket.recv(timeout=20)
        except ConnectionClosed:
            pass  # the page is told the session ended
    ended = served.wait("T01", lambda t: t["session"] == "ended")
    # CANCELLED when the order had reached the backend before the kill, NOT_PROCESSED when the kill came
    # between the journal's SENT and the request (a loaded machine): one known outcome, nothing charged
    with Journal.open(folder / "journal.db") as journal:
        states = [entry.state for entry in journal.entries()]
    assert states in ([State.CANCELLED], [State.NOT_PROCESSED])
    assert ended["recovered"] == [f"T01-000001 {states[0].value}"]


def test_a_service_managers_stop_ends_the_class_with_its_simulator_and_terminals(tmp_path):
    served = start_serve(tmp_path / "class")
    try:
        with connect(socket_url(served), open_timeout=10) as socket:
            until(socket, served.backend_url)  # a session's terminal is up
            terminal = tui_process(served.data_dir / "terminals" / "T01" / "status.json")
            served.process.send_signal(signal.SIGTERM)  # systemctl stop, docker stop, kill
            served.process.wait(timeout=60)
    finally:
        if served.process.poll() is None:
            served.process.kill()
    assert served.process.returncode == 130  # ended as ctrl+c ends it
    deadline = time.monotonic() + 10
    while Path(f"/proc/{terminal}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{terminal}").exists(), "the session's pos-sim tui was left running"
    with pytest.raises(requests.ConnectionError):  # the simulator is stopped, its port closed
        requests.get(served.backend_url, timeout=5)
