"""Where the terminal's settings come from, as a user meets it: real `pos-sim` processes whose home, config
and data dirs are the test's own (HOME, XDG_CONFIG_HOME, XDG_DATA_HOME), so no real config is ever read.

Defaults < the config file (the default one, $POS_SIM_CONFIG, --config) < POS_SIM_<NAME> variables < flags;
`pos-sim settings` shows each value and where it came from, starting and opening nothing; bad settings exit 2
with one line naming the file or variable; and a `pos-sim sale` really runs on them."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pos_sim.backend import server

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"(\S+) += (.*?) +\((.*)\)")


@pytest.fixture
def home(tmp_path) -> Path:
    """The user's dirs, all under tmp_path: ``config/pos-sim/config.toml`` is the default settings file."""
    (tmp_path / "home").mkdir()
    return tmp_path


def default_file(home: Path) -> Path:
    path = home / "config" / "pos-sim" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pos_sim(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    environ = {name: value for name, value in os.environ.items() if not name.upper().startswith("POS_SIM_")}
    environ |= {"HOME": str(home / "home"), "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "pos_sim", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=environ)


def shown(run: subprocess.CompletedProcess) -> tuple[str, dict[str, tuple[str, str]]]:
    """`pos-sim settings`' first line, and its `name = value  (source)` lines by name."""
    assert run.returncode == 0, run.stderr
    head, *lines = run.stdout.splitlines()
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    return head, {m[1]: (m[2], m[3]) for m in matches}


def test_settings_shows_each_value_and_where_it_came_from_file_under_environment_under_flags(home):
    config = default_file(home)
    config.write_text('terminal_id = "T05"\nstore_id = "S900"\nreceipt_width = 32\njournal_dir = "journal"\n'
                      'receipt_footer = ["GST Reg. 201912345K", "Thank you"]\n[polling]\ndeadline_s = 9\n')
    env = {"POS_SIM_STORE_ID": "S777", "POS_SIM_RECEIPT_WIDTH": "48", "POS_SIM_TRAINING": "yes", "POS_SIM_POLLING_INTERVAL_S": "0.5",
           "POS_SIM_TEST_PG": "postgresql://x@127.0.0.1/test", "POS_SIM_DEMO_PORT": "8399"}  # the project's other names: ignored
    head, said = shown(pos_sim(home, "settings", "--receipt-width", "42", "--poll-interval", "0.25", env=env))
    assert head == f"# config file: {config} (default)"
    assert said["terminal_id"] == ("T05", str(config))                          # the file over the default
    assert said["store_id"] == ("S777", "POS_SIM_STORE_ID")                      # the environment over the file
    assert said["receipt_width"] == ("42", "--receipt-width")                    # a flag over both
    assert said["polling.interval_s"] == ("0.25", "--poll-interval")
    assert said["training"] == ("true", "POS_SIM_TRAINING")
    assert said["polling.deadline_s"] == ("9", str(config))
    assert said["journal_dir"] == (str(config.parent / "journal"), str(config))  # relative to the file's folder
    assert said["receipt_footer"] == ("GST Reg. 201912345K|Thank you", str(config))
    assert said["gateway.url"] == ("(embedded simulator)", "default")
    assert said["gateway.simulator_data_dir"] == (str(home / "data" / "pos-sim"), "default")
    assert said["locale"] == ("(the catalogue's)", "default") and said["code_lifetime_s"][1] == "default"
    assert list(said)[0] == "gateway.url" and len(said) == 26
    widths = {run.index("=") for run in pos_sim(home, "settings", env=env).stdout.splitlines()[1:]}
    assert len(widths) == 1  # aligned
    assert not (home / "data").exists() and not (config.parent / "journal").exists()  # no backend started, no journal opened

    as_json = pos_sim(home, "settings", "--receipt-width", "42", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["configFile"] == str(config)
    assert document["settings"]["store_id"] == {"value": "S777", "source": "POS_SIM_STORE_ID"}
    assert document["settings"]["receipt_width"] == {"value": 42, "source": "--receipt-width"}
    assert document["settings"]["receipt_footer"] == {"value": ["GST Reg. 201912345K", "Thank you"], "source": str(config)}
    assert document["settings"]["gateway.url"] == {"value": None, "source": "default"}


def test_the_config_file_is_the_flags_over_the_variables_over_the_default_one(home, tmp_path):
    head, said = shown(pos_sim(home, "settings"))  # none anywhere: every value a default, and no error
    assert head == f"# config file: none ({default_file(home)} is not there)"
    assert {source for _value, source in said.values()} == {"default"} and said["terminal_id"][0] == "T01"
    default_file(home).write_text('terminal_id = "T05"\n')
    other, third = tmp_path / "other.toml", tmp_path / "third.toml"
    other.write_text('terminal_id = "T06"\n[gateway]\nurl = "http://127.0.0.1:8360"\nsimulator_data_dir = "sim"\n')
    third.write_text('terminal_id = "T07"\n')
    head, said = shown(pos_sim(home, "settings", env={"POS_SIM_CONFIG": str(other)}))
    assert head == f"# config file: {other} (POS_SIM_CONFIG)" and said["terminal_id"] == ("T06", str(other))
    assert said["gateway.url"] == ("http://127.0.0.1:8360", str(other)) and said["gateway.simulator_data_dir"][0] == str(tmp_path / "sim")
    head, said = shown(pos_sim(home, "settings", "--config", str(third), env={"POS_SIM_CONFIG": str(other)}))
    assert head == f"# config file: {third} (--config)" and said["terminal_id"] == ("T07", str(third))
    assert said["gateway.url"] == ("(embedded simulator)", "default")
    _head, said = shown(pos_sim(home, "settings", "--config", str(third), "--backend", "http://gw.example.com:9000/",
                               env={"POS_SIM_GATEWAY_URL": "http://127.0.0.1:1", "POS_SIM_GATEWAY_SIMULATOR_DATA_DIR": "~/sim"}))
    assert said["gateway.url"] == ("http://gw.example.com:9000", "--backend")
    assert said["gateway.simulator_data_dir"] == (str(home / "home" / "sim"), "POS_SIM_GATEWAY_SIMULATOR_DATA_DIR")


@pytest.mark.parametrize("command", [("settings",), ("sale", "--amount", "1.00", "--code", "251001020123456789012345")])
def test_bad_settings_exit_2_with_one_line_naming_the_file_or_the_variable(home, tmp_path, command):
    config = default_file(home)
    missing = tmp_path / "missing.toml"
    cases = [
        ({"POS_SIM_RECEIPT_WIDTH": "wide"}, (), "error: POS_SIM_RECEIPT_WIDTH='wide': must be a whole number"),
        ({"POS_SIM_RECEIPT_WIDTH": "40"}, (), "receipt_width (--receipt-width) 40: one of 32, 42, 48 columns (set by POS_SIM_RECEIPT_WIDTH)"),
        ({"POS_SIM_TRAINING": "maybe"}, (), "error: POS_SIM_TRAINING='maybe': must be true or false"),
        ({"POS_SIM_TERMINALID": "T07"}, (), "error: POS_SIM_TERMINALID: not a pos-sim setting; did you mean POS_SIM_TERMINAL_ID?"),
        ({"POS_SIM_DEADLINE": "5"}, (), "did you mean POS_SIM_POLLING_DEADLINE_S?"),
        ({}, ("--config", str(missing)), f"error: {missing}: no settings file there"),
        ({"POS_SIM_CONFIG": str(missing)}, (), f"error: POS_SIM_CONFIG: {missing}: no settings file there"),
        ({"POS_SIM_GATEWAY_CLIENT_ID": "SHOP"}, (), "POS_SIM_GATEWAY_CLIENT_ID: the merchant's keys are for a gateway"),
    ]
    for env, flags, said in cases:
        run = pos_sim(home, *command, *flags, env=env)
        assert run.returncode == 2, (env, flags, run.stdout, run.stderr)
        assert said in run.stderr and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, (env, run.stderr)
        assert run.stdout == ""
    for text, said in [("terminal_id = \n", f"error: {config}: not TOML"), ('colour = "blue"\n', f"{config}: unknown setting 'colour'"),
                       ("receipt_width = 40\n", f"40: one of 32, 42, 48 columns (set by {config})")]:
        config.write_text(text)  # the default file, read without being named
        run = pos_sim(home, *command)
        assert run.returncode == 2 and said in run.stderr and "Traceback" not in run.stderr, (text, run.stderr)
        assert run.stdout == ""
    if command == ("settings",):
        assert not (home / "data").exists()  # checked without a backend


def open_wallet(url: str, balance: int = 10_000) -> str:
    return requests.post(f"{url}/sim/wallets", json={"currency": "SGD", "balance": balance}, timeout=10).json()["walletId"]


def code_of(url: str, wallet_id: str) -> str:
    return requests.post(f"{url}/sim/wallets/{wallet_id}/payment-code", timeout=10).json()["code"]


def test_a_sale_runs_on_the_default_config_file_with_the_environment_over_it(home):
    data = home / "data" / "pos-sim"  # the default data dir under XDG_DATA_HOME: the embedded simulator's
    running = server.start(server.open_gateway(data))
    try:
        customer = open_wallet(running.url)
        codes = [code_of(running.url, customer) for _ in range(2)]
    finally:
        running.stop()
    default_file(home).write_text('terminal_id = "T07"\nreceipt_footer = ["Thank you, come again"]\n[polling]\ndeadline_s = 5\n')
    run = pos_sim(home, "sale", "--amount", "6.50", "--code", codes[0])
    assert run.returncode == 0, run.stderr
    assert "receipt T07-000001" in run.stdout and "Thank you, come again" in run.stdout
    assert (data / "terminal" / "sales.db").is_file()  # the default journal dir, under XDG_DATA_HOME too
    run = pos_sim(home, "sale", "--amount", "3.00", "--code", codes[1], "--json",
                  env={"POS_SIM_TERMINAL_ID": "T08", "POS_SIM_RECEIPT_WIDTH": "32"})
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert said["status"] == "APPROVED" and said["receiptNumber"].startswith("T08-")
    receipt = said["receipt"].splitlines()
    assert max(map(len, receipt)) == 32 and "Thank you, come again" in said["receipt"]
    running = server.start(server.open_gateway(data))
    try:
        assert requests.get(f"{running.url}/sim/wallets/{customer}", timeout=10).json()["balance"] == 10_000 - 650 - 300
    finally:
        running.stop()
