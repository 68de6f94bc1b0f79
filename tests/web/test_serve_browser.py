"""``pos-sim serve`` in Debian's headless Chromium: a terminal per browser session, a payment taken in
the served terminal, its QR read off a screenshot, and the customer's phone page paying it through
Chromium's fake camera."""

from __future__ import annotations

import sqlite3
import time

import cv2
import pytest
import numpy as np
import zxingcpp
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import control, keys, open_terminal, order_code, start_serve, stop_serve

from pos_sim.terminal.journal import Journal, State
from pos_sim.terminal.sales import SalesBook


pytestmark = pytest.mark.xdist_group("web")  # one process: each test runs a server, its terminals (and a browser)


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
    order_code(terminal, "12.30")
    served.wait("T01", lambda t: t["payment"] in (State.SENT.value, State.RESOLVING.value))  # waiting on the customer
    time.sleep(1.5)  # the order code screen drawn
    shot = tmp_path / "terminal.png"
    terminal.save_screenshot(str(shot))
    screen = cv2.imread(str(shot))
    _request_id, issued = issued_order_code(served, "T01")
    assert issued in [read.text for read in zxingcpp.read_barcodes(screen)]

    video = tmp_path / "terminal.y4m"
    y4m(screen, video)
    phone = browser("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}", "--window-size=420,900")
    phone.get(served.page("/phone"))
    phone.find_element(By.CSS_SELECTOR, "a.wallet").click()
    before = text_of(phone, "balance", lambda text: text.startswith("$"))
    phone.find_element(By.ID, "scan").click()
    assert text_of(phone, "said", lambda text: "$12.30" in text) == "已支付 $12.30"  # Tan Ah Kow's wallet speaks Chinese
    assert served.wait("T01", lambda t: t["payment"] == State.APPROVED.value)["operator"] == "ana"
    with Journal.open(served.data_dir / "terminals" / "T01" / "journal.db") as journal:
        assert [entry.state for entry in journal.entries()] == [State.APPROVED]
    assert (before, text_of(phone, "balance", lambda text: text != before)) == ("$200.00", "$187.70")


def test_three_sessions_are_three_terminals_with_journals_of_their_own(served, browser):
    driver = browser()
    for number, operator in enumerate(("ana", "ben", "cy"), start=1):
        if number > 1:
            driver.switch_to.new_window("tab")
        open_terminal(driver, served, f"T0{number}", operator)
    keys(driver, *"3.40", Keys.ENTER)  # on T03: an amount; the customer shows the wallet's code to the scanner
    control(driver, "y")
    paid = served.wait("T03", lambda t: t["payment"] == State.APPROVED.value)

    trainer = browser()
    trainer.get(served.page("/trainer"))
    rows = text_of(trainer, "terminals", lambda text: "cy" in text).splitlines()
    assert [row.split()[:3] for row in rows] == [["T01", "live", "ana"], ["T02", "live", "ben"], ["T03", "live", "cy"]]
    assert paid["operator"] == "cy"
    journals = {}
    for terminal_id in ("T01", "T02", "T03"):  # the sales books are the live registers' (locked), the journals readable
        with Journal.open(served.data_dir / "terminals" / terminal_id / "journal.db") as journal:
            journals[terminal_id] = [(entry.order_reference, entry.state) for entry in journal.entries()]
    assert journals == {"T01": [], "T02": [], "T03": [("T03-000001", State.APPROVED)]}


def test_a_tab_closed_mid_payment_leaves_the_payment_resolved_and_the_terminal_free(served, browser):
    driver = browser()
    open_terminal(driver, served, "T01", "ana")
    order_code(driver, "8.20")  # the customer is waited for
    served.wait("T01", lambda t: t["payment"] in (State.SENT.value, State.RESOLVING.value))
    terminal_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.switch_to.window(terminal_tab)
    driver.close()  # the terminal's tab closed mid-payment
    driver.switch_to.window(driver.window_handles[0])
    ended = served.wait("T01", lambda t: t["session"] == "ended")
    with Journal.open(served.data_dir / "terminals" / "T01" / "journal.db") as journal:
        assert journal.pending() == []
        assert [entry.state for entry in journal.entries()] == [State.CANCELLED]
    with SalesBook.open(served.data_dir / "terminals" / "T01" / "sales.db", "T01-") as book:
        assert [(sale.receipt_number, sale.state) for sale in book.sales()] == [("T01-000001", State.CANCELLED)]
    assert ended["operator"] == "ana"
    open_terminal(driver, served, "T01", "ben")  # the next session is given the terminal freed


def test_each_phone_speaks_its_wallets_language_and_the_trainers_page_the_merchants(tmp_path, browser, monkeypatch):
    monkeypatch.setenv("POS_SIM_LANGUAGE", "th")  # the merchant's
    served = start_serve(tmp_path / "class")
    try:
        driver = browser("--window-size=420,900")
        driver.get(served.page("/trainer"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "ชั้นเรียน"
        assert text_of(driver, "terminals", lambda text: text != "") == "ยังไม่มีเครื่อง"  # no terminal yet
        assert "หน้าเครื่องชำระเงิน" in driver.find_element(By.TAG_NAME, "p").text  # the link to the terminal page, in its sentence

        driver.get(served.page("/phone"))
        assert driver.find_element(By.TAG_NAME, "h1").text == "โทรศัพท์ของใคร?"
        phones = {link.text: link.get_attribute("href") for link in driver.find_elements(By.CSS_SELECTOR, "a.wallet")}
        said = {}
        for name, page in phones.items():
            driver.get(page)
            history = text_of(driver, "history", lambda text: text != "")
            said[name] = (driver.find_element(By.TAG_NAME, "html").get_attribute("lang"),
                          driver.find_element(By.ID, "scan").text, history.split()[1])
        assert said == {"Tan Ah Kow": ("zh-Hans", "扫描终端上的码", "充值"),  # each wallet's language, the merchant's aside
                        "Siti Aminah": ("ms", "Imbas kod terminal", "wang"),
                        "Somchai Jaidee": ("th", "สแกนโค้ดบนเครื่อง", "เติมเงิน")}
    finally:
        stop_serve(served)
