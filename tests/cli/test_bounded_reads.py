"""Resources are bounded for the files a person points us at (issue 14).

The class: every small file we read because a person named it or put it in
our folders -- the config file, a script given by path, an included script,
an entry of the scripts folder -- is read only if it is a regular file and
only up to its limit. A FIFO never hangs a command, /dev/zero never eats the
memory, a huge file is refused before it is read: one located line each.
Run as real processes with a time limit and a memory limit, so a hang or a
runaway read fails the test instead of the machine.
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
