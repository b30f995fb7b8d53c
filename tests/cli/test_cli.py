"""The command line: CliRunner for the commands, and the installed console script for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.script.catalog import user_dir
from voiceguide.cli import cli
from voiceguide.errors import DeviceError, Problem, ScriptError, UsageError

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_IDS = ["acknowledge", "barefoot-walk", "body-scan", "breathing", "creative-outlet", "daily-check-in",
               "journal-prompts", "music-listening", "palm-pressure", "pause-before-habit", "reach-out",
               "small-contact"]


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_every_command_has_help_text():
    for name, command in cli.commands.items():
        assert command.help and len(command.help.strip()) > 10, f"`{name}` has no help"
        result = run(name, "--help")
        assert result.exit_code == 0, name


def test_list_shows_the_built_ins_with_lengths():
    result = run("list")
    assert result.exit_code == 0, result.output
    ids = [line.split()[0] for line in result.output.splitlines()]
    assert ids == BUILTIN_IDS
    body = next(line for line in result.output.splitlines() if line.startswith("body-scan"))
    assert re.fullmatch(r"~?\d+:\d\d", body.split()[1]) and "Body scan" in body
    # the summary the docs, the template and the schema promise (issue 13)
    assert "Body scan \N{EM DASH} A slow ten-minute journey of attention from the head down to the feet." in body


def test_list_includes_user_scripts_and_marks_shadowing():
    folder = user_dir()
    folder.mkdir(parents=True)
    (folder / "my-pause.yaml").write_text("title: My pause\nsteps:\n  - pause: 5s\n")
    (folder / "breathing.yaml").write_text("title: My breathing\nsteps:\n  - Breathe.\n")
    result = run("list")
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "My pause" in lines["my-pause"] and "(yours)" in lines["my-pause"]
    assert "My breathing" in lines["breathing"] and "shadows the built-in" in lines["breathing"]


def test_validate_ok_and_errors(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("title: Fine\nsteps:\n  - Hello.\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: Bad\nsteps:\n  - sya: Hello\n  - pause: forever\n")
    assert run("validate", str(good)).exit_code == 0
    result = run("validate", str(good), str(bad))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith(str(bad))]
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:3:5:") and 'did you mean "say"' in lines[0]
    assert lines[1].startswith(f"{bad}:4:")
    assert "Traceback" not in result.output


def test_unknown_exercise_suggests_the_closest_id():
    result = run("preview", "body-scna")
    assert result.exit_code == 2
    assert 'no exercise "body-scna" (did you mean "body-scan"?)' in result.output


def test_render_refuses_an_unknown_format_and_never_touches_the_script(tmp_path):
    script = tmp_path / "mine.yaml"
    script.write_text("title: Mine\nsteps:\n  - Hello.\n")
    before = script.read_bytes()
    result = run("render", str(script), "-o", str(script))
    assert result.exit_code == 2
    assert "unknown audio format .yaml" in result.output
    assert script.read_bytes() == before


def test_about_says_when_to_seek_help():
    result = run("about")
    assert result.exit_code == 0
    assert "four to six weeks" in result.output


def test_preview_json_is_the_pinned_shape():
    result = run("preview", "palm-pressure", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"title", "duration", "sample_rate", "events"}
    starts = [e["start"] for e in data["events"]]
    assert starts == sorted(starts)
    for event in data["events"]:
        assert {"start", "end", "kind", "section", "source"} <= set(event)
        assert event["source"].split(":")[0].endswith("palm-pressure.yaml")
        assert ("text" in event) == (event["kind"] == "say")
    counted = [e["text"] for e in data["events"] if e["kind"] == "say" and e["text"] in ("one", "two", "five")]
    assert counted[:3] == ["one", "two", "five"] or "one" in counted


def test_quick_commands_import_no_audio_stack(tmp_path):
    code = ("import sys\nfrom voiceguide.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'sounddevice', 'pyttsx3', 'soundfile') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    for args in (["list"], ["validate", str(ROOT / "scripts" / "body-scan.yaml")], ["about"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        # list reads the speech cache's headers for real lengths: the engine's version (pyttsx3's
        # bindings, for the cache key), never numpy or the sound libraries
        allowed = "HEAVY ['pyttsx3']" if args == ["list"] else "HEAVY []"
        assert "HEAVY []" in result.stderr or allowed in result.stderr, (args, result.stderr)
    # naming the voice imports neither piper nor onnxruntime (Piper's version and model digest are files)
    probe = ("import sys\nfrom voiceguide.cli import main\ntry:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
             "print('ENGINES', sorted(m for m in ('piper', 'onnxruntime') if m in sys.modules), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "ENGINES []" in result.stderr, result.stderr


@pytest.mark.audio
def test_list_shows_the_real_length_once_the_speech_is_cached_and_about_until_then(tmp_path, monkeypatch):
    """Issue 13: list estimated from words per minute, 20 to 50 s off; real once every clip is made."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing cached yet

    def row(ident):
        return next(line.split() for line in run("list").stdout.splitlines() if line.startswith(ident + " "))

    assert row("palm-pressure")[1].startswith("~")
    previewed = json.loads(run("preview", "palm-pressure", "--json").stdout)
    minutes, seconds = divmod(int(round(previewed["duration"])), 60)
    assert row("palm-pressure")[1] == f"{minutes}:{seconds:02d}"  # exact: no ~
    assert row("body-scan")[1].startswith("~")                    # not made yet
    # other settings, other clips: an estimate again, for that rate
    config = user_dir().parent
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("rate = 200\n")
    assert row("palm-pressure")[1].startswith("~")


