"""The gate screen (issue 7) through Textual's Pilot against the real simulator on a loopback port: a
wallet's fresh ride code opens the entry gate, the same code again is refused as a replay, an exit
at another station shows the metro network's fare, and a sync puts the taps at the backend, whose
clearing charges that fare."""

import asyncio
from dataclasses import replace

import pytest
import requests

from pos_sim.domain.codes import ride
from pos_sim.domain.fares import Fares, Journey, Leg
from pos_sim.terminal.gate import DEFAULT_NETWORK, MOBILE_APP, GateReason
from pos_sim.terminal.settings import TerminalSettings
from pos_sim.tui.app import Connection, Customer, PosApp
from pos_sim.tui.screens.gate import GateScreen, GateTerminal, network_of
from pos_sim.tui.screens.sale import SaleScreen
from tests.tui.test_payment_flows import SIZE, sgd, sign_in, simulator, text_of, until  # noqa: F401 - the fixture

NETWORK = "metro"


@pytest.fixture
def make_app(simulator, tmp_path):  # noqa: F811 - the fixture imported above
    """make_app(app_class=PosApp, **kwargs) -> the terminal on the simulator, with Alice (SGD 50.00)."""

    def make(app_class=PosApp, **kwargs):
        customers = (Customer("Alice", simulator.open_wallet(sgd("50.00"), "Alice")),)
        settings = TerminalSettings.build({"gateway.url": simulator.url, "gateway.simulator_data_dir": tmp_path / "backend",
                                           "journal_dir": tmp_path / "terminal", "time_zone": "Asia/Singapore"})
        return app_class(lambda: Connection(settings, simulator, customers), **kwargs)

    return make


def run(scenario) -> None:
    asyncio.run(scenario())


async def at_the_gate(pilot) -> GateScreen:
    """Signed in, F9 from the sale screen: the gate screen, its gate open and synced (its key ring cached)."""
    await sign_in(pilot)
    await pilot.press("f9")
    await until(pilot, lambda: isinstance(pilot.app.screen, GateScreen), what="the gate screen")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.last_sync is not None, what="the gate's first sync")
    assert screen.last_sync.ok and screen.last_sync.keyring_published_at is not None, text_of(screen, "#gate-sync")
    return screen


async def tap(pilot, screen: GateScreen, *keys: str):
    """Press ``keys`` (F5: the customer's ride code; or a code typed and Enter) and wait for the gate's decision."""
    before = len(screen.decisions)
    await pilot.press(*keys)
    await until(pilot, lambda: len(screen.decisions) == before + 1, what="the gate's decision")
    await pilot.pause()
    return screen.decisions[-1]


async def move(pilot, screen: GateScreen, station: str, direction: str) -> None:
    """Put the gate at ``station`` (F8 until it is there) facing ``direction`` (F7 turns it); wait for it to reopen."""
    synced = screen.last_sync
    if screen.direction.value != direction:
        await pilot.press("f7")
    while screen.station != station:
        await pilot.press("f8")
    await until(pilot, lambda: screen.last_sync is not synced, what=f"the gate reopened at {station}")
    assert screen.direction.value == direction and screen.last_sync.ok


def typed(code: str) -> list[str]:
    """What a keyboard-wedge scanner types for ``code``, then Enter."""
    return [{" ": "space"}.get(char, char) for char in code] + ["enter"]


def sign(screen: GateScreen) -> str:
    return next(name for name in ("open", "closed", "ready") if screen.query_one("#gate-sign").has_class(name))


def test_a_fresh_ride_code_opens_the_entry_gate_and_the_same_code_typed_again_is_refused_as_a_replay(make_app):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            screen = await at_the_gate(pilot)
            assert (screen.station, screen.direction.value, sign(screen)) == ("M01", "in", "ready")
            entered = await tap(pilot, screen, "f5")
            assert (entered.decision, entered.reason) == ("open", GateReason.OK), entered.detail
            assert sign(screen) == "open" and "OPEN" not in text_of(screen, "#gate-word")  # block letters, not the word
            assert text_of(screen, "#gate-message") == "Welcome: have a good trip\n欢迎乘车，祝您旅途愉快"  # the rider's wallet reads Chinese
            assert text_of(screen, "#gate-fare") == "Fare shown at exit"
            assert text_of(screen, "#gate-balance").splitlines()[0] == "Balance shown in your wallet app after sync"

            again = await tap(pilot, screen, *typed(entered.code))  # the wedge scanner types the same code
            assert (again.decision, again.reason) == ("deny", GateReason.REPLAYED)
            assert sign(screen) == "closed"
            assert text_of(screen, "#gate-message").splitlines()[0] == "Code already used: refresh the code in your wallet app"
            assert f"opened gate {screen.gate_id} of M01" in text_of(screen, "#gate-detail")

            junk = await tap(pilot, screen, *typed("HELLO"))
            assert junk.reason is GateReason.UNREADABLE and sign(screen) == "closed"
            stats = text_of(screen, "#gate-stats")
            assert stats.startswith("Taps 3 (1 open, 2 closed)  3 taps/min  decision p50 ") and " p95 " in stats
            table = screen.query_one("#gate-log")
            assert table.row_count == 3
            assert [str(table.get_cell_at((row, 4))) for row in range(3)] == ["unreadable", "replayed", "ok"]  # newest first

    run(scenario)


