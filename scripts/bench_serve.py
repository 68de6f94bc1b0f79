#!/usr/bin/env python3
"""How quickly a key pressed in the browser shows on the served terminal, with 1 session open (the
baseline) and with 10 (a class), in one run; and the memory each session's process takes.

``pos-sim serve`` runs on a loopback port with a fresh class folder. The measured session is a page
in Debian's headless Chromium (selenium, /usr/bin/chromium): a script put in the page before its
own records when a key went down (the page's keydown) and when the first screen update that shows
the key's effect arrived, and the next animation frame after it (the update painted). The key is a
letter typed into the sign-in screen's operator field; its effect is the field's new text in an
update. With 10 sessions the other 9 are trainees typing: each a WebSocket client of the same
server (the page's protocol) typing a key a second into its own terminal.

Memory: each session's ``pos-sim tui`` process, RSS and PSS (its share of pages shared with the other
sessions, from /proc/PID/smaps_rollup), once the 10 are open; and the server's own process.

    .venv/bin/python scripts/bench_serve.py [--keys 60] [--sessions 10]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
TARGET_MS = 100.0
LETTERS = "abcdefghijkl"  # typed after the field's "01", then taken back (not measured)

RECORDER = """
window.__keys = []; window.__frames = [];
document.addEventListener("keydown", () => window.__keys.push(performance.now()), true);
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new Native(url, protocols);
  const decoder = new TextDecoder();
  socket.addEventListener("message", (event) => {
    const frame = {at: performance.now(), text: typeof event.data === "string" ? event.data : decoder.decode(event.data)};
    requestAnimationFrame(() => { frame.painted = performance.now(); });
    window.__frames.push(frame);
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""


def start_serve(folder: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([str(PYTHON), "-m", "pos_sim", "serve", "--port", "0", "--data-dir", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    if not line.startswith("pos-sim serve on "):
        process.kill()
        raise SystemExit(f"pos-sim serve did not start: {line}")
    return process, line.split()[3]


def terminal(url: str, terminal_id: str) -> dict:
    answer = requests.get(f"{url}/api/terminals/{terminal_id}", timeout=10)
    return answer.json() if answer.status_code == 200 else {}


def wait_live(url: str, terminal_id: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while terminal(url, terminal_id).get("session") != "live":
        if time.monotonic() > deadline:
            raise SystemExit(f"{terminal_id} never came up")
        time.sleep(0.2)


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='bench-chromium-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    return driver


def press(driver: webdriver.Chrome, key: str) -> None:
    ActionChains(driver).send_keys(key).perform()


def measure(driver: webdriver.Chrome, count: int) -> list[float]:
    """Milliseconds from keydown to the painted update showing the key, for ``count`` letters."""
    latencies: list[float] = []
    typed = ""
    press(driver, Keys.END)  # the field's "01" kept (focus selects it), the cursor after it
    time.sleep(0.3)
    while len(latencies) < count:
        letter = LETTERS[len(typed)]
        driver.execute_script("window.__frames = []; window.__keys = [];")
        press(driver, letter)
        typed += letter
        shown = "01" + typed
        deadline = time.monotonic() + 5
        while True:
            found = driver.execute_script(
                "const k = window.__keys[0]; const f = window.__frames.find((f) => k !== undefined && f.at >= k"
                " && f.text.includes(arguments[0]) && f.painted !== undefined); return f ? f.painted - k : null;", shown)
            if found is not None:
                latencies.append(found)
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the key {letter!r} never showed (looking for {shown!r})")
            time.sleep(0.01)
        time.sleep(0.05)
        if len(typed) == len(LETTERS) or len(latencies) == count:
            for _ in typed:
                press(driver, Keys.BACKSPACE)
            typed = ""
            time.sleep(0.3)
    return latencies


class Trainee(threading.Thread):
    """A session driven over its WebSocket as the page drives it: a key a second into its own terminal."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        page = requests.get(url + "/", timeout=10).text
        self.connection = ExitStack()
        self.socket = self.connection.enter_context(
            connect(re.search(r'data-session-websocket-url="([^"]+)"', page)[1] + "?width=140&height=44"))
        self.stopping = threading.Event()
        self.ready = threading.Event()  # its sign-in screen drawn, the gateway reached
        threading.Thread(target=self.drain, daemon=True).start()

    def drain(self) -> None:
        try:
            while True:
                update = self.socket.recv()
                if b"simulator)" in (update if isinstance(update, bytes) else update.encode()):
                    self.ready.set()
        except ConnectionClosed:
            pass

    def run(self) -> None:
        keys = ["x", "\x7f"]
        n = 0
        while not self.stopping.wait(1.0):
            self.socket.send(json.dumps(["stdin", keys[n % 2]]))
            n += 1

    def stop(self) -> None:
        self.stopping.set()
        self.connection.close()


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of process ``pid`` in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    return int(fields["Rss"].split()[0]), int(fields["Pss"].split()[0])


def session_pids(folder: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tui" in command and any(part.startswith(str(folder).encode()) and part.endswith(b"status.json") for part in command):
            pids.append(int(proc.name))
    return pids


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{name:<28} n={len(values):3d}  median {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms   max {ordered[-1]:6.1f} ms"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60, help="keys measured in each setting (default %(default)s)")
    parser.add_argument("--sessions", type=int, default=10, help="sessions open in the loaded setting (default %(default)s)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    process, url = start_serve(folder / "class")
    driver = browser()
    trainees: list[Trainee] = []
    try:
        driver.get(url + "/")
        wait_live(url, "T01")
        driver.execute_script("document.querySelector('.xterm-helper-textarea').focus()")  # keys to the terminal, no click
        time.sleep(0.5)  # the app told of the focus (its field selects its text)
        deadline = time.monotonic() + 60
        while not driver.execute_script("return window.__frames.some((f) => f.text.includes('simulator)'))"):
            if time.monotonic() > deadline:
                raise SystemExit("the sign-in screen never showed the gateway reached")
            time.sleep(0.1)
        measure(driver, 12)  # warm-up, not counted
        baseline = measure(driver, args.keys)
        for number in range(2, args.sessions + 1):
            trainees.append(Trainee(url))
            wait_live(url, f"T{number:02d}")
        for trainee in trainees:
            if not trainee.ready.wait(120):
                raise SystemExit("a trainee's terminal never came up")
            trainee.start()
        time.sleep(3)  # every terminal typing
        loaded = measure(driver, args.keys)
        pids = session_pids(folder)
        memory = [memory_kib(pid) for pid in pids]
        serve_rss, serve_pss = memory_kib(process.pid)
    finally:
        for trainee in trainees:
            trainee.stop()
        driver.quit()
        process.send_signal(2)
        process.wait(timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"pos-sim serve: a key typed in the browser to its effect painted (keydown -> update -> next frame)")
    print(summary("baseline: 1 session", baseline))
    print(summary(f"{args.sessions} sessions (9 typing)", loaded))
    print(f"ratio {args.sessions} sessions / 1: median {statistics.median(loaded) / statistics.median(baseline):.2f}x, "
          f"p95 {p95(loaded) / p95(baseline):.2f}x; target p95 <= {TARGET_MS:g} ms: {'met' if p95(loaded) <= TARGET_MS else 'NOT met'}")
    rss = [r / 1024 for r, _ in memory]
    pss = [p / 1024 for _, p in memory]
    print(f"memory per session ({len(memory)} pos-sim tui processes): RSS median {statistics.median(rss):.0f} MiB "
          f"(max {max(rss):.0f}), PSS median {statistics.median(pss):.0f} MiB (max {max(pss):.0f}); "
          f"the server itself RSS {serve_rss / 1024:.0f} MiB, PSS {serve_pss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