def test_play_refuses_a_bad_setting_before_touching_the_audio_stack():
    """The error is printed while no PortAudio start-up can swallow it (issue 14)."""
    code = ("import sys\nfrom voiceguide.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "heavy = [m for m in ('numpy', 'sounddevice', 'pyttsx3') if m in sys.modules]\n"
            "print('HEAVY', heavy, 'EXIT', code, file=sys.stderr)\n")
    cases = [(["play", "palm-pressure", "--ambient-level", "100"], {},
              "voiceguide: --ambient-level 100.0: expected -40 to 12, got 100.0"),
             (["play", "palm-pressure"], {"VOICEGUIDE_RATE": "500"},
              "voiceguide: VOICEGUIDE_RATE=500: expected 80 to 300, got 500"),
             (["play", "palm-pressure", "--from", "Nowhere"], {},
              'voiceguide: --from "Nowhere": no such section; sections are'),
             (["play", "no-such-exercise"], {}, 'voiceguide: no exercise "no-such-exercise"')]
    for args, env, line in cases:
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                env=dict(os.environ, **env), timeout=60)
        lines = result.stderr.splitlines()
        assert lines[0].startswith(line), (args, result.stderr)
        assert lines[-1] == "HEAVY [] EXIT 2", (args, result.stderr)


def test_the_installed_console_script_runs():
    exe = shutil.which("voiceguide", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed next to the interpreter"
    result = subprocess.run([exe, "list"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == BUILTIN_IDS
    result = subprocess.run([exe, "validate", "no-such-file.yaml"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_a_plain_non_editable_install_ships_the_scripts(tmp_path):
    """`pip install .` (not editable) must carry scripts/ and sounds/ inside the package."""
    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--no-build-isolation", "--target", str(target), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    result = subprocess.run([sys.executable, "-m", "voiceguide", "list"], capture_output=True, text=True,
                            cwd=str(tmp_path), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == BUILTIN_IDS
    located = subprocess.run([sys.executable, "-c", "import voiceguide; print(voiceguide.__file__)"],
                             capture_output=True, text=True, cwd=str(tmp_path), env=env)
    assert located.stdout.startswith(str(target))
    assert (target / "voiceguide" / "scripts" / "body-scan.yaml").is_file()


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch):
    import voiceguide.script.catalog

    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(voiceguide.script.catalog, "entries", broken)
    result = run("list")
    assert result.exit_code == 1
    assert result.output.strip() == ("voiceguide: internal error (RuntimeError: disk on fire); run again "
                                     "with --debug for the details, and please report it")
    debug = run("--debug", "list")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.output and "RuntimeError: disk on fire" in debug.output


@pytest.fixture()
def failing_command():
    """A throwaway command that raises what the test asks, added to the real group."""
    import click

    raised = {}

    @click.command("fail-for-test")
    def fail():
        """Raise the exception the test chose."""
        raise raised["exc"]

    cli.add_command(fail)
    yield raised
    cli.commands.pop("fail-for-test")


@pytest.mark.parametrize("exc, code, line", [
    (UsageError("--length 1s: too short; try 5m"), 2, "voiceguide: --length 1s: too short; try 5m"),
    (DeviceError("no audio output device found"), 1, "voiceguide: no audio output device found"),
    (ScriptError([Problem("x.yaml", 3, 5, "unknown key")]), 2, "x.yaml:3:5: unknown key"),
    (KeyboardInterrupt(), 130, "voiceguide: stopped"),
    (OSError(30, "Read-only file system", "/srv/out"), 1,
     "voiceguide: /srv/out: cannot use it: the file system is read-only; make it writable"),
    (OSError(28, "No space left on device"), 1, "voiceguide: No space left on device; free some space, or write "
                                                 "somewhere else"),
    (EOFError("stdin closed"), 1, "voiceguide: internal error (EOFError: stdin closed); run again with "
                                  "--debug for the details, and please report it"),
])
def test_every_command_reports_errors_through_the_group(failing_command, exc, code, line):
    """Any command, even one added later without ceremony, gets one line and the right code."""
    failing_command["exc"] = exc
    result = run("fail-for-test")
    assert result.exit_code == code
    assert result.output.splitlines() == [line]
    debug = run("--debug", "fail-for-test")
    assert debug.exit_code == code
    assert debug.output.splitlines()[-1] == line
    if not isinstance(exc, KeyboardInterrupt):
        assert "Traceback (most recent call last)" in debug.output


def test_debug_shows_the_traceback_of_an_eof_error_from_the_console_script(tmp_path):
    """Click alone would print only "Aborted!" for an EOFError."""
    code = ("import click, sys\nfrom voiceguide.cli import cli, main\n"
            "@cli.command('eof')\ndef eof():\n    'Read a closed stdin.'\n    raise EOFError('no input')\n"
            "main(sys.argv[1:])\n")
    plain = subprocess.run([sys.executable, "-c", code, "eof"], capture_output=True, text=True)
    debug = subprocess.run([sys.executable, "-c", code, "--debug", "eof"], capture_output=True, text=True)
    assert plain.returncode == debug.returncode == 1
    assert "Aborted!" not in plain.stderr + debug.stderr
    assert "Traceback" not in plain.stderr and "EOFError: no input" in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr and "File \"<string>\", line 6, in eof" in debug.stderr
