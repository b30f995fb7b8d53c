"""Names that become systemd lines: every unit written from any id passes systemd's own check.

An exercise id is a file name, so it may hold a newline, ``%``, ``$``, quotes,
backslashes, escape sequences or a leading dash. Written raw into a unit, a
newline adds ``[Service]`` / ``ExecStart=`` lines of the file name's choosing
and ``%`` is expanded by systemd. These tests write units from a list of such
ids and ask ``systemd-analyze verify`` (which works without a running systemd)
whether it accepts them, check that the units hold exactly the lines we meant,
and that an argument reaches the program unchanged: verify refuses a unit whose
executable does not exist, so a program whose file name is the hostile text
itself proves systemd un-quoted it to exactly that name.

Also: only units voiceguide wrote are replaced or removed, never through a
symbolic link, every option of ``station --install`` reaches the unit, and a
unit's command (read back as systemd reads it, and run) starts this installed
package, never a ``voiceguide/`` folder in the home folder a user unit runs in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.station import schedules, systemd
from voiceguide.visible import CONTROL_CLASS

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is missing (./run installs systemd)")

#: File names an exercise may have (anything but "/" and NUL), chosen to break a unit written raw.
HOSTILE = [
    "evil\n[Service]\nExecStart=/bin/sh -c id", "\n", "trailing\n", "\r", "cr\rlf\r\n", "%", "%n", "100%",
    "%%", "$HOME", "${HOME}", "$$", "\\", "back\\", "a\\nb", "\\x41", '"', "'", 'say "hi"', "it's",
    "with space", " leading", "trailing ", "tab\there", "ünïcødé", "日本語", "emoji 🙂", "\x1b[2J\x1b[31mred",
    "bell\x07", "del\x7f", "c1\x85\x9b", "\u202eevil.sh", "line\u2028sep", "-x", "--help", ";", "a ; b",
    "#comment", "[Service]", "Description=x", "\\\n", "x" * 200,
]

_PLAIN_LINE = re.compile(r"(#.*|\[(Unit|Timer|Service|Install)\]|[A-Za-z-]+=.*|)")


def _verify(tmp_path: Path, *paths: Path) -> subprocess.CompletedProcess:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    return subprocess.run(["systemd-analyze", "--user", "verify", *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=120)


def _lines_are_ours(text: str, sections: List[str], exec_lines: int) -> None:
    """The unit holds only the sections we write, one ExecStart at most, and no control character."""
    lines = text.split("\n")
    assert not any(re.search(f"[{CONTROL_CLASS}]", line) for line in lines), text
    assert [line for line in lines if line.startswith("[")] == sections, text
    assert sum(line.startswith("ExecStart=") for line in lines) == exec_lines, text
    for line in lines:
        assert _PLAIN_LINE.fullmatch(line), line
        assert not line.rstrip().endswith("\\") or line.startswith("#"), line


def test_exec_quote_escapes_what_systemd_would_read():
    assert systemd.exec_quote("body-scan") == "body-scan"
    assert systemd.exec_quote("a\nb") == '"a\\nb"'
    assert systemd.exec_quote("tab\t") == '"tab\\t"'
    assert systemd.exec_quote("\x1b[2J") == '"\\x1b[2J"'
    assert systemd.exec_quote("\u202e") == '"\\u202e"'
    assert systemd.exec_quote("%n $X \\") == '"%%n $$X \\\\"'
    with pytest.raises(systemd.ScheduleError, match="NUL"):
        systemd.exec_quote("a\x00b")


def test_a_unit_value_stays_on_its_line_and_expands_nothing():
    assert systemd.unit_value("a\nb %n") == "a\\nb %%n"
    assert systemd.unit_value("ends in \\") == "ends in \\ "      # not a continuation line
    assert systemd.unit_value("ends in \\\\") == "ends in \\\\"   # an even count is no continuation
    with pytest.raises(systemd.ScheduleError, match="control character"):
        systemd.checked_unit("[Unit]\nDescription=a\rb\n")


@needs_systemd_analyze
def test_units_written_from_hostile_ids_pass_verify_and_hold_only_our_lines(tmp_path):
    units = tmp_path / "units"
    written = []
    for number, ident in enumerate(HOSTILE):
        schedule = systemd.Schedule(name=f"h{number}", exercise=ident, hour=7, minute=30,
                                    days=systemd.parse_days("mon..fri"), length="10m")
        timer, service = systemd.write_schedule(schedule, units)
        _lines_are_ours(timer.read_text(), ["[Unit]", "[Timer]", "[Install]"], 0)
        _lines_are_ours(service.read_text(), ["[Unit]", "[Service]"], 1)
        assert systemd.read_schedule(timer) == schedule  # the id itself survives, in the JSON comment
        station = units / f"voiceguide-station-h{number}.service"
        station.write_text(systemd.station_unit_text("127.0.0.1:8765", device=ident, exercise=ident, gpio=False))
        _lines_are_ours(station.read_text(), ["[Unit]", "[Service]", "[Install]"], 1)
        written += [timer, service, station]
    result = _verify(tmp_path, *written)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


@needs_systemd_analyze
def test_systemd_unquotes_every_argument_to_exactly_what_was_given(tmp_path):
    """A program named after each hostile id: verify finds it only if the quoting round-trips.

    systemd refuses control characters, quotes and backslashes in a program's
    name, so those ids are proven by the escapes test above and by verify
    accepting them as arguments. ``$`` is left alone in a program's path
    (``exec_quote(program=True)``) and doubled in arguments.
    """
    programs = tmp_path / "programs"
    programs.mkdir()
    units = tmp_path / "units"
    units.mkdir()
    written = []
    for number, ident in enumerate(HOSTILE):
        if re.search(f"[{CONTROL_CLASS}\\\\\"']", ident):
            continue
        program = programs / f"p{ident}"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        unit = units / f"arg{number}.service"
        quoted = systemd.exec_quote(str(program), program=True)
        unit.write_text(f"[Service]\nExecStart={quoted} {systemd.exec_quote(ident)}\n")
        written.append(unit)
    assert len(written) > 20
    result = _verify(tmp_path, *written)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    # and the check can fail: a name quoted the old way (% not doubled) names a missing program
    bad = units / "bad.service"
    bad.write_text(f'[Service]\nExecStart="{programs}/p%n"\n')
    result = _verify(tmp_path, bad)
    assert result.returncode != 0 or result.stderr


def test_schedule_names_are_checked_to_the_end():
    for bad in ("evil\n", "morning\n", "a\rb", "x%n", "x y"):
        with pytest.raises(systemd.ScheduleError) as caught:
            systemd.check_name(bad)
        assert "\n" not in str(caught.value) and "\r" not in str(caught.value)
    result = CliRunner().invoke(cli, ["schedule", "add", "body-scan", "--at", "07:30", "--name", "evil\n"])
    assert result.exit_code == 2 and "evil\\n" in result.output
    assert not systemd.unit_dir().exists() or not list(systemd.unit_dir().iterdir())


def test_the_service_passes_the_id_after_a_double_dash():
    schedule = systemd.Schedule(name="dash", exercise="-x", hour=7, minute=0, length="5m")
    assert schedule.service_text().count('schedule run --length=5m -- -x\n') == 1


# -- ours or the user's -------------------------------------------------------------

#: What the release before the X-Voiceguide marker wrote for `schedule add body-scan --at 07:30 --name old`.
OLD_TIMER = """\
# Written by `voiceguide schedule add`; remove it with `voiceguide schedule remove old`.
# voiceguide-schedule: {"at": "07:30", "catch_up": false, "days": "daily", "exercise": "body-scan", "length": null, \
"name": "old"}
[Unit]
Description=voiceguide: body-scan at 07:30 (daily)

