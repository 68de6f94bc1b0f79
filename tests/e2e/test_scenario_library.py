"""The scenario library (pos_sim/assets/scenarios) runs green: every file through the runner, against a real
simulator on a loopback port, real decoders on real images, a real terminal process killed; and a
scenario that expects the wrong thing fails, saying what it expected, what it got, and where."""


import pytest

from pos_sim.assets import ASSETS
from pos_sim.backend import server
from pos_sim.scenarios import parse_file, parse_text
from pos_sim.scenarios.results import FAILED, PASSED, SKIPPED
from pos_sim.scenarios.runner import Runner

LIBRARY = ASSETS / "scenarios"
FILES = sorted(LIBRARY.rglob("*.yaml"))


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("simulator")
    running = server.start(server.open_gateway(data_dir))
    with Runner(running.url, data_dir, work_dir=tmp_path_factory.mktemp("journals")) as scenarios:
        yield scenarios
    running.stop()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(LIBRARY)) for p in FILES])
def test_the_library_runs_green(runner, path):
    result = runner.run_file(parse_file(path))
    failed = [s for s in result.scenarios if not s.passed]
    assert not failed, "\n\n".join(f"{s.scenario.name}: {s.summary()}\n{s.log()}" for s in failed)
    for scenario in result.scenarios:
        assert scenario.score == scenario.scenario.max_score  # a training exercise done right scores full marks


def test_the_library_covers_every_tender_result_code_fault_action_and_scanner_source():
    text = "\n".join(path.read_text(encoding="utf-8") for path in FILES)
    for tender in ("customer-code", "order-code", "entry-code", "phone-tap"):
        assert f"tender: {tender}" in text, tender
    for code in ("USER_BALANCE_NOT_ENOUGH", "RISK_REJECT", "INVALID_CODE", "EXPIRED_CODE", "ORDER_IS_CLOSED",
                 "CURRENCY_NOT_SUPPORT", "ORDER_NOT_EXIST",
                 "PROCESS_FAIL", "CANCEL_WINDOW_EXCEED", "REFUND_WINDOW_EXCEED"):
        assert f"result_code: {code}" in text, code
    for ending in ("51", "52", "53", "54", "55", "59"):
        assert f'.{ending}"' in text, ending
    for action in ("decline", "unknown", "late-success", "timeout", "error"):
        assert f"action: {action}" in text, action
    for source in ("file:", "virtual:", "wedge:", "kill_terminal:", "restart_terminal:"):
        assert source in text, source
    from pos_sim.scan.damage import PROFILES
    for profile in PROFILES:
        assert f"damage: {profile}" in text, profile


def test_a_scenario_expecting_the_wrong_thing_fails_saying_what_and_where(runner, tmp_path):
    path = tmp_path / "wrong.yaml"
    scenario = parse_text(
        "name: Expects an approval of a declined payment\n"
        "wallets:\n"
        "  alice: {currency: SGD, balance: '100.00'}\n"
        "steps:\n"
        "  - key_amount: '12.51'\n"
        "  - pay: {tender: customer-code, wallet: alice}\n"
        "    expect:\n"
        "      state: APPROVED\n"
        "      balance: {alice: '87.49'}\n"
        "      receipt_contains: [DECLINED]\n"
        "  - refund: last\n", path).scenarios[0]
    result = runner.run(scenario)
    assert not result.passed and result.status == FAILED
    assert [s.status for s in result.steps] == [PASSED, FAILED, SKIPPED]
    assert result.summary() == (
        "step 2 pay (line 6): state (line 8): expected APPROVED, got DECLINED (USER_BALANCE_NOT_ENOUGH: The user balance "
        "is not enough for the payment.); balance of alice (line 9): expected 87.49 SGD, got 100.00 SGD")
    assert [c.passed for c in result.steps[1].checks] == [False, False, True]
    log = result.log()
    assert "FAIL step 2 pay (line 6)" in log and "skip step 3 refund (line 11)" in log
    assert "sale T01-000001: DECLINED USER_BALANCE_NOT_ENOUGH 12.51 SGD" in log
    assert "| TOTAL" in log  # the receipt it printed, for whoever reads the failure


def test_a_refusal_no_step_expected_fails_the_step_with_the_register_s_words(runner, tmp_path):
    scenario = parse_text("name: Refunds more than was paid\nwallets: {a: {currency: SGD, balance: '10'}}\nsteps:\n"
                          "  - key_amount: '2'\n  - pay: {tender: customer-code, wallet: a}\n"
                          "  - refund: {amount: '3'}\n", tmp_path / "over.yaml").scenarios[0]
    result = runner.run(scenario)
    assert result.summary() == ("step 3 refund (line 6): refund of 3.00 SGD is more than the 2.00 left to refund of sale "
                                "T01-000001 (paid 2.00, refunded 0.00)")
