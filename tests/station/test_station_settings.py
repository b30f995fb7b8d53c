"""The station's tables in the one settings scheme: file, VOICEGUIDE_STATION_<KEY>, `voiceguide config`."""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.config import ConfigError, config_path
from voiceguide.errors import UsageError
from voiceguide.station.settings import (MQTT, STATION, Encoder, Input, Led, MqttSettings, StationSettings, load,
                                         station_settings)


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_every_station_row_is_a_field_with_the_same_default_and_back():
    """Adding a [station] key is one row and one field; this test says when one is missing."""
    defaults = StationSettings()
    assert [row.name for row in STATION.rows] == [f.name for f in dataclasses.fields(StationSettings)]
    for row in STATION.rows:
        assert row.default == getattr(defaults, row.name), row.name
        assert row.env == "VOICEGUIDE_STATION_" + row.name.upper()
    assert [row.name for row in MQTT.rows] == [f.name for f in dataclasses.fields(MqttSettings)]
    assert all(row.default == getattr(MqttSettings(), row.name) for row in MQTT.rows)
    assert MQTT.by_name["password"].env == "VOICEGUIDE_STATION_MQTT_PASSWORD"


def test_environment_beats_the_file_for_every_kind_of_station_value(tmp_path):
    path = write(tmp_path, '[station]\nexercise = "daily-check-in"\nbutton = 17\nhold_time = 3\n')
    env = {"VOICEGUIDE_STATION_EXERCISE": "body-scan", "VOICEGUIDE_STATION_BUTTON": "GPIO5",
           "VOICEGUIDE_STATION_LED": "{ pin = 6, active_low = true }", "VOICEGUIDE_STATION_GPIO": "off",
           "VOICEGUIDE_STATION_ENCODER": "20,21,16", "VOICEGUIDE_STATION_HOSTS": "pi.home.arpa, Pi.LAN",
           "VOICEGUIDE_STATION_START_DELAY": "30s", "VOICEGUIDE_STATION_NEXT_BUTTON": "false",
           "VOICEGUIDE_STATION_VOLUME_UP_BUTTON": '{ pin = 23, pull = "down" }',
           "VOICEGUIDE_STATION_LISTEN": "0.0.0.0:8766"}
    s = station_settings(path, env)
    assert s.exercise == "body-scan" and s.hold_time == 3.0 and s.gpio is False
    assert s.button == Input("GPIO5") and s.led == Led(6, True) and s.next_button is None
    assert s.encoder == Encoder(20, 21, Input(16)) and s.hosts == ("pi.home.arpa", "pi.lan")
    assert s.start_delay == 30.0 and s.listen == "0.0.0.0:8766"
    assert s.volume_up_button == Input(23, "down", False)
    assert station_settings(path, {"VOICEGUIDE_STATION_ENCODER": "{ a = 5, b = 6 }"}).encoder == Encoder(5, 6)


def test_bad_environment_values_are_each_named_on_one_line(tmp_path):
    env = {"VOICEGUIDE_STATION_HOLD_TIME": "forever", "VOICEGUIDE_STATION_BUTTON": "99",
           "VOICEGUIDE_STATION_MQTT_PORT": "80000", "VOICEGUIDE_STATION_MQTT_HOST": "b",
           "VOICEGUIDE_STATION_MQTT_PASSWORD": "1234567890" * 200}
    with pytest.raises(UsageError) as err:
        load(tmp_path / "none.toml", env)
    assert err.value.lines() == (
        "VOICEGUIDE_STATION_HOLD_TIME=forever: expected a number from 0.5 to 10, got 'forever'",
        "VOICEGUIDE_STATION_BUTTON=99: expected a GPIO (BCM) number from 0 to 53, got 99",
    )
    with pytest.raises(UsageError) as err:
        load(tmp_path / "none.toml", {k: v for k, v in env.items() if "MQTT" in k})
    assert err.value.lines()[0] == "VOICEGUIDE_STATION_MQTT_PORT=80000: expected 1 to 65535, got 80000"
    assert err.value.lines()[1].startswith("VOICEGUIDE_STATION_MQTT_PASSWORD=********: ")  # never the password


