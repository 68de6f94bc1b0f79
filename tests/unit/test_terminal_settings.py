"""Terminal settings: built from a flat mapping (a TOML file's, the environment's, flags over them),
every field checked, every error naming the setting, its flag and the file or variable it came
from; the training and live files kept apart."""

from pathlib import Path

import pytest

from pos_sim.terminal.authorize import Polling
from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.settings import (
    DEFAULT_CATALOGUE,
    ENV_VARIABLES,
    KEYS,
    NOT_SETTINGS,
    TerminalSettings,
    env_variable,
    from_environment,
    read_catalogue_file,
    read_config,
)

BASE = {"gateway.url": "http://127.0.0.1:8360/", "gateway.simulator_data_dir": "/srv/pos-sim", "journal_dir": "/var/pos"}


def test_defaults_and_values_given():
    settings = TerminalSettings.build(BASE)
    assert settings.gateway.url == "http://127.0.0.1:8360" and settings.gateway.simulator_data_dir == Path("/srv/pos-sim")
    assert (settings.terminal_id, settings.store_id, settings.receipt_width, settings.training) == ("T01", "S001", 42, False)
    assert settings.catalogue == DEFAULT_CATALOGUE and settings.polling == Polling()
    assert (settings.journal_path.name, settings.sales_path.name) == ("journal.db", "sales.db")
    training = TerminalSettings.build(BASE | {"training": True, "polling.deadline_s": 5, "currency": "sgd", "receipt_width": 32})
    assert (training.journal_path.name, training.sales_path.name) == ("journal-training.db", "sales-training.db")
    assert (training.polling.deadline_s, training.currency, training.receipt_width) == (5, "SGD", 32)
    keys = TerminalSettings.build({"gateway.url": "https://sandbox.example.com", "journal_dir": "j", "gateway.client_id": "SHOP_1",
                                   "gateway.merchant_key": "m.pem", "gateway.gateway_key": "g.pem"})
    assert (keys.gateway.client_id, keys.gateway.merchant_key) == ("SHOP_1", Path("m.pem"))


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"gateway.url": None}, "gateway.url (--backend): missing"),
        ({"gateway.url": "ftp://x"}, "gateway.url (--backend): gateway URL 'ftp://x'"),
        ({"journal_dir": None}, "journal_dir (--journal-dir): missing"),
        ({"gateway.client_id": "SHOP"}, "not both"),
        ({"gateway.simulator_data_dir": None, "gateway.client_id": "SHOP"}, "missing gateway.merchant_key (--merchant-key)"),
        ({"terminal_id": "T 01"}, "terminal_id (--terminal-id) 'T 01'"),
        ({"terminal_id": "T" * 17}, "1 to 16 letters"),
        ({"store_id": "S 1"}, "store_id (--store-id)"),
        ({"receipt_width": 40}, "receipt_width (--receipt-width) 40: one of 32, 42, 48"),
        ({"receipt_width": "42"}, "must be a whole number"),
        ({"currency": "XYZ"}, "currency (--currency): 'XYZ'"),
        ({"locale": "xx_YY"}, "locale (--locale) 'xx_YY'"),
        ({"time_zone": "Mars/Olympus"}, "time_zone (--time-zone) 'Mars/Olympus': not an IANA time zone"),
        ({"polling.deadline_s": -1}, "polling deadline_s=-1"),
        ({"polling.interval_s": True}, "must be a number"),
        ({"code_lifetime_s": 5}, "code_lifetime_s 5"),
        ({"merchant_name": "A\nB"}, "one line"),
        ({"receipt_footer": "Thanks"}, "a list of texts"),
        ({"colour": "blue"}, "unknown setting 'colour'"),
        ({"polling.speed": 1}, "unknown setting 'polling.speed' (known of [polling]: interval_s, deadline_s, cancel_attempts)"),
    ],
)
def test_a_setting_it_cannot_use_is_named_with_its_flag(values, said):
    with pytest.raises(SettingsError) as error:
        TerminalSettings.build(BASE | values)
    assert said in str(error.value)


