"""Scenario files read into the model, and every mistake in one said with its file, line and column:
YAML that does not parse, an unknown action or field, a value of the wrong kind, a name used before
it is defined. Nothing here runs a scenario."""

import re
from pathlib import Path

import pytest

from pos_sim.assets import ASSETS
from pos_sim.domain.money import Money
from pos_sim.scenarios import ScenarioError, parse_file, parse_text
from pos_sim.scenarios.model import (
    Expectation, Fault, FileSource, KeyAmount, KillTerminal, Pay, Refund, Report, ReportExpected, RestartTerminal, Scan,
    ScanItem, TenderTotalsExpected, VirtualSource, Void, Wait, WedgeSource, Where,
)

LIBRARY = ASSETS / "scenarios"

GOOD = """\
description: a file of two scenarios
scenarios:
  - name: Breakfast
    description: >
      Two items, paid by code,
      then refunded in part.
    terminal: {store_id: TILL-7, deadline_s: 2}
    wallets:
      alice: {currency: SGD, balance: "50.00"}
      somchai: {currency: THB, balance: 2000}
    steps:
      - scan_item: 071823004513
      - key_amount: {amount: 12.50, description: Corkage}
        expect: {cart_total: "19.39 SGD"}
      - pay: {tender: customer-code, wallet: alice, label: breakfast}
        score: 3
        note: Ask for the code.
        expect:
          state: APPROVED
          result_code: null
          balance: {alice: "30.61", somchai: "2000"}
          receipt_contains: TOTAL
          within_s: 5
      - refund: {sale: breakfast, amount: "1.30", reason: no kopi}
        expect: {state: DONE}
      - report: X
        expect:
          report: {totals: {customer-code: {sales: "19.39", sales_count: 1, net: "18.09"}}, net: "18.09", mismatches: 0}
  - name: Scanners and faults
    steps:
      - fault: {call: pay, action: timeout, result_code: RISK_REJECT, delay_ms: 500, match: {paymentAmount.value: 1250}}
      - key_amount: "1"
      - scan: {virtual: {text: "251001020000000000000042", damage: blur, strength: 1, seed: 3}}
        expect: {scanned: false}
      - scan: {wedge: "8888012000292\\r", use: item}
      - scan: {file: code.png}
      - void:
      - restart_terminal:
      - wait: 0.5
"""


@pytest.fixture
def scenario_file(tmp_path):
    """scenario_file(text) -> its path, in a folder with an image code.png beside it."""
    (tmp_path / "code.png").write_bytes(b"not read while parsing")

    def write(text: str) -> Path:
        path = tmp_path / "scenario.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def refused(path: Path) -> tuple[int, int, str]:
    """The line, column and message of the ScenarioError reading ``path`` raises."""
    with pytest.raises(ScenarioError) as caught:
        parse_file(path)
    said = str(caught.value)
    match = re.fullmatch(rf"{re.escape(str(path))}:(\d+):(\d+): (.+)", said, re.S)
    assert match, said
    return int(match[1]), int(match[2]), match[3]


def sgd(major: str) -> Money:
    return Money.of_major(major, "SGD")


# --- a good file --------------------------------------------------------------------------------


