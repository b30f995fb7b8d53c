"""Every command against hostile surroundings (issue 14, the sweep).

Each command a person types runs, as a real process under a private HOME,
in each of the surroundings below: folders it uses without permissions or
turned into a file or a loop, a named pipe (FIFO) where it keeps a small
file, a full standard output, closed standard streams. Whatever the
outcome, it must end on its own (no hang), and nothing may reach the person
that marks a bug (a traceback, "internal error", "please report it") or a
name they never gave (a hidden temporary file); a failure is exit 1 or 2 with
one line. `play` plays into the ALSA file device (tests/support/audio_env.py).

What the sweep found, each fixed at its root and kept here: `ctl` and
`schedule add` hung on a FIFO in place of the station's address file, the
station's token and settings files likewise; the station's preparing thread
died with a traceback on an unreadable scripts folder; `cue <&-` crashed on a
missing stdin; the station's address file, written atomically, was reported
under its hidden temporary name; a schedule that could not be written said
"Permission denied" without what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from tests.support.audio_env import ASOUNDRC_FILE
from tests.support.hostile import NEVER, as_user, private_home, restore

COMMANDS = {
    "list": ["list"],
    "validate": ["validate", "mine"],
    "preview": ["preview", "mine"],
    "render": ["render", "mine", "-o", "{tmp}/out/a.wav"],
    "play --text": ["play", "mine", "--text"],
    "new": ["new", "fresh"],
    "config": ["config"],
    "voices": ["voices"],
    "log": ["log"],
    "cue": ["cue", "a small warmth"],
    "cues": ["cues"],
    "ctl status": ["ctl", "status"],
    "schedule add": ["schedule", "add", "mine", "--at", "07:30"],
    "schedule list": ["schedule", "list"],
    "station": ["station", "--listen", "127.0.0.1:0"],
}


def _config(home):
    return home / ".config" / "voiceguide"


def _state(home):
    return home / ".local" / "state" / "voiceguide"


def _data(home):
    return home / ".local" / "share" / "voiceguide"


def _chmod(path, mode):
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)


def _fifo(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path, 0o600)


def _loop(path):
    shutil.rmtree(path)
    os.symlink(path.name, path)


def _a_file(path):
    shutil.rmtree(path)
    path.write_text("not a folder\n")


def _voice(home, fifo_for):
    """A voice in the voices folder whose *fifo_for* ("v.onnx" or "v.onnx.json") is a FIFO (issue 17)."""
    voices = _data(home) / "voices"
    voices.mkdir(parents=True, exist_ok=True)
    other = voices / ("v.onnx.json" if fifo_for == "v.onnx" else "v.onnx")
    other.write_text('{"audio": {"sample_rate": 22050}, "phoneme_id_map": {}, "language": {"code": "en_US"}}')
    _fifo(voices / fifo_for)


def _state_file(home, text):
    _state(home).mkdir(parents=True, exist_ok=True)
    (_state(home) / "station-state.json").write_text(text)


SURROUNDINGS = {
    "config folder 000": lambda home: _chmod(_config(home), 0),
    "config folder read-only": lambda home: _chmod(_config(home), 0o555),
    "scripts folder 000": lambda home: _chmod(_config(home) / "scripts", 0),
    "scripts folder a loop": lambda home: _loop(_config(home) / "scripts"),
    "~/.config a file": lambda home: _a_file(home / ".config"),
    "data folder 000": lambda home: _chmod(_data(home), 0),
    "data folder read-only": lambda home: _chmod(_data(home), 0o555),
    "state folder 000": lambda home: _chmod(_state(home), 0),
    "systemd units folder read-only": lambda home: _chmod(home / ".config" / "systemd" / "user", 0o555),
    "FIFO for config.toml": lambda home: _fifo(_config(home) / "config.toml"),
    "FIFO for the station's address": lambda home: _fifo(_state(home) / "station.json"),
    "FIFO for the station token": lambda home: _fifo(_config(home) / "station-token"),
    "FIFO for the station's volume": lambda home: _fifo(_state(home) / "station-state.json"),
    "FIFO for the scripts' schema": lambda home: _fifo(_config(home) / "scripts" / "voiceguide.schema.json"),
    "FIFO for a voice's config": lambda home: _voice(home, "v.onnx.json"),
    "FIFO for a voice model": lambda home: _voice(home, "v.onnx"),
    "a huge number in the station's state": lambda home: _state_file(home, '{"volume_db": 1' + "0" * 400 + "}"),
    "FIFO among the schedules": lambda home: _fifo(home / ".config" / "systemd" / "user" / "voiceguide-x.timer"),
    "full stdout": None,
    "closed stdin": None,
    "closed stdout": None,
    "closed stderr": None,
}

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")
#: Long enough for a start-up on a busy machine; a hang is far longer.
TIMEOUT = 45


def _run(args, env, cwd, surroundings):
    stdout, pre = subprocess.PIPE, None
    if surroundings == "full stdout":
        stdout = open("/dev/full", "w")
    elif surroundings.startswith("closed std"):
        fd = {"closed stdin": 0, "closed stdout": 1, "closed stderr": 2}[surroundings]
        pre = lambda: os.close(fd)  # noqa: E731
    station = args[0] == "station"
    proc = subprocess.Popen([*as_user(), sys.executable, "-m", "voiceguide", *args], env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            preexec_fn=pre)
    try:
        try:
            _, err = proc.communicate(timeout=4 if station else TIMEOUT)
        except subprocess.TimeoutExpired:
            if not station:
                proc.kill()
                proc.communicate()
                pytest.fail(f"`voiceguide {' '.join(args)}` hung ({surroundings})")
            proc.send_signal(signal.SIGTERM)  # a station that started: it stops on SIGTERM, exit 0
            _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if stdout is not subprocess.PIPE:
            stdout.close()
    return proc.returncode, err or ""


@pytest.mark.slow
@pytest.mark.audio
@pytest.mark.parametrize("surroundings", list(SURROUNDINGS))
def test_every_command_in_hostile_surroundings(tmp_path, surroundings):
    home, env = private_home(tmp_path)
    (home / ".asoundrc").write_text(ASOUNDRC_FILE.format(wav=tmp_path / "played.wav"))
    env["GPIOZERO_PIN_FACTORY"] = "mock"  # the station's buttons, without a Pi
    (tmp_path / "out").mkdir()
    failures = []
    try:
        for name, args in COMMANDS.items():
            scripts = _config(home) / "scripts"
            restore(home)
            for made in (home / ".config", home / ".local"):
                if made.is_dir() and not made.is_symlink():
                    shutil.rmtree(made)
                elif made.exists() or made.is_symlink():
                    made.unlink()
            scripts.mkdir(parents=True)
            (scripts / "mine.yaml").write_text("title: Mine\nsteps:\n  - Hello there.\n  - pause: 1s\n")
            for leftover in (tmp_path / "out").iterdir():
                leftover.unlink()
            setup = SURROUNDINGS[surroundings]
            if setup is not None:
                setup(home)
            code, err = _run([a.format(tmp=tmp_path) for a in args], env, tmp_path, surroundings)
            # play's and the station's timestamped log lines (no terminal) are not error lines
            lines = [line for line in err.splitlines() if line.strip() and not LOG_LINE.match(line)]
            bad = [word for word in NEVER if word in err]
            if bad or code not in (0, 1, 2):
                failures.append(f"{name}: exit {code}, {bad}: {err.strip()[-600:]}")
            elif code != 0 and surroundings != "closed stderr" and (
                    len(lines) != 1 or not lines[0].startswith(("voiceguide: ", str(home)))):
                failures.append(f"{name}: exit {code} with {len(lines)} lines: {err.strip()[-600:]}")
    finally:
        restore(tmp_path)
    assert failures == [], f"{surroundings}:\n" + "\n".join(failures)