def test_a_toml_file_gives_settings_with_paths_from_its_own_folder(tmp_path):
    config = tmp_path / "conf" / "terminal.toml"
    config.parent.mkdir()
    config.write_text('terminal_id = "T07"\njournal_dir = "journal"\nreceipt_footer = ["GST Reg. 201912345K"]\n'
                      '[gateway]\nurl = "http://127.0.0.1:9000"\nsimulator_data_dir = "~/sim"\n[polling]\ninterval_s = 0.5\n')
    values = read_config(config)
    assert values["journal_dir"] == config.parent / "journal" and values["gateway.simulator_data_dir"] == Path("~/sim").expanduser()
    settings = TerminalSettings.build(values | {"terminal_id": "T08"})  # a flag over the file
    assert (settings.terminal_id, settings.polling.interval_s, settings.receipt_footer) == ("T08", 0.5, ("GST Reg. 201912345K",))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("terminal_id = 7\n", "terminal_id (--terminal-id) = 7: must be text"),
        ("[printer]\nwidth = 42\n", "unknown table [printer]"),
        ("terminal_id = \n", "not TOML"),
        ("[gateway]\nport = 1\n", "unknown setting 'gateway.port'"),
    ],
)
def test_a_bad_toml_file_is_named_with_what_is_wrong(tmp_path, text, said):
    config = tmp_path / "terminal.toml"
    config.write_text(text)
    with pytest.raises(SettingsError) as error:
        read_config(config)
    assert str(config) in str(error.value) and said in str(error.value)
    with pytest.raises(SettingsError, match="no settings file there"):
        read_config(tmp_path / "missing.toml")


def test_a_catalogue_file_error_names_the_file(tmp_path):
    assert read_catalogue_file(DEFAULT_CATALOGUE).currency.code == "SGD"
    broken = tmp_path / "catalogue.json"
    broken.write_text('{"name": "X"}')
    with pytest.raises(SettingsError, match=f"{broken}: missing field"):
        read_catalogue_file(broken)
    with pytest.raises(SettingsError, match="no catalogue file there"):
        read_catalogue_file(tmp_path / "none.json")


# --- the environment: POS_SIM_<NAME> ---------------------------------------------------------


def test_every_setting_has_one_environment_variable_named_by_the_rule():
    assert len(ENV_VARIABLES) == len(KEYS) and all(ENV_VARIABLES[env_variable(name)] == name for name in KEYS)
    assert [env_variable(name) for name in ("gateway.url", "terminal_id", "polling.deadline_s", "training")] == [
        "POS_SIM_GATEWAY_URL", "POS_SIM_TERMINAL_ID", "POS_SIM_POLLING_DEADLINE_S", "POS_SIM_TRAINING"]
    assert not NOT_SETTINGS & set(ENV_VARIABLES)


