"""Errors a person can cause are not internal errors (issue 14).

The class: whatever a person can do to the files and streams around the
program -- folders without permissions, a folder that is a loop of links or
a file, an output folder that cannot be written, a full disk, a file size
limit, a full standard output, closed standard streams -- gets one line on
stderr that names the path they know (never a hidden temporary file) and
what to do, exit 1 (2 only for a usage mistake), and never a traceback or
"please report it"; --debug adds the traceback.

These run the real program in a subprocess under a private HOME, with the
permission bits enforced even when the tests run as root
(:func:`tests.support.hostile.as_user`) and a real full disk on a private
tmpfs where the machine allows one (:func:`tests.support.hostile.on_tiny_disk`).
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys

import pytest

from tests.support.hostile import (as_user, left_on_disk, on_tiny_disk, one_clear_line, private_home, restore,
                                   run)

#: No speech (no engine needed), and long enough to fill a small disk: 30 s is ~4 MB of WAV.
QUIET = "title: Quiet\nsteps:\n  - bell: chime\n  - pause: 30s\n"
#: The same with a noise bed: no compression makes it small.
NOISY = "title: Noisy\nambient:\n  - noise: white\n    level: -20 dB\nsteps:\n  - pause: 30s\n"


@pytest.fixture()
def home(tmp_path):
    home, env = private_home(tmp_path)
    scripts = home / ".config" / "voiceguide" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "mine.yaml").write_text("title: Mine\nsteps:\n  - pause: 2s\n", encoding="utf-8")
    (tmp_path / "quiet.yaml").write_text(QUIET, encoding="utf-8")
    (tmp_path / "noisy.yaml").write_text(NOISY, encoding="utf-8")
    (tmp_path / "out").mkdir()
    yield home, env, tmp_path
    restore(tmp_path)


def _config(home):
    return home / ".config" / "voiceguide"


def _scripts(home):
    return _config(home) / "scripts"


def _data(home):
    return home / ".local" / "share" / "voiceguide"


def unreadable_config(home, tmp):
    os.chmod(_config(home), 0)


def unreadable_scripts(home, tmp):
    os.chmod(_scripts(home), 0)


def unlistable_scripts(home, tmp):
    os.chmod(_scripts(home), 0o444)  # names cannot be listed or looked up


def unwritable_scripts(home, tmp):
    os.chmod(_scripts(home), 0o555)


def looping_scripts(home, tmp):
    import shutil

    shutil.rmtree(_scripts(home))
    os.symlink("scripts", _scripts(home))


def config_is_a_file(home, tmp):
    import shutil

    shutil.rmtree(home / ".config")
    (home / ".config").write_text("not a folder\n")


def unwritable_output(home, tmp):
    os.chmod(tmp / "out", 0o555)


def unreadable_data(home, tmp):
    _data(home).mkdir(parents=True)
    os.chmod(_data(home), 0)


def unwritable_data(home, tmp):
    _data(home).mkdir(parents=True)
    os.chmod(_data(home), 0o555)


#: (set-up, [(arguments, [what the one line must say])]); {c} config, {s} scripts, {o} out, {d} data folder.
CASES = {
    "config folder unreadable": (unreadable_config, [
        (["list"], ["permission denied on the folder {c}", "chmod u+x {c}"]),  # the config or the scripts
        (["config"], ["{c}/config.toml: cannot read the config file", "chmod u+x {c}"]),
        (["play", "mine", "--text"], ["{c}/config.toml: cannot read the config file", "chmod u+x {c}"]),
        (["new", "foo"], ["{s}/foo.yaml: cannot write it: permission denied on the folder {c}", "chmod u+"]),
    ]),
    "scripts folder unreadable": (unreadable_scripts, [
        (["list"], ["{s}: cannot read your scripts folder", "chmod u+rx {s}"]),
        (["preview", "mine"], ["{s}: cannot read your scripts folder", "chmod u+rx {s}"]),
        (["validate", "mine"], ["{s}: cannot read your scripts folder", "chmod u+rx {s}"]),
        (["render", "mine", "-o", "{o}/a.wav"], ["{s}: cannot read your scripts folder"]),
        (["schedule", "add", "mine", "--at", "07:30"], ["{s}: cannot read your scripts folder"]),
    ]),
    "scripts folder without search permission": (unlistable_scripts, [
        (["list"], ["{s}: cannot read your scripts folder", "chmod u+rx {s}"]),
        (["play", "body-scan", "--text"], ["{s}: cannot read your scripts folder", "chmod u+rx {s}"]),
    ]),
    "scripts folder unwritable": (unwritable_scripts, [
        (["new", "foo"], ["{s}/foo.yaml: cannot write it: permission denied on the folder {s}",
                          "chmod u+rwx {s}"]),
    ]),
    "scripts folder a loop of links": (looping_scripts, [
        (["list"], ["{s}: cannot read your scripts folder: the symbolic link {s} goes round in a loop",
                    "remove it (`rm {s}`)"]),
        (["play", "body-scan", "--text"], ["the symbolic link {s} goes round in a loop"]),
        (["new", "foo"], ["{s}/foo.yaml: cannot write it: the symbolic link {s} goes round in a loop"]),
    ]),
    "config folder a file": (config_is_a_file, [
        (["list"], ["{c}/", "a part of the path is a file, not a folder"]),  # the config or the scripts
        (["config"], ["{c}/config.toml: cannot read the config file: a part of the path is a file"]),
        (["new", "foo"], ["{s}/foo.yaml: cannot write it: a part of the path is a file, not a folder"]),
    ]),
    "output folder unwritable": (unwritable_output, [
        (["render", "{t}/quiet.yaml", "-o", "{o}/a.wav"],
         ["{o}/a.wav: cannot write it: permission denied on the folder {o}", "chmod u+rwx {o}"]),
        (["render", "{t}/quiet.yaml", "-o", "{t}/fine.wav", "--captions", "{o}/a.vtt"],
         ["{o}/a.vtt: cannot write it: permission denied on the folder {o}", "chmod u+rwx {o}"]),
    ]),
    "practice log folder unreadable": (unreadable_data, [
        (["log"], ["{d}/practice.sqlite3: cannot read the practice log: permission denied on the folder {d}",
                   "chmod u+"]),
        (["cues"], ["{d}/practice.sqlite3: cannot read the practice log"]),
        (["cue", "a small cue"], ["{d}/practice.sqlite3: cannot open the practice log", "chmod u+rwx {d}"]),
    ]),
    "practice log folder unwritable": (unwritable_data, [
        (["cue", "a small cue"], ["{d}/practice.sqlite3: cannot open the practice log: permission denied on "
                                  "the folder {d}", "chmod u+rwx {d}"]),
    ]),
}


def _fill(text, home, tmp):
    return text.format(c=_config(home), s=_scripts(home), o=tmp / "out", d=_data(home), t=tmp)


@pytest.mark.parametrize("case", list(CASES))
def test_folders_a_person_cannot_use_are_named_with_what_to_do(home, case):
    home, env, tmp = home
    setup, runs = CASES[case]
    setup(home, tmp)
    for n, (args, says) in enumerate(runs):
        args = [_fill(a, home, tmp) for a in args]
        result = run(args, env, prefix=as_user(), cwd=tmp)
        assert result.returncode == 1, (args, result.stderr)
        line = one_clear_line(result)
        for words in says:
            assert _fill(words, home, tmp) in line, (args, line)
        if n == 0:  # --debug shows where it came from
            debug = run(["--debug", *args], env, prefix=as_user(), cwd=tmp)
            assert debug.returncode == 1
            assert "Traceback (most recent call last)" in debug.stderr
            assert debug.stderr.splitlines()[-1] == line


def test_an_unreadable_folder_does_not_stop_commands_that_do_not_need_it(home):
    """The scripts folder is for scripts: `about`, `voices` and a script given by path still work."""
    home, env, tmp = home
    unreadable_scripts(home, tmp)
    for args in (["about"], ["voices"], ["preview", str(tmp / "quiet.yaml")], ["validate", str(tmp / "quiet.yaml")]):
        result = run(args, env, prefix=as_user(), cwd=tmp)
        assert result.returncode == 0, (args, result.stderr)


# --- a full disk, a file size limit ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("target", ["a.wav", "a.flac", "a.ogg"])
def test_render_onto_a_full_disk_names_the_target_and_leaves_nothing(home, target):
    home, env, tmp = home
    disk = tmp / "disk"
    disk.mkdir()
    result = run(["render", str(tmp / "noisy.yaml"), "-o", str(disk / target)], env,
                 prefix=on_tiny_disk(disk, 256))
    assert result.returncode == 1, result.stderr
    line = one_clear_line(result)
    assert line.startswith(f"voiceguide: {disk / target}: cannot write it: the disk is full"), line
    assert "free some space" in line
    assert left_on_disk(disk) == [], "the partial file is removed"


@pytest.mark.slow
def test_captions_new_scripts_and_the_practice_log_on_a_full_disk(home):
    home, env, tmp = home
    disk = tmp / "disk"
    disk.mkdir()
    result = run(["render", str(tmp / "quiet.yaml"), "-o", str(tmp / "fine.wav"), "--captions",
                  str(disk / "a.vtt")], env, prefix=on_tiny_disk(disk, 64, full=True))
    assert result.returncode == 1
    assert one_clear_line(result).startswith(f"voiceguide: {disk / 'a.vtt'}: cannot write")
    assert "the disk is full" in result.stderr
    assert left_on_disk(disk) == []

    result = run(["new", "foo"], dict(env, XDG_CONFIG_HOME=str(disk)), prefix=on_tiny_disk(disk, 64, full=True))
    assert result.returncode == 1
    assert one_clear_line(result).startswith(f"voiceguide: {disk}/voiceguide/scripts/foo.yaml: cannot write it: "
                                             f"the disk is full")
    assert [n for n in left_on_disk(disk) if n.endswith((".yaml", ".tmp"))] == []

    result = run(["cue", "a small cue"], dict(env, XDG_DATA_HOME=str(disk)), prefix=on_tiny_disk(disk, 64, full=True))
    assert result.returncode == 1
    line = one_clear_line(result)
    # issue 17's words for the practice log: "no space left on ...", never SQLite's "disk I/O error"
    assert f"{disk}/voiceguide/practice.sqlite3" in line and "no space left on the disk" in line, line
    assert "free some space" in line and "I/O error" not in line, line


def _file_size_limit(kilobytes):
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (kilobytes * 1024, resource.RLIM_INFINITY))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return limit


@pytest.mark.parametrize("target", ["a.wav", "a.flac"])
def test_a_file_size_limit_is_named_with_what_to_do(home, target):
    """`ulimit -f`: the same class as a full disk, and possible on any machine."""
    home, env, tmp = home
    out = tmp / "out"
    result = subprocess.run([sys.executable, "-m", "voiceguide", "render", str(tmp / "noisy.yaml"),
                             "-o", str(out / target)], env=env, capture_output=True, text=True, timeout=120,
                            preexec_fn=_file_size_limit(100))
    assert result.returncode == 1, result.stderr
    line = one_clear_line(result)
    assert line.startswith(f"voiceguide: {out / target}: cannot write it: the file grew past the largest size"), line
    assert "ulimit -f" in line
    assert list(out.iterdir()) == []


def test_a_full_disk_while_writing_a_new_script_fast(tmp_path, monkeypatch):
    """ENOSPC injected where the bytes reach the disk (the sync), without a tmpfs: the same line."""
    from click.testing import CliRunner

    from voiceguide.cli import cli
    from voiceguide.script import scaffold

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(scaffold.os, "fsync", full)
    target = tmp_path / "mine.yaml"
    result = CliRunner().invoke(cli, ["new", str(target)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"voiceguide: {target}: cannot write it: the disk is full (No space left on device); free some space, "
        f"or choose another place"]
    assert list(tmp_path.iterdir()) == []


# --- standard streams ---------------------------------------------------------------------------------

#: Every command that prints on standard output.
PRINTING = [["list"], ["validate", "{t}/quiet.yaml"], ["preview", "{t}/quiet.yaml"],
            ["preview", "{t}/quiet.yaml", "--json"], ["config"], ["voices"], ["about"], ["schema"], ["log"],
            ["cues"], ["schedule", "list"], ["new", "{t}/fresh.yaml"], ["--help"], ["--version"],
            ["list", "--help"]]


@pytest.mark.parametrize("args", PRINTING, ids=" ".join)
def test_a_full_standard_output_is_one_line(home, args):
    home, env, tmp = home
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "voiceguide",
                                 *[_fill(a, home, tmp) for a in args]],
                                env=env, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp)
    assert result.returncode == 1, result.stderr
    assert one_clear_line(result) == ("voiceguide: cannot write to standard output: No space left on device; the "
                                      "file or device it goes to is full: free some space, or send the output "
                                      "somewhere else")


def test_closed_standard_streams(home):
    """`cue <&-` is a usage error, not a crash; nothing opened later takes the number of a closed stream."""
    home, env, tmp = home
    closed_in = subprocess.run([sys.executable, "-m", "voiceguide", "cue"], env=env, capture_output=True,
                               text=True, timeout=60, preexec_fn=lambda: os.close(0))
    assert closed_in.returncode == 2
    assert one_clear_line(closed_in).startswith("voiceguide: give the cue as words")

    # With stderr closed, a rendered file must not become "stderr" for ALSA, espeak-ng or a worker.
    code = ("import os, sys\nos.close(2)\nfrom voiceguide.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as end:\n    code = end.code\n"
            "os.write(1, ('EXIT %s FD2 %s\\n' % (code, os.readlink('/proc/self/fd/2'))).encode())\n")
    out = tmp / "out" / "a.wav"
    done = subprocess.run([sys.executable, "-c", code, "render", str(tmp / "quiet.yaml"), "-o", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "EXIT 0 FD2 /dev/null", done.stdout + done.stderr
    import soundfile

    assert soundfile.info(str(out)).duration > 30.0  # a whole, readable WAV
