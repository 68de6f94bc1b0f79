"""Terminal settings: built from a flat mapping (a TOML file's, flags over it), every field checked,
every error naming the setting and its flag; the training and live files kept apart."""

from pathlib import Path

import pytest

from pos_sim.terminal.authorize import Polling
from pos_sim.terminal.errors import SettingsError
from pos_sim.terminal.settings import DEFAULT_CATALOGUE, TerminalSettings, read_catalogue_file, read_config

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