def test_a_good_file_parses_into_the_model(scenario_file, tmp_path):
    path = scenario_file(GOOD)
    parsed = parse_file(path)
    assert parsed.description == "a file of two scenarios" and [s.name for s in parsed.scenarios] == ["Breakfast", "Scanners and faults"]
    breakfast, scanners = parsed.scenarios
    assert breakfast.description == "Two items, paid by code, then refunded in part."
    assert breakfast.terminal.values == {"store_id": "TILL-7", "polling.deadline_s": 2.0} and breakfast.terminal.currency == "SGD"
    assert {name: w.balance for name, w in breakfast.wallets.items()} == {"alice": sgd("50.00"), "somchai": Money.of_minor(200000, "THB")}
    actions = [step.action for step in breakfast.steps]
    assert actions == [
        ScanItem("071823004513"),  # as written: the leading zero stays
        KeyAmount(Money.of_minor(1250, "SGD"), "Corkage"),  # 12.50 is read from its digits, never as a float
        Pay("customer-code", "alice", label="breakfast"),
        Refund("breakfast", sgd("1.30"), "no kopi"),
        Report("x"),
    ]
    pay = breakfast.steps[2]
    assert (pay.number, pay.keyword, pay.score, pay.note, pay.where) == (3, "pay", 3, "Ask for the code.", Where(path, 15, 9))
    assert pay.expect == (
        Expectation("state", "APPROVED", Where(path, 19, 11)),
        Expectation("result_code", None, Where(path, 20, 11)),
        Expectation("balance", {"alice": sgd("30.61"), "somchai": Money.of_minor(200000, "THB")}, Where(path, 21, 11)),
        Expectation("receipt_contains", ("TOTAL",), Where(path, 22, 11)),
        Expectation("within_s", 5.0, Where(path, 23, 11)),
    )
    assert breakfast.steps[1].expect[0].value == Money.of_minor(1939, "SGD")
    assert breakfast.steps[4].expect[0].value == ReportExpected(
        totals=(TenderTotalsExpected("customer-code", sales=sgd("19.39"), sales_count=1, net=sgd("18.09")),),
        net=sgd("18.09"), mismatches=0)
    assert breakfast.max_score == 3 and breakfast.scored and not scanners.scored
    assert [step.action for step in scanners.steps] == [
        Fault("pay", "timeout", "RISK_REJECT", 1, 500, {"paymentAmount.value": "1250"}),
        KeyAmount(sgd("1")),
        Scan(VirtualSource(text="251001020000000000000042", damage="blur", strength=1.0, seed=3)),
        Scan(WedgeSource(keys="8888012000292\r"), use="item"),
        Scan(FileSource(tmp_path / "code.png")),
        Void("last"),
        RestartTerminal(),
        Wait(0.5),
    ]
    assert scanners.steps[2].expect[0].value is False


