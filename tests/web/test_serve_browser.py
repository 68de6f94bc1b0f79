"""``pos-sim serve`` in Debian's headless Chromium: a terminal per browser session, a payment taken in
the served terminal, its QR read off a screenshot, and the customer's phone page paying it through
Chromium's fake camera."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime

import cv2
import pytest
import numpy as np
import requests
import zxingcpp
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import control, keys, open_terminal, order_code, start_serve, stop_serve

from pos_sim.backend.store import keys as key_files
from pos_sim.domain import ams_signature
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


def metro_trip(code: dict, entry: tuple[str, str], exit_: tuple[str, str] | None) -> list[dict]:
    """The taps the metro's gates upload for a trip on Monday 3 March 2025 (Singapore time): in at entry[0] at
    entry[1], out likewise (None: no tap-out)."""
    legs = [("in", *entry)] + ([("out", *exit_)] if exit_ else [])
    return [{"tapId": str(uuid.uuid4()), "stationId": station, "gateId": f"{station}-G1", "direction": direction,
             "at": f"2025-03-03T{at}:00+08:00", "code": code["code"], "account": code["account"], "decision": "open",
             "reason": "ok"} for direction, station, at in legs]


def test_the_phone_lists_under_a_nights_fare_each_journey_it_paid_with_its_amount_and_why_in_its_language(served, browser):
    driver = browser("--window-size=420,900")
    driver.get(served.page("/phone"))
    phones = {link.text: link.get_attribute("href") for link in driver.find_elements(By.CSS_SELECTOR, "a.wallet")}
    wallet_id = phones["Tan Ah Kow"].split("?")[0].rsplit("/", 1)[1]  # the SGD wallet, which reads Chinese
    code = requests.post(f"{served.backend_url}/sim/wallets/{wallet_id}/ride-code", json={}, timeout=10).json()
    taps = (metro_trip(code, ("M01", "08:00"), ("M12", "08:40"))    # Z1 -> Z3 at peak: 2.70
            + metro_trip(code, ("M02", "11:00"), ("M10", "11:45"))  # Z1 -> Z3 off-peak: 2.20
            + metro_trip(code, ("M03", "18:00"), ("M11", "18:50"))  # Z1 -> Z3 at peak, 2.70: the day's cap leaves 1.10
            + metro_trip(code, ("M11", "19:40"), ("M12", "19:55"))  # Z3 -> Z3 off-peak, 1.20: capped to nothing
            + metro_trip(code, ("M01", "21:00"), None))             # no tap-out: the maximum fare, 3.20
    body = json.dumps({"gateId": "G1", "taps": taps}).encode()  # as the gates upload them, signed by the operator
    operator = key_files.read_private_key(served.data_dir / "backend" / "keys" / "SIM_DEMO_private.pem")
    at = datetime.now(UTC).isoformat()
    signature = ams_signature.sign(operator, "POST", "/transit/taps", "SIM_DEMO", at, body)
    uploaded = requests.post(f"{served.backend_url}/transit/taps", data=body, timeout=30, headers={
        "client-id": "SIM_DEMO", "request-time": at, "signature": ams_signature.signature_header(signature),
        "content-type": "application/json"})
    assert uploaded.status_code == 200, uploaded.text
    cleared = requests.post(f"{served.backend_url}/sim/transit/clear", timeout=60).json()  # the night's clearing
    assert (cleared["journeys"], cleared["charged"]) == (5, {"currency": "SGD", "value": "920"}), cleared

    driver.get(phones["Tan Ah Kow"])
    text_of(driver, "history", lambda text: "2025-03-03" in text)
    fare, free, *older = driver.find_elements(By.CSS_SELECTOR, "#history > li")  # newest first: the fares above the top-up
    posting = fare.find_element(By.CSS_SELECTOR, ":scope > .line")
    assert posting.text.split()[1:] == ["车费", "-$9.20"], posting.text  # what it was, in the wallet's Chinese
    journeys = [tuple(span.text for span in line.find_elements(By.TAG_NAME, "span"))
                for line in fare.find_elements(By.CSS_SELECTOR, ".journeys .line")]
    # the trip the cap made free: in no posting (nothing moved), yet in the history, at 0
    assert free.find_element(By.CSS_SELECTOR, ":scope > .line").text.split()[1:] == ["车费", "$0.00"]
    assert [tuple(span.text for span in line.find_elements(By.TAG_NAME, "span"))
            for line in free.find_elements(By.CSS_SELECTOR, ".journeys .line")] == [
        ("2025-03-03 M11 19:40 -> M12 19:55 (已封顶：Daily cap)", "$0.00")]
    assert journeys == [
        ("2025-03-03 M01 08:00 -> M12 08:40", "$2.70"),
        ("2025-03-03 M02 11:00 -> M10 11:45", "$2.20"),
        ("2025-03-03 M03 18:00 -> M11 18:50 (已封顶：Daily cap)", "$1.10"),  # the cap as fare_capping.txt names it
        ("2025-03-03 M01 21:00 -> 未刷卡出站 (最高票价：3 小时内未刷卡出站)", "$3.20"),
    ]
    assert [item.find_elements(By.CSS_SELECTOR, ".journeys") for item in older] == [[]]  # the top-up lists no journeys
    assert driver.find_element(By.ID, "balance").text == "$190.80"  # 200.00 - 9.20


def drawn_with(driver, selector: str) -> set[str]:
    """The fonts Chromium drew the text of the page's element ``selector`` with (as the platform names them)."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return {font["familyName"] for font in driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]}


def test_the_phone_page_draws_thai_and_chinese_with_fonts_drawn_for_them(served, browser):
    driver = browser("--window-size=420,900")
    driver.get(served.page("/phone"))
    phones = {link.text: link.get_attribute("href") for link in driver.find_elements(By.CSS_SELECTOR, "a.wallet")}
    said = {}
    for name in ("Somchai Jaidee", "Tan Ah Kow"):  # Thai, simplified Chinese
        driver.get(phones[name])
        said[name] = drawn_with(driver, "#scan")
    assert said == {"Somchai Jaidee": {"Noto Sans Thai"}, "Tan Ah Kow": {"Noto Sans CJK SC"}}, said