def expected_fare(entry, exit_):
    """The fare of the leg by the metro network's fares, for the wallet's medium: worked out here, apart from the gate."""
    network = network_of(DEFAULT_NETWORK)
    medium = next(medium.fare_media_id for medium in network.media.values() if medium.media_type == MOBILE_APP)
    leg = Leg(NETWORK, entry.station_id, entry.at, exit_.station_id, exit_.at)
    return Fares(network, medium).journey_fare(Journey.of(leg)).total


def test_an_exit_at_another_station_shows_the_metro_fare_and_a_sync_puts_the_taps_at_the_backend(make_app, simulator):
    app = make_app()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            screen = await at_the_gate(pilot)
            alice = app.customers[0].wallet_id
            entry = await tap(pilot, screen, "f5")
            assert entry.opened and entry.station_id == "M01"

            await move(pilot, screen, "M12", "out")  # the M01 gate syncs as it closes: its tap is at the backend
            assert screen.station_dir == app.settings.journal_dir / "stations" / "M12"
            left = await tap(pilot, screen, "f5")
            fare = expected_fare(entry, left)
            assert (left.decision, left.reason, left.fare) == ("open", GateReason.OK, fare), left.detail
            assert fare.minor > 0 and fare.currency.code == "SGD"
            shown = f"{fare.major_str()} SGD"
            assert text_of(screen, "#gate-message").splitlines() == [f"Goodbye: fare {shown}", f"再见，车费 {shown}"]
            assert text_of(screen, "#gate-fare").startswith(f"Fare {shown} from M01")
            assert "exit" in text_of(screen, "#gate-where")

            await pilot.press("f6")
            await until(pilot, lambda: "at the sync key" in text_of(screen, "#gate-sync"), what="the sync's summary")
            assert screen.last_sync.ok and (screen.last_sync.uploaded, screen.last_sync.waiting) == (1, 0)
            assert "1 taps uploaded (0 duplicates), 0 waiting" in text_of(screen, "#gate-sync")

            before = simulator.balance(alice)
            cleared = requests.post(f"{simulator.url}/sim/transit/clear", timeout=30).json()
            assert (cleared["taps"], cleared["journeys"]) == (2, 1), cleared
            assert cleared["charged"] == {"currency": "SGD", "value": str(fare.minor)}  # what the exit gate showed
            assert simulator.balance(alice) == before - fare

    run(scenario)


def test_the_gate_option_goes_to_the_stations_gate_at_sign_in_and_escape_goes_back_to_the_sale(make_app):
    app = make_app(GateTerminal, station="M05")

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: pilot.app.screen.query("#operator") and app.connection is not None,
                        what="the sign-in screen, connected")
            await pilot.press("enter")  # signed in: the sale screen, and the gate's over it
            await until(pilot, lambda: isinstance(app.screen, GateScreen), what="the gate screen")
            screen = app.screen
            await until(pilot, lambda: screen.last_sync is not None, what="the gate's first sync")
            assert (screen.station, screen.query_one("#gate-station").value) == ("M05", "M05")
            assert (app.settings.journal_dir / "stations" / "M05" / f"gate-{screen.gate_id}.db").is_file()
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen), what="the sale screen")

    run(scenario)


def test_at_the_gate_the_wallet_pane_shows_its_ride_code_and_f5_presents_it(make_app):
    app = make_app()

    async def scenario():
        async with app.run_test(size=(130, 44)) as pilot:
            screen = await at_the_gate(pilot)
            await until(pilot, lambda: app.wallet.ride and app.wallet.code.code.startswith("RC1:"), what="the ride code")
            shown = app.wallet.code.code
            assert "Ride code valid" in text_of(screen, "#wallet-expiry")
            decision = await tap(pilot, screen, "f5")
            assert decision.code == shown and decision.opened
            await until(pilot, lambda: app.wallet.code.code != shown, what="a fresh ride code after the tap")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, SaleScreen) and not app.wallet.ride,
                        what="the payment code back at the till")
            assert app.wallet.code.code.isdigit()

    run(scenario)


