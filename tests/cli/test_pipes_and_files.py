"""Output for pipes and files (issue 13): a closed pipe is a normal end; files a person asked for get the usual mode."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli

VOICEGUIDE = shutil.which("voiceguide", path=str(Path(sys.executable).parent))

#: Commands whose output a person may well cut short with `| head -1`.
PIPED = [["voices"], ["config"], ["preview", "body-scan"], ["preview", "body-scan", "--json"], ["list"],
         ["schema"], ["about"], ["--help"], ["--version"], ["play", "--help"]]


@pytest.mark.parametrize("args", PIPED, ids=" ".join)
def test_a_closed_pipe_is_a_quiet_normal_end(args):
    """As `voiceguide ARGS | head -1` when head has gone before the first line: deterministic here."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: every write is EPIPE
    try:
        proc = subprocess.run([VOICEGUIDE, *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode in (0, -signal.SIGPIPE, 128 + signal.SIGPIPE)


def test_a_closed_pipe_after_some_lines_is_quiet_too():
    proc = subprocess.Popen([VOICEGUIDE, "voices"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip()
    proc.stdout.close()  # as head -1 does after its line
    err = proc.stderr.read()
    assert proc.wait(timeout=60) in (0, -signal.SIGPIPE, 128 + signal.SIGPIPE)
    assert err == ""


def test_length_as_a_bare_small_number_hints_at_minutes():
    result = CliRunner().invoke(cli, ["preview", "palm-pressure", "--length", "15"])
    assert "--length 15 means 15 seconds; for minutes write 15m" in result.stderr
    fine = CliRunner().invoke(cli, ["preview", "palm-pressure", "--length", "6m"])
    assert fine.exit_code == 0 and "means" not in fine.stderr


@pytest.mark.audio
def test_rendered_audio_and_captions_get_the_usual_mode_and_the_cache_stays_private(tmp_path):
    script = tmp_path / "short.yaml"
    script.write_text("title: Short\nsteps:\n  - Hello there.\n  - pause: 1s\n", encoding="utf-8")
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(cli, ["render", str(script), "-o", str(tmp_path / "s.wav"),
                                          "--captions", str(tmp_path / "s.vtt")])
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / "s.wav").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "s.vtt").stat().st_mode & 0o777 == 0o644
        os.umask(0o027)  # a stricter umask is obeyed too
        result = CliRunner().invoke(cli, ["render", str(script), "-o", str(tmp_path / "t.flac")])
        assert result.exit_code == 0, result.stderr
        assert (tmp_path / "t.flac").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
