"""Config file, environment and options: precedence and located errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.config import ConfigError, config_path, effective, read_file


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_when_there_is_no_file(tmp_path):
    values = effective(path=tmp_path / "missing.toml", environ={})
    assert values["latency"].value == 0.2 and values["latency"].origin == "default"
    assert values["rate"].value is None


def test_option_beats_environment_beats_file_beats_default(tmp_path):
    path = write(tmp_path, "rate = 120\nvolume = 0.5\nlatency = 0.3\n")
    env = {"VOICEGUIDE_RATE": "130", "VOICEGUIDE_VOLUME": "0.7"}
    values = effective({"rate": 150}, path=path, environ=env)
    assert (values["rate"].value, values["rate"].origin) == (150, "option")
    assert (values["volume"].value, values["volume"].origin) == (0.7, "environment")
    assert (values["latency"].value, values["latency"].origin) == (0.3, "file")
    assert values["ambient_level"].origin == "default"


def test_a_bad_value_is_located_at_its_line(tmp_path):
    path = write(tmp_path, "# my settings\nrate = 20\nvolume = \"loud\"\n")
    with pytest.raises(ConfigError) as err:
        read_file(path)
    assert err.value.lines() == (
        f"{path}:2:1: rate: expected 80 to 300, got 20",
        f"{path}:3:1: volume: expected a number from 0 to 1, got 'loud'",
    )


def test_unknown_key_gets_did_you_mean(tmp_path):
    path = write(tmp_path, "latncy = 0.3\n")
    with pytest.raises(ConfigError, match=r':1:1: unknown setting "latncy" \(did you mean "latency"\?\)'):
        read_file(path)


def test_toml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, "rate = 120\nvolume = \n")
    with pytest.raises(ConfigError, match=rf"{path}:2:\d+: "):
        read_file(path)


def test_bad_environment_value_is_a_usage_error(tmp_path):
    from voiceguide.errors import UsageError

    with pytest.raises(UsageError, match="VOICEGUIDE_LATENCY=fast"):
        effective(path=tmp_path / "none.toml", environ={"VOICEGUIDE_LATENCY": "fast"})


def test_config_command_shows_values_and_origins(monkeypatch):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("latency = 0.4\n")
    monkeypatch.setenv("VOICEGUIDE_RATE", "125")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "0.4" in rows["latency"] and "file" in rows["latency"]
    assert "125" in rows["rate"] and "environment (VOICEGUIDE_RATE)" in rows["rate"]
    assert "default" in rows["ambient_level"]


def test_config_command_reports_a_bad_file_with_exit_2():
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("volume = 3\n")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 2
    assert f"{path}:1:1: volume: expected 0 to 1, got 3" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name, bad", [("rate", 20), ("volume", 3.0), ("ambient_level", 100.0),
                                       ("latency", 0.0)])
def test_every_origin_refuses_the_same_value(tmp_path, name, bad):
    """The file, the environment and the command line share one check per setting."""
    from voiceguide.config import BY_NAME
    from voiceguide.errors import UsageError

    setting = BY_NAME[name]
    with pytest.raises(ConfigError, match=rf"{name}: expected"):
        read_file(write(tmp_path, f"{name} = {bad}\n"))
    with pytest.raises(UsageError, match=rf"^{setting.env}={bad}: expected"):
        effective(path=tmp_path / "none.toml", environ={setting.env: str(bad)})
    with pytest.raises(UsageError, match=rf"^{setting.option} {bad}: expected"):
        effective({name: bad}, path=tmp_path / "none.toml", environ={})