def test_every_file_of_the_library_parses():
    files = sorted(LIBRARY.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        for scenario in parse_file(path).scenarios:
            assert scenario.steps, path
    training = [s for path in files if "training" in path.parts for s in parse_file(path).scenarios]
    assert training and all(s.training and s.max_score > 0 for s in training)


def test_a_kill_and_the_tenders_parse(scenario_file):
    path = scenario_file("name: k\nwallets: {a: {currency: JPY, balance: '5000'}}\nterminal: {catalogue: "
                         f"{ASSETS / 'catalogue_jp.json'}}}\nsteps:\n"
                         "  - kill_terminal: {wallet: a, amount: '1055', items: ['4902715003184'], when: polling}\n"
                         "  - pay: {tender: order-code, confirm_ms: 200}\n  - pay: {tender: phone-tap, wallet: a}\n"
                         "  - pay: {tender: customer-code, wallet: a, advance_clock: 90}\n")
    scenario = parse_file(path).scenarios[0]
    assert scenario.terminal.currency == "JPY"
    assert [s.action for s in scenario.steps] == [
        KillTerminal("a", "polling", Money.of_minor(1055, "JPY"), ("4902715003184",)),
        Pay("order-code", confirm_ms=200), Pay("phone-tap", "a"), Pay("customer-code", "a", advance_clock=90)]


# --- malformed files: each error names file:line:column -------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "said"),
    [
        ("name: x\nsteps:\n  - pay: {tender: customer-code\n  - wait: 1\n", 4, 9, "not valid YAML: while parsing a flow mapping"),
        ("name: x\n steps: []\n", 2, 7, "not valid YAML: mapping values are not allowed here"),
        ("name: x\nsteps:\n\t- wait: 1\n", 3, 1, "not valid YAML"),
        ("", 1, 1, "empty: a scenario file holds a scenario"),
        ("- name: x\n", 1, 1, "the file: expected a mapping of name: value, found a list"),
        ("steps: [{wait: 1}]\n", 1, 1, "a scenario: name: is missing"),
        ("name: x\nsteps: []\n", 2, 8, "steps: a scenario needs at least one step"),
        ("name: x\nstep:\n  - wait: 1\n", 2, 1, "unknown field 'step'; did you mean 'steps'?"),
        ("name: x\nsteps:\n  - pya: {tender: customer-code}\n", 3, 5, "step 1: unknown field 'pya'; did you mean 'pay'?"),
        ("name: x\nsteps:\n  - expect: {state: APPROVED}\n", 3, 5, "step 1: no action"),
        ("name: x\nsteps:\n  - wait: 1\n    report: x\n", 4, 13, "one action a step, and this one has wait and report"),
        ("name: x\nsteps:\n  - wait: 1\n    wait: 2\n", 4, 5, "'wait' is given twice (first on line 3)"),
        ("name: x\nsteps:\n  - pay: {tender: cash}\n", 3, 19, "pay.tender: 'cash' is not one of customer-code, order-code"),
        ("name: x\nsteps:\n  - pay: {tender: customer-code, wallet: bob}\n", 3, 42, "pay.wallet: no wallet 'bob'"),
        ("name: x\nsteps:\n  - pay: {tender: customer-code}\n", 3, 10, "a customer-code payment takes the code of a wallet"),
        ("name: x\nsteps:\n  - pay: {tender: order-code, code: '1234'}\n", 3, 37, "only a customer-code payment takes"),
        ("name: x\nsteps:\n  - pay: {tender: phone-tap, wallet: a, advance_clock: 9}\nwallets: {a: {currency: SGD, balance: '1'}}\n",
         3, 56, "pay.advance_clock: the seconds that pass while a code is shown"),
        ("name: x\nsteps:\n  - pay: {tender: order-code, advance_clock: 0}\n", 3, 46, "pay.advance_clock: 0 is not from 1 to 31622400"),
        ("name: x\nsteps:\n  - wait: -1\n", 3, 11, "wait: -1 is not above 0 to 600"),
        ("name: x\nsteps:\n  - wait: soon\n", 3, 11, "wait: expected a number, found text 'soon'"),
        ("name: x\nsteps:\n  - key_amount: 12.505\n", 3, 17, "key_amount: '12.505': SGD has 2 decimal places, got 3"),
        ("name: x\nsteps:\n  - key_amount: [12]\n", 3, 17, "key_amount: expected an amount like \"12.50\", found a list"),
        ("name: x\nsteps:\n  - key_amount: 12.50 THB\n", 3, 17, "'12.50 THB' is in THB, and this amount is in SGD"),
        ("name: x\nsteps:\n  - key_amount: '0'\n", 3, 17, "must be above 0"),
        ("name: x\nwallets:\n  a: {currency: SGD, balance: [1]}\nsteps: [{wait: 1}]\n", 3, 31, "wallets.a.balance: expected an amount"),
        ("name: x\nwallets:\n  a: {currency: XXY, balance: '1'}\nsteps: [{wait: 1}]\n", 3, 17, "wallets.a.currency"),
        ("name: x\nwallets:\n  a: SGD\nsteps: [{wait: 1}]\n", 3, 6, "wallet a: expected a mapping of name: value, found text 'SGD'"),
        ("name: x\nsteps:\n  - wait: 1\n    score: ten\n", 4, 12, "score: expected a whole number, found text 'ten'"),
        ("name: x\ntraining: maybe\nsteps: [{wait: 1}]\n", 2, 11, "training: expected true or false"),
        ("name: x\nsteps:\n  - wait: 1\n    expect: {state: APPROVED}\n", 4, 14, "a wait step cannot expect state"),
        ("name: x\nsteps:\n  - wait: 1\n    expect: {balanse: {}}\n", 4, 14, "unknown expectation 'balanse'; did you mean 'balance'?"),
        ("name: x\nsteps:\n  - key_amount: '1'\n  - pay: {tender: order-code}\n    expect: {state: PAID}\n", 5, 21,
         "expect.state: 'PAID' is not one of SENT, RESOLVING"),
        ("name: x\nsteps:\n  - void: last\n", 3, 11, "no sale before this step to refer to"),
        ("name: x\nsteps:\n  - key_amount: '1'\n  - pay: {tender: order-code}\n  - void: lunch\n", 5, 11,
         "void.sale: 'lunch' is no label of an earlier step"),
        ("name: x\nsteps:\n  - key_amount: '1'\n  - pay: {tender: order-code, label: a}\n  - pay: {tender: order-code, label: a}\n",
         5, 38, "label 'a': used already in this scenario"),
        ("name: x\nsteps:\n  - scan: {file: nowhere.png}\n", 3, 18, "scan.file: no image 'nowhere.png' beside this file"),
        ("name: x\nsteps:\n  - scan: {}\n", 3, 11, "scan: one scanner source"),
        ("name: x\nsteps:\n  - scan: {virtual: {text: '1', damage: smudge}}\n", 3, 41, "'smudge' is not one of none, blur"),
        ("name: x\nsteps:\n  - scan: {virtual: {text: '1', strength: 2}}\n", 3, 43, "strength: 2 is not from 0 to 1"),
        ("name: x\nsteps:\n  - fault: {call: pay, action: explode}\n", 3, 32, "fault.action: 'explode' is not one of decline"),
        ("name: x\nsteps:\n  - fault: {call: refund, action: late-success}\n", 3, 35, "late-success applies to pay only"),
        ("name: x\nsteps:\n  - fault: {call: pay, action: decline, delay_ms: 5}\n", 3, 51, "only timeout and late-success wait"),
        ("name: x\nsteps:\n  - report: y\n", 3, 13, "report: 'y' is not one of x, z"),
        ("name: x\nterminal: {terminal_id: 'T 1'}\nsteps: [{wait: 1}]\n", 2, 25, "terminal.terminal_id: terminal_id"),
        ("name: x\nterminal: {deadline: 3}\nsteps: [{wait: 1}]\n", 2, 12, "unknown field 'deadline'; did you mean 'deadline_s'?"),
        ("name: x\nterminal: {catalogue: none.json}\nsteps: [{wait: 1}]\n", 2, 23, "terminal.catalogue: "),
        ("scenarios:\n  - {name: a, steps: [{wait: 1}]}\n  - {name: a, steps: [{wait: 1}]}\n", 3, 5, "scenario 'a' is named twice"),
        ("base: &b {wait: 1}\nname: x\nsteps:\n  - <<: *b\n", 1, 1, "unknown field 'base'"),
        ("name: x\nsteps:\n  - {<<: {wait: 1}}\n", 3, 6, "YAML merge keys (<<) are not read"),
    ],
)
def test_a_malformed_file_is_refused_naming_file_line_and_column(scenario_file, text, line, column, said):
    found = refused(scenario_file(text))
    assert said in found[2], found
    assert found[:2] == (line, column), found


def test_a_file_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(ScenarioError, match=re.escape(f"{tmp_path / 'none.yaml'}: no such scenario file")):
        parse_file(tmp_path / "none.yaml")
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8 text"):
        parse_file(tmp_path / "latin1.yaml")
    with pytest.raises(ScenarioError, match="a directory, not a scenario file"):
        parse_file(tmp_path)


def test_parse_text_names_the_path_it_is_given():
    with pytest.raises(ScenarioError) as caught:
        parse_text("name: x\nsteps:\n  - wiat: 1\n", "inline.yaml")
    assert str(caught.value).startswith("inline.yaml:3:5: step 1: unknown field 'wiat'; did you mean 'wait'?")
    assert caught.value.where == Where(Path("inline.yaml"), 3, 5)