[Timer]
OnCalendar=*-*-* 07:30:00
AccuracySec=1s
Persistent=false
Unit=voiceguide-old.service

[Install]
WantedBy=timers.target
"""
OLD_SERVICE = """\
# Written by `voiceguide schedule add`; remove it with `voiceguide schedule remove old`.
[Unit]
Description=voiceguide: play body-scan (schedule old)
After=sound.target

[Service]
Type=simple
ExecStart=/usr/bin/python3 -m voiceguide schedule run body-scan
Environment=PYTHONUNBUFFERED=1
TimeoutStopSec=15
"""
HAND_TIMER = "[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n"
HAND_SERVICE = "[Service]\nExecStart=/usr/bin/true\n"


class Systemctl:
    """A user manager that answers and remembers what it was asked."""

    def __init__(self):
        self.asked: List[List[str]] = []

    def __call__(self, argv):
        self.asked.append(list(argv))
        out = "running\n" if argv[2] == "is-system-running" else ""
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_a_timer_written_by_hand_is_neither_disabled_nor_removed(tmp_path):
    units = systemd.unit_dir()
    units.mkdir(parents=True)
    (units / "voiceguide-mine.timer").write_text(HAND_TIMER)
    (units / "voiceguide-mine.service").write_text(HAND_SERVICE)
    manager = Systemctl()
    with pytest.raises(systemd.ScheduleError, match="not written by voiceguide.*remove it yourself"):
        schedules.remove("mine", run=manager)
    assert not any("disable" in argv for argv in manager.asked)
    result = CliRunner().invoke(cli, ["schedule", "remove", "mine"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "not written by voiceguide" in result.output
    assert (units / "voiceguide-mine.timer").read_text() == HAND_TIMER
    assert (units / "voiceguide-mine.service").read_text() == HAND_SERVICE
    for replace in ([], ["--replace"]):  # and `add` never writes over them
        added = CliRunner().invoke(cli, ["schedule", "add", "body-scan", "--at", "07:30", "--name", "mine",
                                         *replace])
        assert added.exit_code == 2 and "not written by voiceguide" in added.output, added.output
    assert (units / "voiceguide-mine.timer").read_text() == HAND_TIMER


def test_a_service_written_by_hand_beside_our_timer_is_left_with_a_note():
    units = systemd.unit_dir()
    systemd.write_schedule(systemd.Schedule(name="mixed", exercise="body-scan", hour=7, minute=30), units)
    (units / "voiceguide-mixed.service").write_text(HAND_SERVICE)
    outcome = schedules.remove("mixed", run=Systemctl())
    assert outcome.files == [units / "voiceguide-mixed.timer"]
    assert any("voiceguide-mixed.service" in note and "not written by voiceguide" in note for note in outcome.notes)
    assert (units / "voiceguide-mixed.service").read_text() == HAND_SERVICE


def test_units_of_the_release_before_the_marker_are_still_ours():
    units = systemd.unit_dir()
    units.mkdir(parents=True)
    (units / "voiceguide-old.timer").write_text(OLD_TIMER)
    (units / "voiceguide-old.service").write_text(OLD_SERVICE)
    listed = CliRunner().invoke(cli, ["schedule", "list"])
    assert "old  body-scan at 07:30 daily" in listed.output, listed.output
    replaced = CliRunner().invoke(cli, ["schedule", "add", "body-scan", "--at", "08:00", "--name", "old",
                                        "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert "X-Voiceguide=schedule" in (units / "voiceguide-old.timer").read_text()
    (units / "voiceguide-old.timer").write_text(OLD_TIMER)
    (units / "voiceguide-old.service").write_text(OLD_SERVICE)
    gone = CliRunner().invoke(cli, ["schedule", "remove", "old"])
    assert gone.exit_code == 0, gone.output
    assert not list(units.iterdir())
    # the old first line names its schedule: the same text under another name is not recognised
    (units / "voiceguide-other.timer").write_text(OLD_TIMER)
    assert systemd.unit_owner(units / "voiceguide-other.timer", "schedule", "other") == systemd.THEIRS


def test_the_station_unit_replaces_only_its_own():
    units = systemd.unit_dir()
    units.mkdir(parents=True)
    path = units / systemd.STATION_UNIT
    path.write_text(HAND_SERVICE)
    result = CliRunner().invoke(cli, ["station", "--install"])
    assert result.exit_code == 2 and "not written by voiceguide" in result.output, result.output
    assert path.read_text() == HAND_SERVICE
    path.write_text("# Written by `voiceguide station --install`.\n[Unit]\nDescription=old\n")
    result = CliRunner().invoke(cli, ["station", "--install"])
    assert result.exit_code == 0, result.output
    assert "X-Voiceguide=station" in path.read_text()
    again = CliRunner().invoke(cli, ["station", "--install", "--no-gpio"])
    assert again.exit_code == 0 and "--no-gpio" in path.read_text()


# -- never through a link ---------------------------------------------------------------


def _plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


@pytest.mark.parametrize("where", ["user", "systemd"])
def test_a_linked_unit_folder_is_refused_for_every_write(tmp_path, where):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "user").mkdir(parents=True)
    units = systemd.unit_dir()
    if where == "user":
        _plant(units, elsewhere / "user")
        link = units
    else:
        _plant(units.parent, elsewhere)
        link = units.parent
    (elsewhere / "user" / "voiceguide-planted.timer").write_text(OLD_TIMER.replace("old", "planted"))
    for argv in (["schedule", "add", "body-scan", "--at", "07:30"], ["schedule", "remove", "planted"],
                 ["station", "--install"]):
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 2, (argv, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and str(link) in lines[0] and "symbolic link" in lines[0], (argv, result.output)
    assert sorted(p.name for p in (elsewhere / "user").iterdir()) == ["voiceguide-planted.timer"]


def test_a_unit_that_is_a_link_is_never_written_through_or_removed(tmp_path):
    units = systemd.unit_dir()
    units.mkdir(parents=True)
    decoy = tmp_path / "decoy"
    decoy.write_text("precious\n")
    _plant(units / "voiceguide-linked.timer", decoy)
    _plant(units / systemd.STATION_UNIT, tmp_path / "missing")  # a dangling link: nothing may appear there
    for argv in (["schedule", "add", "body-scan", "--at", "07:30", "--name", "linked", "--replace"],
                 ["schedule", "remove", "linked"], ["station", "--install"]):
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 2 and "symbolic link" in result.output, (argv, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert decoy.read_text() == "precious\n" and (units / "voiceguide-linked.timer").is_symlink()
    assert not (tmp_path / "missing").exists()


# -- every option of station --install reaches the unit ----------------------------------


@needs_systemd_analyze
def test_station_install_keeps_every_option_and_click_reads_them_back(tmp_path):
    from voiceguide.cli.station import station
    from voiceguide.synth.lifetime import boot_code

    result = CliRunner().invoke(cli, ["station", "--install", "--listen", "0.0.0.0:8765", "--device", "USB Audio %n",
                                      "--exercise", "breathing", "--no-gpio"])
    assert result.exit_code == 0, result.output
    path = systemd.unit_dir() / systemd.STATION_UNIT
    text = path.read_text()
    boot = systemd.exec_quote(boot_code("voiceguide.cli", "main"))
    assert (f'ExecStart={sys.executable} -c {boot} station --listen=0.0.0.0:8765 "--device=USB Audio %%n" '
            "--exercise=breathing --no-gpio\n") in text
    verified = _verify(tmp_path, path)
    assert verified.returncode == 0 and verified.stdout + verified.stderr == "", verified.stdout + verified.stderr
    args = systemd.station_arguments("0.0.0.0:8765", device="-1", exercise="breathing", gpio=False)
    params = station.make_context("station", args[1:]).params
    assert (params["listen"], params["device"], params["exercise"], params["no_gpio"]) == (
        "0.0.0.0:8765", "-1", "breathing", True)


def test_station_install_refuses_an_exercise_it_does_not_know():
    result = CliRunner().invoke(cli, ["station", "--install", "--exercise", "breathng"])
    assert result.exit_code == 2 and 'did you mean "breathing"' in result.output, result.output
    assert not (systemd.unit_dir() / systemd.STATION_UNIT).exists()


def test_the_api_refuses_to_remove_a_timer_written_by_hand():
    from voiceguide.station.app import create_app
    from voiceguide.station.event_stream import EventHub

    from tests.station.test_hostile_requests import TOKEN, FakeController, call

    units = systemd.unit_dir()
    units.mkdir(parents=True)
    (units / "voiceguide-mine.timer").write_text(HAND_TIMER)
    app = create_app(FakeController(), TOKEN, hub=EventHub())
    status, _, data = call(app, "POST", "/api/schedules/remove", b'{"name": "mine"}')
    assert status == 400 and "not written by voiceguide" in data["error"], data
    assert (units / "voiceguide-mine.timer").read_text() == HAND_TIMER


# -- a unit runs this installed package, never a voiceguide/ in its working folder ------------------

_C_UNESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "s": " ",
                "\\": "\\", '"': '"', "'": "'"}


def _systemd_argv(value: str) -> List[str]:
    """An ``ExecStart=`` value read back as systemd reads it (``config_parse_exec``).

    Words split on blanks, quotes and C escapes undone; an unquoted lone
    ``;`` is refused (systemd would start a second command there); then, per
    word, ``%%`` becomes ``%`` and, in arguments only, ``$$`` becomes ``$``.
    Any other specifier or a ``$VARIABLE`` fails: :func:`exec_quote` must
    never leave one.
    """
    words: List[str] = []
    word: List[str] = []
    raw = ""
    quote = None
    i = 0
    while i <= len(value):
        c = value[i] if i < len(value) else " "
        if quote is None and c in " \t":  # a blank, or the end
            if raw:
                assert raw != ";", f"an unquoted ';' separates commands: {value}"
                words.append("".join(word))
            word, raw = [], ""
            i += 1
            continue
        raw += c
        if c == "\\":
            escape = value[i + 1]
            width = {"x": 2, "u": 4, "U": 8}.get(escape)
            if width:
                word.append(chr(int(value[i + 2:i + 2 + width], 16)))
                raw += value[i + 1:i + 2 + width]
                i += 2 + width
            else:
                word.append(_C_UNESCAPES[escape])
                raw += escape
                i += 2
            continue
        if quote is not None and c == quote:
            quote = None
        elif quote is None and c in "\"'":
            quote = c
        else:
            word.append(c)
        i += 1
    assert quote is None, f"unclosed quote: {value}"

    def specifier(m: re.Match) -> str:
        assert m.group(1) == "%", f"systemd would expand %{m.group(1)}: {value}"
        return "%"

    def variable(m: re.Match) -> str:
        assert m.group(1) in ("$", None), f"systemd would expand ${m.group(1)}: {value}"
        return "$"

    words = [re.sub(r"%(.?)", specifier, w) for w in words]
    return words[:1] + [re.sub(r"\$(\$|\{|[A-Za-z_])?", variable, w) for w in words[1:]]


def _exec_start(text: str) -> List[str]:
    (line,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return _systemd_argv(line[len("ExecStart="):])


def _plant_package(folder: Path, marker: Path) -> None:
    """A ``voiceguide/`` package in *folder* that leaves *marker* and says so if anything imports it."""
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n'); print('PLANTED voiceguide ran')\n"
    (folder / "voiceguide" / "cli").mkdir(parents=True)
    for name in ("__init__.py", "__main__.py", "cli/__init__.py"):
        (folder / "voiceguide" / name).write_text(code)


def test_exec_start_reads_back_every_hostile_argument_unchanged():
    """The reader above agrees with exec_quote (verify proves systemd does; see the tests above)."""
    from voiceguide.station.unitquote import voiceguide_argv

    argv = voiceguide_argv([])
    for ident in HOSTILE:
        assert _systemd_argv(systemd.command_line(["x", ident])) == [*argv, "x", ident], ident
    with pytest.raises(AssertionError, match="separates commands"):
        _systemd_argv("/bin/echo a ; b")


@needs_systemd_analyze
def test_a_units_command_runs_this_package_not_a_voiceguide_folder_in_its_working_folder(tmp_path, monkeypatch):
    """A user unit runs in the home folder, where a checkout ~/voiceguide often is: `python -m voiceguide`
    imported that one. The schedule's service is run as systemd would run it, from such a home: this
    package answers (no station, an unknown id: its own one-line error), and the planted one never runs."""
    from voiceguide.synth.lifetime import boot_code

    home = tmp_path / "home"
    marker = tmp_path / "planted-code-ran"
    _plant_package(home, marker)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime"))  # and the state folder is private
    units = tmp_path / "units"
    schedule = systemd.Schedule(name="probe", exercise="no-such-exercise", hour=7, minute=30)
    timer, service = systemd.write_schedule(schedule, units)
    station = systemd.write_station_unit("127.0.0.1:8765", units)
    verified = _verify(tmp_path, timer, service, station)
    assert verified.returncode == 0 and verified.stdout + verified.stderr == "", verified.stdout + verified.stderr
    argv = _exec_start(service.read_text())
    done = subprocess.run(argv, cwd=home, env=dict(os.environ, HOME=str(home)), capture_output=True, text=True,
                          timeout=120)
    assert "PLANTED" not in done.stdout + done.stderr and not marker.exists(), done.stdout + done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == ["no station runs; playing no-such-exercise here",
                                        'voiceguide: no exercise "no-such-exercise"; `voiceguide list` shows them '
                                        "all, or give a path to a .yaml file"], done.stderr
    boot = [os.path.abspath(sys.executable), "-c", boot_code("voiceguide.cli", "main")]
    assert argv == [*boot, "schedule", "run", "--", "no-such-exercise"]
    assert _exec_start(station.read_text()) == [*boot, "station", "--listen=127.0.0.1:8765"]  # the same start
    version = subprocess.run([*boot, "--version"], cwd=home, capture_output=True, text=True, timeout=60)
    assert version.stdout == f"voiceguide, version {_version()}\n" and not marker.exists(), version


def test_schedule_run_plays_with_this_package_not_a_voiceguide_folder_in_its_working_folder(tmp_path, monkeypatch):
    """With no station, `schedule run` starts `voiceguide play` in its place; `python -m voiceguide play`
    imported a voiceguide/ of the current folder. Started here as the speech workers are (boot_code), so
    only that second start is under test: the played id is unknown, and the error must be this package's."""
    from voiceguide.synth.lifetime import boot_code

    folder = tmp_path / "here"
    marker = tmp_path / "planted-code-ran"
    _plant_package(folder, marker)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime"))
    argv = [sys.executable, "-c", boot_code("voiceguide.cli", "main"), "schedule", "run", "--length", "5m", "--",
            "-no-such-exercise"]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=120)
    assert "PLANTED" not in done.stdout + done.stderr and not marker.exists(), done.stdout + done.stderr
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == ["no station runs; playing -no-such-exercise here",
                                        'voiceguide: no exercise "-no-such-exercise"; `voiceguide list` shows them '
                                        "all, or give a path to a .yaml file"], done.stderr


def _version() -> str:
    from importlib.metadata import version

    return version("voiceguide")
