"""Text from outside is shown, never acted on: ids, titles and cues with control characters made visible.

An exercise id is a file name; a file name may hold a newline, an escape
sequence or a bidi override. ``voiceguide.visible.visible`` is the one helper
every printer uses (``list``, ``preview``, ``cues``, ``log``, ``schedule``,
``ctl``, error lines, the station's log); these tests hold it to its rule and
try it where it is used. Plus the ``$`` trap: a name check written with
``re.match`` and ``$`` lets a final newline through.
"""

from __future__ import annotations

import logging
import os

import pytest
from click.testing import CliRunner

from voiceguide import paths
from voiceguide.cli import cli
from voiceguide.script.controls import escape_controls
from voiceguide.visible import has_controls, visible

EXAMPLE = "title: Calm\nsteps:\n  - say: Hello.\n"


@pytest.mark.parametrize("text, shown", [
    ("plain words, ünïcødé, 日本語 🙂", "plain words, ünïcødé, 日本語 🙂"),
    ("evil\nname", "evil\\nname"),
    ("a\rb\tc", "a\\rb\\tc"),
    ("\x1b[2J", "\\x1b[2J"),
    ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
    ("c1\x85\x9b", "c1\\x85\\x9b"),
    ("\u202eevil", "\\u202eevil"),
    ("\u2066x\u2069", "\\u2066x\\u2069"),
    ("line\u2028sep", "line\\u2028sep"),
    ("mark\u200eok", "mark\u200eok"),  # a bidi mark is right-to-left text's own: kept
])
def test_visible_writes_every_control_as_an_escape(text, shown):
    assert visible(text) == shown
    assert visible(visible(text)) == shown  # idempotent: a log filter may run twice
    assert has_controls(text) == (text != shown)


def test_keep_and_the_loaders_escape_share_one_rule():
    assert visible("a\nb\tc\x1b", keep="\n\t") == "a\nb\tc\\x1b"
    assert escape_controls("a\nb\tc\x1b\u202e") == "a\nb\tc\\x1b\\u202e"
    assert visible(42) == "42"


def test_list_shows_a_hostile_file_name_on_one_line():
    folder = paths.scripts_dir()
    folder.mkdir(parents=True)
    (folder / "evil\x1b[2J\nname.yaml").write_text(EXAMPLE)
    (folder / "\u202ereversed.yaml").write_text(EXAMPLE)
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    [line] = [line for line in result.output.splitlines() if line.startswith("evil")]
    assert line.startswith("evil\\x1b[2J\\nname ") and "Calm" in line
    assert any(line.startswith("\\u202ereversed ") for line in result.output.splitlines())


def test_preview_and_errors_name_a_hostile_file_visibly(tmp_path):
    bad = tmp_path / "bad\x1b]0;owned\x07\n.yaml"
    bad.write_text("title: x\nsteps: 3\n")
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output and "bad\\x1b]0;owned\\x07\\n" in result.output


@pytest.mark.parametrize("name", ["evil\n", "evil\n.yaml", "./evil\n.yaml", "evil\r", "ok\x1b"])
def test_new_refuses_a_name_with_a_final_newline_or_a_control(tmp_path, name):
    os.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", name])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "\\" in result.output, result.output
    assert not paths.scripts_dir().exists() or not list(paths.scripts_dir().iterdir())
    assert list(tmp_path.iterdir()) == []


def test_the_stale_render_sweep_matches_whole_names_only(tmp_path):
    from voiceguide.sinks.file import remove_stale

    dead = 2 ** 22 + 12345  # above any pid_max: no such process
    ours = tmp_path / f".session.wav.{dead}.abc.vgpart"
    not_ours = tmp_path / f".session.wav.{dead}.abc.vgpart\n"
    ours.write_text("")
    not_ours.write_text("")
    assert remove_stale(tmp_path) == [ours]
    assert not_ours.exists()


def test_cues_and_sessions_print_with_controls_visible():
    from voiceguide.practice import report
    from voiceguide.practice.store import CueRow, SessionRow

    cue = CueRow(id=1, day="2030-01-07", noted="2030-01-07T07:30:00", noted_at=0.0, text="a\x1b[2Jb\nc")
    assert report.cues_by_day([cue])[1] == "  07:30  a\\x1b[2Jb\\nc"
    row = SessionRow(id=1, exercise="evil\n", title="evil\n\u202etitle", started="2030-01-07T07:30:00",
                     started_at=0.0, planned=60.0, listened=60.0, ended="completed")
    lines = report.table([row])
    assert len(lines) == 2 and "evil\\n\\u202etitle" in lines[1]


def test_schedule_list_shows_an_edited_unit_visibly():
    from voiceguide.station import systemd

    systemd.write_schedule(systemd.Schedule(name="x", exercise="evil\x1b[2J\nid", hour=7, minute=30),
                           systemd.unit_dir())
    result = CliRunner().invoke(cli, ["schedule", "list"])
    assert result.exit_code == 0, result.output
    [line] = result.output.strip().splitlines()
    assert "evil\\x1b[2J\\nid at 07:30" in line


def test_the_station_log_shows_ids_visibly():
    from voiceguide.station.redact import RedactToken

    record = logging.LogRecord("voiceguide.station.runner", logging.INFO, __file__, 1,
                               "session %s %s after %.0f s; %s", ("evil\n2030 forged line", "\x1b[2Jstopped",
                                                                    12.0, ValueError("no exercise \"a\nb\"")), None)
    RedactToken().filter(record)
    message = record.getMessage()
    assert message == 'session evil\\n2030 forged line \\x1b[2Jstopped after 12 s; no exercise "a\\nb"'
