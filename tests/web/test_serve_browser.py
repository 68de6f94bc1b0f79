"""``pos-sim serve`` in Debian's headless Chromium: a terminal per browser session, a payment taken in
the served terminal, its QR read off a screenshot, and the customer's phone page paying it through
Chromium's fake camera."""

from __future__ import annotations

import sqlite3
import time

import cv2
import numpy as np
import zxingcpp
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import keys, open_terminal

from pos_sim.terminal.journal import Journal, State


def issued_order_code(served, terminal_id: str) -> tuple[str, str]:
    """(payment request id, order code) of the terminal's one payment, as the backend issued and keeps it."""
    with Journal.open(served.data_dir / "terminals" / terminal_id / "journal.db") as journal:
        [entry] = journal.entries()
    ledger = sqlite3.connect(f"file:{served.data_dir / 'backend' / 'ledger.db'}?mode=ro", uri=True)
    try:
        [(code,)] = ledger.execute("SELECT payment_method_id FROM payments WHERE payment_request_id = ? AND scenario = 'OrderCode'",
                                   (entry.payment_request_id,)).fetchall()
    finally:
        ledger.close()
    return entry.payment_request_id, code


def text_of(driver, element_id: str, ready, within_s: float = 30.0) -> str:
    """The text of the page's element ``element_id`` once ``ready`` says so (or as it is after ``within_s``)."""
    deadline = time.monotonic() + within_s
    while not ready(text := driver.find_element(By.ID, element_id).text) and time.monotonic() < deadline:
        time.sleep(0.2)
    return text


def y4m(image: np.ndarray, path, frames: int = 2) -> None:
    """``image`` (BGR) as a YUV4MPEG2 video, the format Chromium's fake camera plays (4:2:0, even sides)."""
    height, width = (side - side % 2 for side in image.shape[:2])
    planes = cv2.cvtColor(np.ascontiguousarray(image[:height, :width]), cv2.COLOR_BGR2YUV_I420).tobytes()
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)


def test_an_order_code_paid_by_the_phone_page_scanning_the_served_terminal(served, browser, tmp_path):
    terminal = browser()
    open_terminal(terminal, served, "T01", "ana")
    keys(terminal, *"12.30", Keys.ENTER, Keys.F5, "2")  # an amount, pay, the order code
    served.wait("T01", lambda t: t["payment"] in (State.SENT.value, State.RESOLVING.value))  # waiting on the customer
    time.sleep(1.5)  # the order code screen drawn
    shot = tmp_path / "terminal.png"
    terminal.save_screenshot(str(shot))
    screen = cv2.imread(str(shot))
    _request_id, order_code = issued_order_code(served, "T01")
    assert order_code in [read.text for read in zxingcpp.read_barcodes(screen)]

    video = tmp_path / "terminal.y4m"
    y4m(screen, video)
    phone = browser("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}", "--window-size=420,900")
    phone.get(served.page("/phone"))
    phone.find_element(By.CSS_SELECTOR, "a.wallet").click()
    before = text_of(phone, "balance", lambda text: text.startswith("$"))
    phone.find_element(By.ID, "scan").click()
    assert text_of(phone, "said", lambda text: text.startswith("Paid")) == "Paid $12.30"
    assert served.wait("T01", lambda t: t["payment"] == State.APPROVED.value)["operator"] == "ana"
    with Journal.open(served.data_dir / "terminals" / "T01" / "journal.db") as journal:
        assert [entry.state for entry in journal.entries()] == [State.APPROVED]
    assert (before, text_of(phone, "balance", lambda text: text != before)) == ("$200.00", "$187.70")
