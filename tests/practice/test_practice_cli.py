"""`voiceguide log`, `cue` and `cues` as a person uses them (CliRunner, and a real terminal for questions)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time

import pexpect
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.practice.store import PracticeLog, default_path

DAY = 24 * 3600


def run(*args, **kw):
    return CliRunner().invoke(cli, list(args), **kw)


def fill(days_ago_minutes, cues=()):
    """Sessions *minutes* long, *days_ago* days back, at this time of day."""
    now = time.time()
    with PracticeLog() as log:
        for days_ago, minutes in days_ago_minutes:
            log.add_session(exercise="body-scan", title="Body scan", started_at=now - days_ago * DAY,
                            ended="completed", listened=minutes * 60, planned=600)
        for days_ago, text in cues:
            log.add_cue(text, at=now - days_ago * DAY)


def write_config(text):
    folder = os.path.join(os.environ["XDG_CONFIG_HOME"], "voiceguide")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.toml"), "w") as f:
        f.write(text)


def test_log_with_no_sessions_is_kind_and_creates_nothing():
    result = run("log")
    assert result.exit_code == 0
    assert result.output.startswith("No sessions yet.")
    assert not default_path().exists()
    assert json.loads(run("log", "--json").output) == []
    assert run("log", "--csv").output.startswith("id,exercise,title,started")


def test_log_table_and_days_practised():
    fill([(0, 10), (1, 0.5), (2, 12), (9, 10)])
    result = run("log")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["when", "exercise", "listened", "ended"]
    assert len([line for line in lines if "Body scan" in line]) == 4
    assert lines[-1] == "Practised on 2 of the last 7 days."   # half a minute does not count
    assert "streak" not in result.output.lower() and "in a row" not in result.output
    assert len(run("log", "-n", "2").output.splitlines()) == 1 + 2 + 2


def test_streaks_only_when_turned_on():
    fill([(0, 10), (1, 10), (2, 10)])
    assert "in a row" not in run("log").output
    write_config("streaks = true\n")
    assert run("log").output.splitlines()[-1] == "3 days in a row."


def test_week_is_a_bar_chart():
    fill([(0, 20), (3, 10)])
    lines = run("log", "--week").output.splitlines()
    assert lines[0] == "Minutes listened, last 7 days:"
    chart = lines[1:8]
    assert chart[-1].lstrip().startswith("today") and chart[-1].count("█") == 30
    assert chart[3].count("█") == 15
    assert [line.count("█") for line in chart].count(0) == 5
    assert lines[-1] == "Practised on 2 of the last 7 days."


def test_json_and_csv_carry_every_session():
    fill([(i, 1) for i in range(30)])
    data = json.loads(run("log", "--json").output)
    assert len(data) == 30 and {"started", "listened", "ended", "exercise", "title"} <= set(data[0])
    rows = list(csv.DictReader(io.StringIO(run("log", "--csv").output)))
    assert len(rows) == 30 and rows[0]["ended"] == "completed"
    both = run("log", "--json", "--csv")
    assert both.exit_code == 2 and "choose one of" in both.output


def test_cue_and_cues():
    result = run("cue", "a", "pang", "of", "envy", "when", "the", "parcel", "came")
    assert result.exit_code == 0
    assert result.output.startswith("Noted for ") and result.output.rstrip().endswith(
        "a pang of envy when the parcel came")
    run("cue", "warmth at lunch")
    listed = run("cues").output.splitlines()
    assert listed[1].endswith("a pang of envy when the parcel came") and listed[2].endswith("warmth at lunch")
    data = json.loads(run("cues", "--json").output)
    assert [c["text"] for c in data] == ["a pang of envy when the parcel came", "warmth at lunch"]
    # a cue counts as a practised day
    assert run("log").output.splitlines()[-1] == "Practised on 1 of the last 7 days."


def test_cue_without_words_and_without_a_terminal_is_a_usage_error():
    result = run("cue")
    assert result.exit_code == 2
    assert 'give the cue as words' in result.output


def test_cue_from_a_pipe_is_one_cue():
    """`echo text | voiceguide cue` (issue 19): what comes through the pipe is the cue, its lines joined."""
    import subprocess

    piped = subprocess.run([sys.executable, "-m", "voiceguide", "cue"], input="a flicker of warmth\nat lunch\n",
                           env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("Noted for ") and piped.stdout.rstrip().endswith("a flicker of warmth at lunch")
    assert [c["text"] for c in json.loads(run("cues", "--json").output)] == ["a flicker of warmth at lunch"]


def test_cue_words_win_over_a_pipe_and_an_empty_or_endless_pipe_is_refused():
    from voiceguide.cli.practice_log import CUE_INPUT_LIMIT

    assert run("cue", "the words", input="not these\n").output.rstrip().endswith("the words")
    empty = run("cue", input=" \n\n")
    assert empty.exit_code == 2 and "give the cue as words" in empty.output
    flood = run("cue", input="y\n" * CUE_INPUT_LIMIT)  # `yes | voiceguide cue` would never end
    assert flood.exit_code == 2 and f"more than {CUE_INPUT_LIMIT} bytes" in flood.output
    assert [c["text"] for c in json.loads(run("cues", "--json").output)] == ["the words"]


def spawn(*args):
    return pexpect.spawn(sys.executable, ["-m", "voiceguide", *args], env=dict(os.environ), encoding="utf-8",
                         timeout=30)


def test_cue_asks_on_a_terminal():
    child = spawn("cue")
    child.expect("One small thing you felt today")
    child.sendline("a flicker of warmth at lunch")
    child.expect("Noted for")
    child.expect(pexpect.EOF)
    assert [c["text"] for c in json.loads(run("cues", "--json").output)] == ["a flicker of warmth at lunch"]
    child = spawn("cue")
    child.expect("One small thing")
    child.sendline("")
    child.expect("Nothing noted, and that is fine.")
    child.expect(pexpect.EOF)


def test_forget_asks_first_on_a_terminal_and_needs_yes_otherwise():
    fill([(0, 10), (1, 10)], cues=[(0, "a small cue")])
    child = spawn("log", "--forget")
    child.expect(r"Delete all 2 sessions and 1 cue from the practice log\? This cannot be undone. \[y/N\]")
    child.sendline("n")
    child.expect("Nothing was deleted.")
    child.expect(pexpect.EOF)
    assert len(json.loads(run("log", "--json").output)) == 2
    refused = run("log", "--forget")
    assert refused.exit_code == 2 and "add --yes" in refused.output
    child = spawn("log", "--forget")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("Deleted 2 sessions and 1 cue.")
    child.expect(pexpect.EOF)
    assert json.loads(run("log", "--json").output) == []
    fill([(0, 10)])
    assert run("log", "--forget", "--yes").output.strip() == "Deleted 1 session and 0 cues."


def test_a_damaged_log_is_one_line_and_exit_1():
    default_path().parent.mkdir(parents=True)
    default_path().write_bytes(b"not a database at all\n" * 100)
    result = run("log")
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("voiceguide: cannot open the practice log") and "move the file away" in line


def test_the_two_settings_are_checked_like_the_others(monkeypatch):
    fill([(0, 10), (1, 10)])
    write_config('streaks = "yes"\n')
    result = run("log")
    assert result.exit_code == 2
    assert result.output.strip().endswith("config.toml:1:1: streaks: expected true or false, got 'yes'")
    write_config("streaks = false\n")
    monkeypatch.setenv("VOICEGUIDE_STREAKS", "on")
    assert run("log").output.splitlines()[-1] == "2 days in a row."
    monkeypatch.setenv("VOICEGUIDE_PRACTICE_LOG", "perhaps")
    shown = run("config")
    assert shown.exit_code == 2 and "VOICEGUIDE_PRACTICE_LOG=perhaps: expected true or false" in shown.output
