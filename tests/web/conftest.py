"""``pos-sim serve`` as a user meets it: the real command on a loopback port, its embedded simulator,
and Debian's headless Chromium (``/usr/bin/chromium`` and its chromedriver, installed by scripts/test;
the tests skip saying so where they are not) driven with selenium. No browser is downloaded."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1400,900")

ARRIVED = """
if (!window.__updates) {
  window.__updates = [];
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const socket = new Native(url, protocols);
    const decoder = new TextDecoder();
    socket.addEventListener("message", (event) => {
      window.__updates.push(typeof event.data === "string" ? event.data : decoder.decode(event.data));
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
}
"""
"""Put in a tab's pages before their own scripts: the terminal's screen updates as they arrive (``shown``)."""


@dataclass
class Served:
    """A running ``pos-sim serve``: its URL (and token), its class folder, its process."""

    url: str
    backend_url: str
    data_dir: Path
    process: subprocess.Popen
    token: str | None = None

    def page(self, path: str) -> str:
        return self.url + path + (f"?token={self.token}" if self.token else "")

    def api(self, path: str) -> requests.Response:
        return requests.get(self.page(path), timeout=10)

    def terminal(self, terminal_id: str) -> dict:
        answer = self.api(f"/api/terminals/{terminal_id}")
        return answer.json() if answer.status_code == 200 else {}

    def wait(self, terminal_id: str, what: Callable[[dict], bool], within_s: float = 30.0) -> dict:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if what(said := self.terminal(terminal_id)):
                return said
            time.sleep(0.2)
        raise AssertionError(f"terminal {terminal_id} never got there: {said}")


def start_serve(data_dir: Path, *args: str) -> Served:
    process = subprocess.Popen([sys.executable, "-m", "pos_sim", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("pos-sim serve on "):
        process.kill()
        raise AssertionError(f"serve did not start: {line}{process.stderr.read()}")
    token = args[args.index("--token") + 1] if "--token" in args else None
    return Served(line.split()[3], line.split()[-1].rstrip(")"), data_dir, process, token)


def stop_serve(served: Served) -> str:
    """Stop it as ctrl+c does; what it said on stderr."""
    served.process.send_signal(2)
    try:
        _out, err = served.process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        served.process.kill()
        _out, err = served.process.communicate()
    return err


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    running = start_serve(tmp_path / "class")
    yield running
    stop_serve(running)


@pytest.fixture
def browser() -> Iterator[Callable[..., object]]:
    """browser(*flags) -> a new headless Chromium (selenium WebDriver), quit after the test."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, folders = [], []

    def launch(*flags: str) -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        folders.append(tempfile.mkdtemp(prefix="chromium-"))
        for flag in (*CHROMIUM_FLAGS, *flags, f"--user-data-dir={folders[-1]}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        drivers.append(driver)
        return driver

    yield launch
    for driver in drivers:
        driver.quit()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def keys(driver, *pressed: str, pause_s: float = 0.15) -> None:
    """Keys pressed in the page's terminal (xterm's textarea has the focus)."""
    from selenium.webdriver.common.action_chains import ActionChains

    for key in pressed:
        ActionChains(driver).send_keys(key).perform()
        time.sleep(pause_s)


def control(driver, key: str) -> None:
    """ctrl+``key`` pressed in the page's terminal."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()


def shown(driver, text: str, within_s: float = 30.0) -> None:
    """Wait until a screen update the page received holds ``text``."""
    deadline = time.monotonic() + within_s
    while not driver.execute_script("return window.__updates.some((u) => u.includes(arguments[0]))", text):
        assert time.monotonic() < deadline, f"the terminal never showed {text!r}"
        time.sleep(0.1)


def sign_in(served: Served, terminal_id: str, operator: str, enter: Callable[[], None]) -> dict:
    """Enter pressed until ``operator`` is signed in on ``terminal_id`` (a busy machine may start the
    app's input late)."""
    deadline = time.monotonic() + 60
    while True:
        enter()
        try:
            return served.wait(terminal_id, lambda t: t.get("operator") == operator, within_s=4)
        except AssertionError:
            assert time.monotonic() < deadline, f"{operator} never signed in on {terminal_id}"


def open_terminal(driver, served: Served, terminal_id: str, operator: str) -> dict:
    """The terminal page opened in ``driver``'s current tab, ``operator`` signed in on ``terminal_id``,
    its sale screen up."""
    from selenium.webdriver.common.keys import Keys

    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ARRIVED})  # in this tab
    driver.get(served.page("/"))
    shown(driver, served.backend_url)  # the sign-in screen says the gateway it reached
    driver.execute_script("document.querySelector('.xterm-helper-textarea').focus()")  # keys to the terminal, no click
    time.sleep(0.5)  # the app told of the focus: its field selects its text
    keys(driver, *[Keys.BACKSPACE] * 3, *operator)
    signed_in = sign_in(served, terminal_id, operator, lambda: keys(driver, Keys.ENTER))
    shown(driver, "S001")  # the sale screen's title line: the store
    time.sleep(0.5)
    return signed_in


def order_code(driver, amount: str) -> None:
    """On the sale screen: ``amount`` keyed, F5, the order code."""
    from selenium.webdriver.common.keys import Keys

    keys(driver, *amount, Keys.ENTER)
    shown(driver, f"${amount}")  # in the cart
    keys(driver, Keys.F5)
    shown(driver, "Order code")  # the tender screen
    keys(driver, "2")