def test_the_gate_in_thai_says_everything_in_thai_with_the_riders_chinese_beneath(simulator, tmp_path):  # noqa: F811
    """A gate at a Bangkok station, a Chinese-speaking rider: the sign, the rider's line, the fare and where the
    entry was, a forged code's detail (the verifier's words), a misread code's (the reader's), the log and the sync line
    in Thai; no word of English on the screen but names, codes and units."""
    from tests.tui.test_payment_flows import ASCII_WORD, screen_text

    customers = (Customer("Alice", simulator.open_wallet(sgd("50.00"), "Alice")),)
    settings = TerminalSettings.build({"gateway.url": simulator.url, "gateway.simulator_data_dir": tmp_path / "backend",
                                       "journal_dir": tmp_path / "terminal", "time_zone": "Asia/Singapore",
                                       "language": "th"})
    app = PosApp(lambda: Connection(settings, simulator, customers), "th")
    names = {"Alice", "Zone", "Ah", "Huat", "Kopitiam", "Minimart", "SGD", "App", "http", "ctrl", "esc", "Enter",
             "stations", "pos", "sim"}  # people, places, the currency, keys, the station folder, the simulator's;
    # and below, words with digits in them: codes (the ride code, M01, p50)

    def english(screen) -> set[str]:
        words = [word for word in screen_text(app).split() if not any(char.isdigit() for char in word)]
        return set(ASCII_WORD.findall(" ".join(words))) - names

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            screen = await at_the_gate(pilot)
            assert text_of(screen, "#gate-word").strip() == "พร้อม" and not english(screen), english(screen)
            entry = await tap(pilot, screen, "f5")
            assert entry.opened and text_of(screen, "#gate-word").strip() == "ผ่านได้"
            assert text_of(screen, "#gate-message") == "ยินดีต้อนรับ: เดินทางโดยสวัสดิภาพ\n欢迎乘车，祝您旅途愉快"
            assert not english(screen), english(screen)
            again = await tap(pilot, screen, *typed(entry.code))
            assert again.reason is GateReason.REPLAYED and text_of(screen, "#gate-word").strip() == "ห้ามผ่าน"
            assert f"รหัสนี้เปิดประตู {screen.gate_id} ของ M01 (เข้า)" in text_of(screen, "#gate-detail")
            assert not english(screen), english(screen)
            signed = ride.read(entry.code)  # the same code, said to be signed by an issuer key no gate knows
            forged = replace(signed, signed=signed.signed[:1] + (65000).to_bytes(2, "big") + signed.signed[3:]).text
            refused = await tap(pilot, screen, *typed(forged))
            assert refused.reason is GateReason.UNKNOWN_KEY and refused.detail.startswith("Ride code not recognised")
            assert text_of(screen, "#gate-detail") == ("ไม่รู้จักรหัสโดยสาร: ประตูนี้ไม่รู้จักกุญแจผู้ออกรหัส 65000 "
                                                       "กรุณาแสดงรหัสใหม่ ถ้ายังเป็นอีกให้ติดต่อเจ้าหน้าที่")
            assert not english(screen), english(screen)
            misread = await tap(pilot, screen, *typed("RC1:abc"))  # a ride code typed in lower case: what is wrong, where
            assert misread.reason is GateReason.UNREADABLE and misread.detail.startswith("'a' is not a base45 character")
            assert text_of(screen, "#gate-detail") == ("'a' ไม่ใช่อักขระ base45 (0-9, A-Z, ช่องว่าง, $%*+-./:) "
                                                       "(base45 ใช้ตัวพิมพ์ใหญ่) (ตำแหน่ง 4)")
            assert not english(screen), english(screen)
            await move(pilot, screen, "M12", "out")
            left = await tap(pilot, screen, "f5")
            shown = f"{left.fare.major_str()} SGD"
            assert text_of(screen, "#gate-message").splitlines() == [f"ขอบคุณ: ค่าโดยสาร {shown}", f"再见，车费 {shown}"]
            assert text_of(screen, "#gate-fare").startswith(f"ค่าโดยสาร {shown} จาก M01")
            assert text_of(screen, "#gate-detail").startswith("แตะเข้าที่ M01 เวลา ")
            assert text_of(screen, "#gate-sync").startswith(f"ซิงก์กับ {simulator.url} ตอนเริ่ม: ")
            assert left.fare_text.startswith(f"Fare {shown} from M01")  # what the journal keeps and uploads: English
            assert not english(screen), english(screen)

    run(scenario)