def test_every_problem_of_the_file_at_once_player_station_and_mqtt(tmp_path):
    path = write(tmp_path, 'rate = 20\n[station]\nhold_time = 99\n[mqtt]\nhost = "broker"\nport = "x"\n'
                           'tls = "yes"\ndiscovery_prefx = "ha"\n')
    with pytest.raises(ConfigError) as err:
        load(path, {})
    assert err.value.lines() == (
        f"{path}:1:1: rate: expected 80 to 300, got 20",
        f"{path}:3:1: [station] hold_time: expected 0.5 to 10, got 99",
        f"{path}:6:1: [mqtt] port: expected a whole number from 1 to 65535, got 'x'",
        f"{path}:7:1: [mqtt] tls: expected true or false, got 'yes'",
        f'{path}:8:1: [mqtt]: unknown setting "discovery_prefx" (did you mean "discovery_prefix"?); '
        f"known: host, port, username, password, discovery_prefix, tls, ca_file",
    )


def test_dotted_keys_and_a_table_that_is_not_one_are_located(tmp_path):
    path = write(tmp_path, 'rate = 130\nstation.hold_time = 99\n')
    with pytest.raises(ConfigError, match=r":2:9: \[station\] hold_time: expected 0.5 to 10"):
        load(path, {})
    path = write(tmp_path, 'mqtt = "broker"\n')
    with pytest.raises(ConfigError, match=r":1:1: mqtt must be a table"):
        load(path, {})


def test_mqtt_is_off_without_a_host_and_needs_one_in_its_table(tmp_path):
    assert load(write(tmp_path, "rate = 130\n"), {})[1] is None
    with pytest.raises(ConfigError, match=r":2:1: \[mqtt\]: host is required"):
        load(write(tmp_path, "rate = 130\n[mqtt]\nport = 1884\n"), {})
    m = load(write(tmp_path, '[mqtt]\nhost = "broker.home.arpa"\nusername = "vg"\n'),
             {"VOICEGUIDE_STATION_MQTT_PASSWORD": "s3cret", "VOICEGUIDE_STATION_MQTT_TLS": "1"})[1]
    assert m == MqttSettings("broker.home.arpa", 1883, "vg", "s3cret", "homeassistant", True, None)
    only_env = load(tmp_path / "none.toml", {"VOICEGUIDE_STATION_MQTT_HOST": "10.0.0.2"})[1]
    assert only_env is not None and only_env.host == "10.0.0.2"
    with pytest.raises(ConfigError, match="ca.pem is not a file"):
        load(write(tmp_path, f'[mqtt]\nhost = "b"\ntls = true\nca_file = "{tmp_path}/ca.pem"\n'), {})


def test_config_command_shows_station_and_mqtt_rows_with_origins_and_hides_the_password(monkeypatch):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[station]\nbutton = { pin = 5, pull = "down" }\n[mqtt]\nhost = "broker.home.arpa"\n'
                    'password = "in-the-file"\n')
    monkeypatch.setenv("VOICEGUIDE_STATION_EXERCISE", "body-scan")
    monkeypatch.setenv("VOICEGUIDE_STATION_MQTT_PASSWORD", "hunter2")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "in-the-file" not in result.output
    lines = result.output.splitlines()
    assert "[station]" in lines and "[mqtt]" in lines
    rows = {line.split()[0]: line for line in lines[1:]}
    assert '"body-scan"' in rows["exercise"] and "environment (VOICEGUIDE_STATION_EXERCISE)" in rows["exercise"]
    assert '{ pin = 5, pull = "down" }' in rows["button"] and " file " in rows["button"]
    assert "27" in rows["led"] and "default" in rows["led"]
    assert "********" in rows["password"] and "VOICEGUIDE_STATION_MQTT_PASSWORD" in rows["password"]
    assert '"broker.home.arpa"' in rows["host"]


def test_config_command_names_every_station_problem_with_exit_2():
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('volume = 3\n[station]\nbutton = 99\n')
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert f"{path}:1:1: volume: expected 0 to 1, got 3" in result.output
    assert f"{path}:3:1: [station] button: expected a GPIO (BCM) number" in result.output
