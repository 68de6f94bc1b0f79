"""Training mode's guard: a training register pays against the pos-sim simulator only, never a real gateway.

A training terminal keeps its own journal and sales book and stamps its receipts TRAINING, but a
cashier in training still presents real-looking codes: sent to a provider's sandbox or production
gateway, they could move money. So a training register asks the gateway, before anything else,
whether it is the simulator: ``GET {url}/sim/openapi.json`` must answer HTTP 200 with an OpenAPI
document whose ``info.title`` is ``SIMULATOR_TITLE``. That is the simulator's own admin API
description; no provider serves it. The probe is plain HTTP, like every other call of the terminal
(the backend is never imported), and it fails closed: no answer, another answer, or a document with
another title, and the register is refused with a ``SettingsError`` saying which.

A simulator serving beyond loopback guards /sim with an admin token: give it as the gateway's
``simulator_token`` (sent as ``Authorization: Bearer``), or the probe is refused (HTTP 403).
"""

from __future__ import annotations

import requests

from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.gateway import Timeouts

SIMULATOR_TITLE = "pos-sim wallet simulator"
PROBE_PATH = "/sim/openapi.json"


def require_simulator(url: str, timeouts: Timeouts = Timeouts(), token: str | None = None) -> None:
    """Return if the gateway at ``url`` is the pos-sim simulator; else a SettingsError saying why not."""
    probe = url.rstrip("/") + PROBE_PATH
    refused = f"training mode pays against the pos-sim simulator only, and {url} is not known to be one"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(probe, headers=headers, timeout=(timeouts.connect_s, timeouts.read_s), allow_redirects=False)
    except requests.RequestException as exc:
        raise SettingsError(f"{refused}: GET {PROBE_PATH} had no answer ({type(exc).__name__})") from None
    if answer.status_code == 403:
        raise SettingsError(f"{refused}: GET {PROBE_PATH} was refused (HTTP 403); a simulator serving beyond "
                            "loopback needs its admin token as gateway.simulator_token")
    if answer.status_code != 200:
        raise SettingsError(f"{refused}: GET {PROBE_PATH} answered HTTP {answer.status_code}")
    try:
        document = answer.json()
    except ValueError:
        document = None
    info = document.get("info") if isinstance(document, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    if title != SIMULATOR_TITLE:
        said = f"the title {title!r}" if isinstance(title, str) else "no OpenAPI title"
        raise SettingsError(f"{refused}: GET {PROBE_PATH} answered {said}, not {SIMULATOR_TITLE!r}")