def test_environment_values_are_converted_by_the_kind_of_their_setting():
    values = from_environment({
        "POS_SIM_GATEWAY_URL": "http://127.0.0.1:9000", "POS_SIM_TERMINAL_ID": " T07 ", "POS_SIM_RECEIPT_WIDTH": "32",
        "POS_SIM_POLLING_DEADLINE_S": "2.5", "POS_SIM_POLLING_INTERVAL_S": "1", "POS_SIM_TRAINING": "Yes",
        "POS_SIM_JOURNAL_DIR": "journal", "POS_SIM_CATALOGUE": "~/shop/catalogue.json",
        "POS_SIM_RECEIPT_FOOTER": "GST Reg. 201912345K | Thank you!", "POS_SIM_STORE_ID": "",
        "POS_SIM_CONFIG": "/etc/pos-sim.toml", "POS_SIM_TEST_PG": "postgresql://x", "POS_SIM_DEMO_PORT": "8399",
        "POS_SIM_SOMETHING_ELSE_ENTIRELY": "1", "HOME": "/root", "TERMINAL_ID": "T99",
    })
    assert values == {
        "gateway.url": "http://127.0.0.1:9000", "terminal_id": "T07", "receipt_width": 32, "polling.deadline_s": 2.5,
        "polling.interval_s": 1.0, "training": True, "journal_dir": Path("journal"),
        "catalogue": Path.home() / "shop" / "catalogue.json", "receipt_footer": ["GST Reg. 201912345K", "Thank you!"],
    }
    for text, meant in [("true", True), ("1", True), ("ON", True), ("false", False), ("0", False), ("no", False), ("Off", False)]:
        assert from_environment({"POS_SIM_TRAINING": text}) == {"training": meant}
    settings = TerminalSettings.build(values | {"gateway.simulator_data_dir": "/srv/pos-sim"})
    assert (settings.terminal_id, settings.receipt_width, settings.training, settings.polling.deadline_s) == ("T07", 32, True, 2.5)
    assert settings.receipt_footer == ("GST Reg. 201912345K", "Thank you!") and settings.journal_dir == Path("journal")


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"POS_SIM_RECEIPT_WIDTH": "wide"}, "POS_SIM_RECEIPT_WIDTH='wide': must be a whole number"),
        ({"POS_SIM_RECEIPT_WIDTH": "42.0"}, "POS_SIM_RECEIPT_WIDTH='42.0': must be a whole number"),
        ({"POS_SIM_POLLING_DEADLINE_S": "soon"}, "POS_SIM_POLLING_DEADLINE_S='soon': must be a number"),
        ({"POS_SIM_GATEWAY_READ_TIMEOUT_S": "nan"}, "POS_SIM_GATEWAY_READ_TIMEOUT_S='nan': must be a number"),
        ({"POS_SIM_TRAINING": "maybe"}, "POS_SIM_TRAINING='maybe': must be true or false"),
        ({"POS_SIM_RECEIPT_FOOTER": "Thanks||Bye"}, "POS_SIM_RECEIPT_FOOTER='Thanks||Bye': an empty line"),
        ({"POS_SIM_TERMINALID": "T07"}, "POS_SIM_TERMINALID: not a pos-sim setting; did you mean POS_SIM_TERMINAL_ID?"),
        ({"POS_SIM_RECIEPT_WIDTH": "32"}, "did you mean POS_SIM_RECEIPT_WIDTH?"),
        ({"POS_SIM_DEADLINE": "5"}, "did you mean POS_SIM_POLLING_DEADLINE_S?"),  # the flag's name
        ({"POS_SIM_BACKEND": "http://x"}, "did you mean POS_SIM_GATEWAY_URL?"),
        ({"POS_SIM_CLIENT_ID": "SHOP"}, "did you mean POS_SIM_GATEWAY_CLIENT_ID?"),  # the name's last part
        ({"POS_SIM_DATA_DIR": "/srv"}, "did you mean POS_SIM_GATEWAY_SIMULATOR_DATA_DIR?"),
        ({"pos_sim_training": "1"}, "pos_sim_training: not a pos-sim setting; did you mean POS_SIM_TRAINING?"),
        ({"POS_SIM_CONFG": "x.toml"}, "did you mean POS_SIM_CONFIG?"),
    ],
)
def test_a_bad_environment_variable_is_named_with_what_is_wrong(environ, said):
    with pytest.raises(SettingsError) as error:
        from_environment(environ)
    assert said in str(error.value)


def test_an_error_about_a_value_from_a_file_or_a_variable_says_where_it_came_from():
    origins = {"receipt_width": "POS_SIM_RECEIPT_WIDTH", "polling.deadline_s": "/etc/pos-sim.toml", "terminal_id": "--terminal-id"}
    cases = [
        ({"receipt_width": 40}, "receipt_width (--receipt-width) 40: one of 32, 42, 48 columns (set by POS_SIM_RECEIPT_WIDTH)"),
        ({"polling.deadline_s": -1}, "polling deadline_s=-1: must be a number of seconds, 0 or more (set by /etc/pos-sim.toml)"),
    ]
    for values, said in cases:
        with pytest.raises(SettingsError) as error:
            TerminalSettings.build(BASE | values, origins)
        assert str(error.value) == said
    with pytest.raises(SettingsError) as error:  # a flag is named by the message itself
        TerminalSettings.build(BASE | {"terminal_id": "T 1"}, origins)
    assert "set by" not in str(error.value)


def test_flat_gives_every_setting_back_by_its_dotted_name():
    settings = TerminalSettings.build(BASE | {"polling.deadline_s": 5, "gateway.read_timeout_s": 2, "receipt_footer": ["Thanks"]})
    flat = settings.flat()
    assert list(flat) == list(KEYS)
    assert (flat["polling.deadline_s"], flat["gateway.read_timeout_s"], flat["gateway.connect_timeout_s"]) == (5, 2, 5.0)
    assert (flat["terminal_id"], flat["receipt_footer"], flat["currency"]) == ("T01", ("Thanks",), None)
    assert TerminalSettings.build(flat) == settings
