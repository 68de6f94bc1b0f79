"""pos-sim as users get it: the wheel built from this checkout, installed in a clean venv in a
temporary folder with the locked versions, and run there, away from the checkout, with a fresh home
(no config, no data dir): the README's jobs, each one line with its time.

    .venv/bin/python scripts/check_wheel.py [--keep]

1. a sale on the embedded simulator, paid by a demo customer (``pos-sim sale --customer``);
2. a bundled scenario by name (``pos-sim scenario run demo/order-code``);
3. a gate tap: a ride code from a wallet of ``pos-sim backend``, opened by ``pos-sim gate``;
4. the terminal UI's first screen, from bare ``pos-sim`` in tmux;
5. a class served to browsers (``pos-sim serve``): its pages, the browser terminal's script, and a
   terminal session over the page's WebSocket up to its sign-in screen.

Exit 0 when all pass; 1 with the first one that did not, and what it printed. Run by ``.ci/run``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets.sync.client
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Failed(Exception):
    pass


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
        expect: int = 0) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if done.returncode != expect:
        said = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise Failed(f"{' '.join(command[:4])}... exit {done.returncode}, not {expect}:\n  " + "\n  ".join(said))
    return done.stdout


def step(name: str, job) -> None:
    started = time.monotonic()
    said = job()
    print(f"ok   {name:<44} {time.monotonic() - started:5.1f} s  {said or ''}", flush=True)


def unhashed(lock: Path, into: Path) -> Path:
    """The lock as pip constraints: its pins and markers, without the hashes (a wheel is no lock entry)."""
    pins = [line.rstrip(" \\") for line in lock.read_text(encoding="utf-8").splitlines()
            if re.match(r"[A-Za-z0-9]", line)]
    into.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return into


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    work = Path(tempfile.mkdtemp(prefix="pos-sim-wheel-"))
    home, away = work / "home", work / "away"
    home.mkdir()
    away.mkdir()
    venv = work / "venv"
    pos_sim = str(venv / "bin" / "pos-sim")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("POS_SIM_", "XDG_", "VIRTUAL_ENV", "PYTHON"))}
    env |= {"HOME": str(home), "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "TERM": "xterm-256color"}
    try:
        def build() -> str:
            # the sdist first, then the wheel from it (in a folder of its own): nothing left in build/ gets in
            run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(ROOT)], cwd=ROOT)
            wheel = next((work / "dist").glob("pos_sim-*.whl"))
            return f"{wheel.name}, {wheel.stat().st_size // 1024} KiB"

        def install() -> str:
            run([sys.executable, "-m", "venv", str(venv)], cwd=away)
            wheel = next((work / "dist").glob("pos_sim-*.whl"))
            run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel),
                 "-c", str(unhashed(ROOT / "requirements.lock", work / "constraints.txt"))], cwd=away, env=env, timeout=900)
            where = run([str(venv / "bin" / "python"), "-c", "import pos_sim; print(pos_sim.__file__)"], cwd=away, env=env).strip()
            if not where.startswith(str(venv)):
                raise Failed(f"pos_sim imported from {where}, not from the venv")
            return run([pos_sim, "--version"], cwd=away, env=env).strip()

        def sale() -> str:
            said = json.loads(run([pos_sim, "sale", "--item", "8888012000124", "--amount", "3.40", "--customer", "--json"],
                                  cwd=away, env=env))
            if said["status"] != "APPROVED":
                raise Failed(f"the sale ended {said['status']} {said['resultCode']}")
            return f"{said['status']} {said['receiptNumber']} {said['amount']['value']} {said['amount']['currency']}"

        def scenario() -> str:
            out = run([pos_sim, "scenario", "run", "demo/order-code"], cwd=away, env=env)
            return out.strip().splitlines()[-1]

        def gate() -> str:
            data = work / "backend"
            backend = subprocess.Popen([pos_sim, "backend", "--port", "0", "--data-dir", str(data)], cwd=away, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                line = backend.stdout.readline()
                if not line.startswith("pos-sim backend on "):
                    raise Failed(f"pos-sim backend did not start: {line}{backend.stderr.read()[-500:]}")
                url = line.split()[3]

                def post(path: str, body: dict) -> dict:
                    request = urllib.request.Request(url + path, json.dumps(body).encode(), {"content-type": "application/json"})
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        return json.load(answer)

                wallet = post("/sim/wallets", {"currency": "SGD", "balance": 5000})["walletId"]
                code = post(f"/sim/wallets/{wallet}/ride-code", {"companions": 0})["code"]
                said = json.loads(run([pos_sim, "gate", "--backend", url, "--backend-data-dir", str(data), "--station", "M01",
                                       "--direction", "in", "--text", code, "--json"], cwd=away, env=env))
            finally:
                backend.terminate()
                backend.wait(timeout=10)
            if said["decision"] != "open":
                raise Failed(f"the gate said {said}")
            return f"{said['decision']} ({said['reason']})"

        def first_screen() -> str:
            session = f"pos-sim-wheel-{os.getpid()}"
            tmux = ["tmux", "-L", session]
            subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", pos_sim], cwd=away, env=env,
                           check=True)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
                    if "Operator" in screen and "Gateway http" in screen:
                        return "sign-in screen, embedded gateway reached"
                    time.sleep(0.2)
                raise Failed("bare pos-sim did not show the sign-in screen with its gateway within 60 s:\n" + screen)
            finally:
                subprocess.run([*tmux, "kill-server"], capture_output=True)

        def served_class() -> str:
            server = subprocess.Popen([pos_sim, "serve", "--port", "0", "--data-dir", str(work / "class")], cwd=away,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                line = server.stdout.readline()
                if not line.startswith("pos-sim serve on "):
                    raise Failed(f"pos-sim serve did not start: {line}{server.stderr.read()[-500:]}")
                url = line.split()[3]
                pages = {}
                for path in ("/", "/trainer", "/phone"):
                    with urllib.request.urlopen(url + path, timeout=10) as answer:
                        pages[path] = answer.read().decode()
                script = re.search(r'<script src="([^"]+)"', pages["/"])
                socket = re.search(r'data-session-websocket-url="([^"]+)"', pages["/"])
                if not (script and socket and "/phone/W" in pages["/phone"]):
                    raise Failed(f"the class's pages lack the terminal's script, its socket or the phones:\n{pages}")
                with urllib.request.urlopen(script[1], timeout=10) as answer:
                    answer.read()
                screen = b""
                with websockets.sync.client.connect(socket[1] + "?width=100&height=30", open_timeout=10) as session:
                    deadline = time.monotonic() + 60
                    while b"Operator" not in screen and time.monotonic() < deadline:
                        try:
                            message = session.recv(timeout=1)
                        except TimeoutError:
                            continue
                        screen += message if isinstance(message, bytes) else message.encode()
                if b"Operator" not in screen:
                    raise Failed(f"the served terminal showed no sign-in screen within 60 s: {screen[-300:]!r}")
            finally:
                server.terminate()
                server.wait(timeout=20)
            return "pages, script and a terminal session's sign-in screen"

        step("sdist and wheel built", build)
        step("installed in a clean venv (locked versions)", install)
        step("sale on the embedded simulator", sale)
        step("bundled scenario by name", scenario)
        step("gate tap", gate)
        step("terminal UI's first screen (bare pos-sim)", first_screen)
        step("class served to browsers (pos-sim serve)", served_class)
    except Failed as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    finally:
        if keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("wheel: every job passed away from the checkout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
