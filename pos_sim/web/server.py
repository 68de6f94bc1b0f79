"""``pos-sim serve``'s web app (Starlette, on uvicorn): the terminal in a browser, the trainer's page
and the customer's phone, on one port.

The terminal page is textual-serve's: its browser client (xterm.js, ``textual.js``) and, for each
browser session, its ``AppService``, which runs a command as a process on Textual's web driver and
carries keys and screen updates between it and the page's WebSocket. The command is the class's:
``pos-sim tui`` on a terminal of its own (``Classroom``). Opening the page mints a one-time session
key, in its WebSocket's URL; the session starts when the page connects with it.

Off loopback a token guards everything (``TokenGuard``): the URLs the server prints carry it as
``?token=``, and its pages pass it on to their calls. Without a token it serves on loopback only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import textual_serve
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketClose, WebSocketDisconnect
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from pos_sim.language import current
from pos_sim.scan.frames import SourceError
from pos_sim.scenarios.simulator import SimulatorError
from pos_sim.web.classroom import ClassFull, Classroom, Terminal, UnknownTerminal
from pos_sim.web.phone import MOST_IMAGE_BYTES, Phone, UnknownWallet
from pos_sim.web.words import PHONE, PHONES, TRAINER, html_language, in_words

log = logging.getLogger(__name__)

PAGES = Path(__file__).with_name("pages")
TEXTUAL_CLIENT = Path(textual_serve.__file__).with_name("static")
SESSION_KEY_S = 120.0
"""How long a terminal page's session key waits for its WebSocket."""

UNGUARDED = ("/static/", "/terminal/ws/")
"""What the token does not guard: the browser client's files (the library's own), and the terminal's
WebSocket, whose one-time session key only a guarded page hands out."""


class TokenGuard:
    """Every request needs ``token`` (as ``?token=`` or ``Authorization: Bearer``) when there is one."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket") or scope["path"].startswith(UNGUARDED):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if given and hmac.compare_digest(given.encode(), self.token.encode()):
            await self.app(scope, receive, send)
            return
        said = ("a wrong token: use the URL pos-sim serve printed" if given else
                "this pos-sim serve needs its token: open the URL it printed (it ends ?token=...)")
        if scope["type"] == "websocket":
            await WebSocketClose(4403 if given else 4401, said)(scope, receive, send)
        else:
            await PlainTextResponse(said + "\n", 403 if given else 401)(scope, receive, send)


class Sessions:
    """The terminal pages' session keys, each good for one WebSocket within ``SESSION_KEY_S``."""

    def __init__(self) -> None:
        self._keys: dict[str, float] = {}

    def mint(self) -> str:
        now = time.monotonic()
        self._keys = {key: at for key, at in self._keys.items() if now - at < SESSION_KEY_S}
        key = secrets.token_urlsafe(18)
        self._keys[key] = now
        return key

    def use(self, key: str) -> bool:
        at = self._keys.pop(key, None)
        return at is not None and time.monotonic() - at < SESSION_KEY_S


