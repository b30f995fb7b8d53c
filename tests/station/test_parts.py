"""The station's parts that need no sound: token, address file, settings, schedules and units.

Generated systemd units are checked by systemd itself (``systemd-analyze
--user verify`` and ``systemd-analyze calendar``), which works without a
running systemd given a private runtime folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.errors import UsageError
from voiceguide.station import address, systemd, token
from voiceguide.station.settings import Input, Led, StationSettings

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is missing (./run installs systemd)")


# -- token ---------------------------------------------------------------------------


def test_the_token_is_made_once_in_a_file_only_the_user_can_read(tmp_path, monkeypatch):
    monkeypatch.delenv(token.ENV, raising=False)
    path = tmp_path / "conf" / "station-token"
    first = token.ensure_token(path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token.ensure_token(path) == first
    assert token.read_token(path) == first


def test_the_environment_overrides_the_token_file(tmp_path):
    path = tmp_path / "station-token"
    token.ensure_token(path, environ={})
    assert token.ensure_token(path, environ={token.ENV: "from-env-0123456789"}) == "from-env-0123456789"
    assert token.read_token(path, environ={token.ENV: "  "}) == path.read_text().strip()


@pytest.mark.parametrize("short", ["x", "s3cret", "fifteen-chars-x"])
def test_a_token_shorter_than_16_characters_is_refused_at_start(tmp_path, short):
    path = tmp_path / "station-token"
    with pytest.raises(token.TokenError, match=f"is {len(short)} characters? long; it needs at least 16") as caught:
        token.ensure_token(path, environ={token.ENV: short})
    assert "\n" not in str(caught.value) and (len(short) == 1 or short not in str(caught.value))
    path.write_text(short + "\n")
    path.chmod(0o600)
    with pytest.raises(token.TokenError, match="--new-token"):
        token.ensure_token(path, environ={})
    assert token.ensure_token(path, environ={token.ENV: "x" * 16}) == "x" * 16


def test_a_token_file_others_can_read_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "station-token"
    path.write_text("abc\n")
    path.chmod(0o644)
    with pytest.raises(token.TokenError, match="chmod 600"):
        token.read_token(path, environ={})


def test_token_comparison(tmp_path):
    assert token.matches("s3cret", "s3cret")
    assert not token.matches("s3cre", "s3cret")
    assert not token.matches(None, "s3cret")
    assert not token.matches("", "s3cret")


# -- address -------------------------------------------------------------------------


@pytest.mark.parametrize("text, host, port", [
    ("127.0.0.1:8765", "127.0.0.1", 8765), (":9000", "127.0.0.1", 9000), ("0.0.0.0:80", "0.0.0.0", 80),
    ("[::1]:8765", "::1", 8765), ("localhost", "localhost", 8765), ("127.0.0.1:0", "127.0.0.1", 0),
])
def test_listen_addresses(text, host, port):
    assert address.parse_listen(text) == address.Address(host, port)


@pytest.mark.parametrize("text", ["127.0.0.1:http", "127.0.0.1:70000", "::1:80", "[::1"])
def test_bad_listen_addresses_say_how_to_write_one(text):
    with pytest.raises(UsageError, match="--listen"):
        address.parse_listen(text)


def test_the_address_file_names_a_live_process_only(tmp_path):
    path = tmp_path / "station.json"
    address.write(address.Address("0.0.0.0", 8123), path)
    found, pid = address.read(path)
    assert (found.connect_host, found.port, pid) == ("127.0.0.1", 8123, os.getpid())
    assert "token" not in path.read_text()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    path.write_text(f'{{"host": "127.0.0.1", "port": 8123, "pid": {dead}}}')
    assert address.read(path) is None
    address.write(address.Address("127.0.0.1", 8123), path)
    address.remove(path)
    assert not path.exists()


# -- [station] settings --------------------------------------------------------------


def _settings(tmp_path, text):
    from voiceguide.station.settings import station_settings

    path = tmp_path / "config.toml"
    path.write_text(text)
    return station_settings(path)


def test_station_settings_default_and_from_the_file(tmp_path):
    assert _settings(tmp_path, "rate = 130\n") == StationSettings()
    s = _settings(tmp_path, 'rate = 130\n[station]\nexercise = "body-scan"\nbutton = 5\nhold_time = 3\n'
                            'led = { pin = 6, active_low = true }\nnext_button = { pin = 22, pull = "down" }\n'
                            'encoder = { a = 20, b = 21, button = 16 }\nstart_volume_limit = -6\n')
    assert s.exercise == "body-scan" and s.hold_time == 3.0 and s.start_volume_limit == -6.0
    assert s.button == Input(5) and s.led == Led(6, True)
    assert s.next_button == Input(22, "down", False)
    assert s.next_button.pull_up is False and s.next_button.active_state is None
    assert (s.encoder.a, s.encoder.b, s.encoder.button) == (20, 21, Input(16))
    off = _settings(tmp_path, '[station]\nbutton = false\nled = false\n'
                              'volume_up_button = { pin = 23, pull = "off", active_low = false }\n')
    assert off.button is None and off.led is None
    assert off.volume_up_button.pull_up is None and off.volume_up_button.active_state is True


def test_station_settings_errors_are_located_and_all_reported(tmp_path):
    from voiceguide.config import ConfigError
    from voiceguide.station.settings import STATION as station_table

    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, 'rate = 130\n\n[station]\nexercise = "x"\nhold_tim = 2\nbutton = 99\n'
                            'led = { pin = 27, pull = "up" }\n'
                            'next_button = { pin = 22, pull = "up", active_low = false }\n')
    lines = err.value.lines()
    path = str(tmp_path / "config.toml")
    assert lines[0] == (f'{path}:5:1: [station]: unknown setting "hold_tim" (did you mean "hold_time"?); '
                        f"known: " + ", ".join(station_table.by_name))
    assert lines[1].startswith(f"{path}:6:1: [station] button: expected a GPIO (BCM) number from 0 to 53")
    assert lines[2].startswith(f"{path}:7:1: [station] led:")
    assert lines[3].startswith(f"{path}:8:1: [station] next_button: with pull = \"up\" a press reads low")


def test_the_station_table_does_not_disturb_the_player_settings(tmp_path):
    from voiceguide.config import read_file

    path = tmp_path / "config.toml"
    path.write_text('rate = 130\n[station]\nbutton = 17\n')
    assert read_file(path) == {"rate": 130}


# -- schedules as systemd units -----------------------------------------------------


@pytest.mark.parametrize("text, days", [
    (None, set(range(7))), ("mon..fri", {0, 1, 2, 3, 4}), ("sat,sun", {5, 6}), ("weekdays", set(range(5))),
    ("Mon,Wed,Fri", {0, 2, 4}), ("fri..mon", {4, 5, 6, 0}), ("tuesday", {1}), ("daily", set(range(7))),
])
def test_days(text, days):
    assert systemd.parse_days(text) == days


@pytest.mark.parametrize("text", ["mon..frx", "someday", "mon,xyz", ",,"])
def test_bad_days_say_what_is_accepted(text):
    with pytest.raises(systemd.ScheduleError, match="mon..fri"):
        systemd.parse_days(text)


@pytest.mark.parametrize("text, expected", [("7:30", (7, 30)), ("07:30", (7, 30)), ("23:59", (23, 59)),
                                            ("0:00", (0, 0))])
def test_times(text, expected):
    assert systemd.parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "7.30", "07:60", "noon", "7"])
def test_bad_times(text):
    with pytest.raises(systemd.ScheduleError, match="HH:MM"):
        systemd.parse_time(text)


def _verify(env_dir, *paths):
    runtime = env_dir / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    return subprocess.run(["systemd-analyze", "--user", "verify", *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=60)


def _calendar(expression, now_iterations=2):
    result = subprocess.run(["systemd-analyze", "calendar", f"--iterations={now_iterations}", expression],
                            capture_output=True, text=True, timeout=30, env=dict(os.environ, TZ="UTC"))
    assert result.returncode == 0, result.stderr
    normal = re.search(r"Normalized form: (.+)", result.stdout).group(1).strip()
    elapses = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", result.stdout)
    return normal, elapses


CASES = [("07:30", "mon..fri"), ("06:05", "sat,sun"), ("21:00", None), ("00:00", "mon,wed,fri"),
         ("12:15", "fri..mon"), ("23:59", "tue")]


@needs_systemd_analyze
@pytest.mark.parametrize("at, days", CASES)
def test_every_calendar_is_what_systemd_understands_and_next_run_agrees(at, days):
    hour, minute = systemd.parse_time(at)
    day_set = systemd.parse_days(days)
    expression = systemd.calendar(hour, minute, day_set)
    normal, elapses = _calendar(expression)
    assert normal == expression
    now = dt.datetime.now(dt.timezone.utc)
    first = systemd.next_run(hour, minute, day_set, now)
    assert first.strftime("%Y-%m-%d %H:%M:%S") == elapses[0]
    second = systemd.next_run(hour, minute, day_set, first)
    assert second.strftime("%Y-%m-%d %H:%M:%S") == elapses[1]


@needs_systemd_analyze
@pytest.mark.parametrize("at, days", CASES)
def test_every_generated_unit_passes_systemd_analyze_verify(tmp_path, at, days):
    hour, minute = systemd.parse_time(at)
    schedule = systemd.Schedule(name=systemd.default_name("body-scan", hour, minute), exercise="body-scan",
                                hour=hour, minute=minute, days=systemd.parse_days(days),
                                length="10m" if days else None, catch_up=days == "sat,sun")
    files = systemd.write_schedule(schedule, tmp_path / "units")
    result = _verify(tmp_path, *files)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    timer = files[0].read_text()
    assert f"OnCalendar={schedule.calendar}" in timer
    assert ("Persistent=true" in timer) == (days == "sat,sun")
    assert systemd.read_schedule(files[0]) == schedule


@needs_systemd_analyze
def test_the_station_unit_passes_verify_and_restarts_after_the_sound_target(tmp_path):
    from voiceguide.synth.lifetime import boot_code

    path = systemd.write_station_unit("0.0.0.0:8765", tmp_path / "units")
    result = _verify(tmp_path, path)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    text = path.read_text()
    assert "Restart=on-failure" in text and "After=sound.target" in text and "WantedBy=default.target" in text
    boot = systemd.exec_quote(boot_code("voiceguide.cli", "main"))  # not -m: see test_units.py
    assert f"ExecStart={sys.executable} -c {boot} station --listen=0.0.0.0:8765\n" in text


@needs_systemd_analyze
def test_a_unit_that_systemd_would_not_accept_is_caught_by_the_check(tmp_path):
    """The check itself can fail: a misspelt key and a missing program are reported."""
    bad = tmp_path / "voiceguide-bad.service"
    bad.write_text("[Service]\nExecStrat=/bin/true\nExecStart=/no/such/program\n")
    result = _verify(tmp_path, bad)
    assert result.returncode != 0 or result.stderr


def test_exec_arguments_are_quoted_for_systemd():
    assert systemd.exec_quote("body-scan") == "body-scan"
    assert systemd.exec_quote("/opt/my venv/bin/python") == '"/opt/my venv/bin/python"'
    assert systemd.exec_quote("50%") == '"50%%"'
    assert systemd.exec_quote("$HOME") == '"$$HOME"'
    assert systemd.exec_quote('say "hi"') == '"say \\"hi\\""'


def test_schedule_names_cannot_become_paths():
    for bad in ("../x", "a/b", "station", "UPPER", "", "x" * 80):
        with pytest.raises(systemd.ScheduleError):
            systemd.check_name(bad)
    assert systemd.check_name("voiceguide-morning.timer") == "morning"


def test_schedule_add_list_remove_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime"))  # no user systemd to talk to
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    runner = CliRunner()
    added = runner.invoke(cli, ["schedule", "add", "daily-check-in", "--at", "07:30", "--days", "mon..fri"])
    assert added.exit_code == 0, added.output
    assert "daily-check-in-0730: daily-check-in at 07:30 (mon..fri)" in added.output
    units = systemd.unit_dir()
    assert str(units).startswith(os.environ["XDG_CONFIG_HOME"])
    assert sorted(p.name for p in units.iterdir()) == ["voiceguide-daily-check-in-0730.service",
                                                       "voiceguide-daily-check-in-0730.timer"]
    assert "systemctl --user enable --now voiceguide-daily-check-in-0730.timer" in added.output
    listed = runner.invoke(cli, ["schedule", "list"])
    assert listed.exit_code == 0
    # no systemd runs the timer, so it promises no next time (issue 19)
    assert re.search(r"daily-check-in-0730 +daily-check-in at 07:30 mon..fri +"
                     r"not active: systemd is not running for this user$", listed.output.strip()), listed.output
    as_json = runner.invoke(cli, ["schedule", "list", "--json"])
    assert '"days": ["mon", "tue", "wed", "thu", "fri"]' in as_json.output
    found = re.match(r"(Mon|Tue|Wed|Thu|Fri) (\d{4}-\d\d-\d\d 07:30)$", json.loads(as_json.output)[0]["next"])
    assert found and json.loads(as_json.output)[0]["inactive"] == "not active: systemd is not running for this user"
    if shutil.which("systemd-analyze"):  # no systemd asked, and systemd's own calendar agrees
        said = subprocess.run(["systemd-analyze", "calendar", "Mon..Fri *-*-* 07:30:00"], capture_output=True,
                              text=True, timeout=30).stdout
        assert re.search(r"Next elapse: \w+ (\S+ \d\d:\d\d)", said).group(1) == found.group(2), said
    again = runner.invoke(cli, ["schedule", "add", "daily-check-in", "--at", "07:30"])
    assert again.exit_code == 2 and "exists already" in again.output
    unknown = runner.invoke(cli, ["schedule", "add", "body-scn", "--at", "07:30"])
    assert unknown.exit_code == 2 and 'did you mean "body-scan"' in unknown.output
    gone = runner.invoke(cli, ["schedule", "remove", "daily-check-in-0730"])
    assert gone.exit_code == 0 and not list(units.iterdir())
    missing = runner.invoke(cli, ["schedule", "remove", "daily-check-in-0730"])
    assert missing.exit_code == 2 and "no schedule named daily-check-in-0730" in missing.output


class UserManager:
    """Answers ``systemctl --user`` as a user manager would: a fast test of what ``listing`` does with
    each answer (a real user manager cannot run on the build machines; the fallback without one is
    tested for real above)."""

    def __init__(self, state="running", next_elapse="Mon 2030-01-07 07:30:00 UTC", returncode=0, hangs=False):
        self.state, self.next_elapse, self.returncode, self.hangs = state, next_elapse, returncode, hangs
        self.asked = []

    def __call__(self, argv):
        self.asked.append(argv[2])
        if argv[2] == "is-system-running":
            return subprocess.CompletedProcess(argv, 0 if self.state == "running" else 1, self.state + "\n", "")
        if self.hangs:
            raise subprocess.TimeoutExpired(argv, 20)
        return subprocess.CompletedProcess(argv, self.returncode, (self.next_elapse or "") + "\n",
                                           "" if self.returncode == 0 else "Unit not loaded.")


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="systemctl is missing (./run installs systemd)")
@pytest.mark.parametrize("manager, source", [
    (UserManager(), "systemd"),
    (UserManager(next_elapse="n/a"), "calendar"),            # loaded, but systemd has no next run
    (UserManager(next_elapse=""), "calendar"),
    (UserManager(returncode=1, next_elapse=""), "calendar"),  # written by hand, never daemon-reloaded
    (UserManager(hangs=True), "calendar"),
    (UserManager(state="offline"), "calendar"),             # no manager: it is not asked about the timer
])
def test_schedule_list_asks_a_running_systemd_and_falls_back_to_the_calendar(tmp_path, manager, source):
    from voiceguide.station import schedules

    schedule = systemd.Schedule(name="morning", exercise="body-scan", hour=7, minute=30,
                                days=systemd.parse_days("mon..fri"))
    systemd.write_schedule(schedule, tmp_path)
    now = dt.datetime(2030, 1, 4, 12, 0)  # a Friday
    [item] = schedules.listing(tmp_path, run=manager, now=now)
    assert item.source == source and item.schedule == schedule
    if source == "systemd":
        assert item.next == "Mon 2030-01-07 07:30:00 UTC"
    else:
        assert item.next == "Mon 2030-01-07 07:30"
    assert manager.asked == (["is-system-running"] if manager.state != "running" else ["is-system-running", "show"])


def test_station_install_writes_its_unit_and_prints_the_commands(tmp_path, monkeypatch):
    result = CliRunner().invoke(cli, ["station", "--install"])
    assert result.exit_code == 0, result.output
    assert (systemd.unit_dir() / "voiceguide-station.service").is_file()
    assert "systemctl --user enable --now voiceguide-station.service" in result.output
    assert "loginctl enable-linger" in result.output


def test_ctl_without_a_station_says_so_and_exits_1(tmp_path):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "voiceguide", "ctl", "status"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("voiceguide: no station is running; start one with `voiceguide station`")
    env["VOICEGUIDE_STATION_TOKEN"] = "some-token"
    free = subprocess.run([sys.executable, "-m", "voiceguide", "ctl", "--station", "127.0.0.1:9", "stop"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert free.returncode == 1 and "no station is running at 127.0.0.1:9" in free.stderr


def test_ctl_imports_neither_the_web_stack_nor_the_audio_stack(tmp_path):
    code = ("import sys\nfrom voiceguide.cli import main\n"
            "try:\n    main(['ctl', '--station', '127.0.0.1:9', 'status'])\nexcept SystemExit:\n    pass\n"
            "print([m for m in ('starlette', 'uvicorn', 'numpy', 'sounddevice') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, XDG_STATE_HOME=str(tmp_path)))
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_every_import_inside_the_station_resolves():
    """The station imports most things inside functions (to start fast): check they all exist."""
    import ast
    import importlib
    from pathlib import Path

    import voiceguide.station

    files = sorted(Path(voiceguide.station.__file__).parent.glob("*.py"))
    files.append(Path(voiceguide.station.__file__).parents[1] / "cli" / "station.py")
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voiceguide"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(
                        f"{node.module}.{alias.name}"), f"{path.name}: {node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("voiceguide"):
                        importlib.import_module(alias.name)


def test_station_enable_without_a_user_systemd_says_what_to_run_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime"))  # no user manager reachable
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    result = CliRunner().invoke(cli, ["station", "--install", "--enable"])
    assert result.exit_code == 1
    assert "systemd is not running for this user here" in result.output
    assert "systemctl --user enable --now voiceguide-station.service" in result.output
    assert (systemd.unit_dir() / "voiceguide-station.service").is_file()
    alone = CliRunner().invoke(cli, ["station", "--enable"])
    assert alone.exit_code == 2 and "--enable goes with --install" in alone.output


def test_a_station_without_its_web_server_says_which_extra_to_install(tmp_path):
    """Without the `station` extra: one line naming it, exit 2, nothing written (no token, no state)."""
    code = ("import sys\nsys.modules['uvicorn'] = None\nfrom voiceguide.cli import main\n"
            "main(['station', '--listen', '127.0.0.1:0', '--no-gpio'])\n")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("VOICEGUIDE_STATION_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("voiceguide: the station's web server (uvicorn) is not installed: "
                                     "pip install 'voiceguide[station]'")
    assert not (tmp_path / "config" / "voiceguide" / "station-token").exists()