def build_app(classroom: Classroom, phone: Phone, token: str | None) -> ASGIApp:
    """The served class: ``/`` a terminal per browser session, ``/trainer``, ``/phone``."""
    templates = Jinja2Templates(directory=PAGES)
    sessions = Sessions()
    downloads = DownloadManager()

    async def terminal_page(request: Request) -> Response:
        socket = request.url_for("terminal_socket", key=sessions.mint()).replace(
            scheme="wss" if request.url.scheme == "https" else "ws")
        return templates.TemplateResponse(request, "terminal.html", {
            "socket": str(socket), "font_size": _int(request.query_params.get("fontsize"), 16)})

    async def terminal_socket(websocket: WebSocket) -> None:
        await websocket.accept()  # first, so that a refusal reaches the page with its reason
        if not sessions.use(websocket.path_params["key"]):
            await websocket.close(4404, "an unknown or used session: open the terminal page again")
            return
        try:
            terminal_id = classroom.take()
        except ClassFull as exc:
            await websocket.close(4409, str(exc))
            return
        try:
            await run_session(websocket, classroom.command(terminal_id), downloads)
        finally:
            recovered = await run_in_threadpool(classroom.leave, terminal_id)
            log.info("terminal %s: session ended%s", terminal_id, f"; recovered {', '.join(recovered)}" if recovered else "")

    async def trainer_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "trainer.html", _in_merchant_language(TRAINER))

    async def terminals(_request: Request) -> Response:
        return JSONResponse([_shown(terminal) for terminal in classroom.terminals()])

    async def terminal(request: Request) -> Response:
        try:
            return JSONResponse(_shown(classroom.terminal(request.path_params["terminal_id"])))
        except UnknownTerminal as exc:
            return _error(404, "UNKNOWN_TERMINAL", str(exc))

    async def phones_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "phones.html", {"wallets": phone.wallets} | _in_merchant_language(PHONES))

    async def phone_page(request: Request) -> Response:
        try:
            wallet = phone.wallet(request.path_params["wallet_id"])
        except UnknownWallet as exc:
            return PlainTextResponse(f"{exc}\n", 404)
        return templates.TemplateResponse(request, "phone.html", {  # the customer's phone speaks the wallet's language
            "wallet": wallet, "words": in_words(PHONE, wallet.language), "lang": html_language(wallet.language)})

    async def wallet(request: Request) -> Response:
        return await _answer(phone.show, request.path_params["wallet_id"])

    async def payment_code(request: Request) -> Response:
        return await _answer(phone.payment_code, request.path_params["wallet_id"])

    async def scan(request: Request) -> Response:
        length = _int(request.headers.get("content-length"), 0)
        if length > MOST_IMAGE_BYTES:
            return _error(413, "TOO_LARGE", f"an image of {length} bytes: at most {MOST_IMAGE_BYTES}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MOST_IMAGE_BYTES:
                return _error(413, "TOO_LARGE", f"an image over {MOST_IMAGE_BYTES} bytes")
        return await _answer(phone.scan, request.path_params["wallet_id"], bytes(body))

    app = Starlette(routes=[
        Route("/", terminal_page),
        WebSocketRoute("/terminal/ws/{key}", terminal_socket, name="terminal_socket"),
        Route("/trainer", trainer_page),
        Route("/api/terminals", terminals),
        Route("/api/terminals/{terminal_id}", terminal),
        Route("/phone", phones_page),
        Route("/phone/{wallet_id}", phone_page),
        Route("/api/wallets/{wallet_id}", wallet),
        Route("/api/wallets/{wallet_id}/payment-code", payment_code, methods=["POST"]),
        Route("/api/wallets/{wallet_id}/scan", scan, methods=["POST"]),
        Mount("/static/textual", StaticFiles(directory=TEXTUAL_CLIENT), name="textual"),
    ])
    return TokenGuard(app, token)


class Session(AppService):
    """textual-serve's ``AppService``, which also closes the page's WebSocket when the app's process
    ends however it ends (killed, say, when it has no word to say so)."""

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.remote_close()


async def run_session(websocket: WebSocket, command: str, downloads: DownloadManager) -> None:
    """One browser session: ``command`` in textual-serve's ``AppService``, fed the page's keys and
    sizes, until the page goes (or the app ends); then the app is told to quit and waited for."""

    def tolerant(send: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        async def sent(data: Any) -> None:  # the page may be gone while the app still draws
            try:
                await send(data)
            except (WebSocketDisconnect, RuntimeError, OSError):
                pass
        return sent

    async def close() -> None:
        await tolerant(lambda _: websocket.close())(None)

    service = Session(command, write_bytes=tolerant(websocket.send_bytes), write_str=tolerant(websocket.send_text),
                         close=close, download_manager=downloads)
    query = websocket.query_params
    await service.start(_int(query.get("width"), 80), _int(query.get("height"), 24))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                kind, data = json.loads(message.get("text") or "null")
            except (TypeError, ValueError):
                continue  # not an envelope of the client's
            if kind == "stdin":
                await service.send_bytes(data.encode("utf-8"))
            elif kind == "resize":
                await service.set_terminal_size(data["width"], data["height"])
            elif kind == "ping":
                await tolerant(websocket.send_text)(json.dumps(["pong", data]))
            elif kind == "blur":
                await service.blur()
            elif kind == "focus":
                await service.focus()
    except (WebSocketDisconnect, asyncio.CancelledError):
        pass
    finally:
        await service.stop()


async def _answer(call: Callable[..., dict[str, Any]], *args: Any) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(call, *args))
    except UnknownWallet as exc:
        return _error(404, "UNKNOWN_WALLET", str(exc))
    except SourceError as exc:
        return _error(400, "NOT_AN_IMAGE", str(exc))
    except SimulatorError as exc:
        return _error(502, "SIMULATOR", str(exc))


def _in_merchant_language(words: dict[str, str]) -> dict[str, Any]:
    return {"words": in_words(words, current()), "lang": html_language(current())}


def _shown(terminal: Terminal) -> dict[str, Any]:
    return asdict(terminal.status) | {"session": terminal.session, "recovered": list(terminal.recovered)}


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
