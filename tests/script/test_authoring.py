"""The authoring toolkit: include steps, `new`, `validate --lint`, captions and the format reference.

Speech is real (espeak-ng through the synth worker) where a command renders
or previews; timeline-only checks use fixed clip lengths.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from voiceguide.script import catalog, grammar, scaffold
from voiceguide.sinks.captions import timestamp, to_vtt
from voiceguide.cli import cli
from voiceguide.errors import ScriptError
from voiceguide.script.lint import lint
from voiceguide.script.loader import load, load_text
from voiceguide.script.model import Bell, Repeat, Say
from voiceguide.timeline import compile_timeline

from tests.support.editor_schema import editor_problems, schema_named_by

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "authoring.md"


def run(*args):
    return CliRunner().invoke(cli, list(args))  # click 8.2: stdout and stderr kept apart


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


OPENING = """\
title: Opening
voice: {rate: 250}
ambient:
  - noise: white
    level: -3 dB
steps:
  - bell: chime
  - say: Welcome. You may stop at any time.
    pause: 2s
"""


# --- include ------------------------------------------------------------------------


def test_include_inlines_steps_keeping_their_own_source(tmp_path):
    write(tmp_path, "opening.yaml", OPENING)
    main = write(tmp_path, "main.yaml", "title: Main\nsteps:\n  - include: opening\n  - say: Hello.\n"
                                        "  - repeat: 2\n    steps:\n      - include: opening.yaml\n")
    script = load(main)
    assert [type(s) for s in script.steps] == [Bell, Say, Say, Repeat]
    bell, welcome, hello, repeat = script.steps
    assert (Path(bell.source.file).name, bell.source.line) == ("opening.yaml", 7)
    assert (Path(welcome.source.file).name, welcome.source.line) == ("opening.yaml", 8)
    assert Path(hello.source.file).name == "main.yaml"
    assert [type(s) for s in repeat.steps] == [Bell, Say]
    # the included script's voice and ambient are not used
    assert script.ambient == () and script.voice.rate is None
    events = compile_timeline(script, lambda text, voice: 4800).to_json()["events"]
    assert events[0]["source"].endswith("opening.yaml:7")
    assert events[1]["source"].endswith("opening.yaml:8") and events[1]["text"].startswith("Welcome")


@pytest.mark.audio
def test_preview_shows_included_steps_with_their_source(tmp_path):
    write(tmp_path, "opening.yaml", OPENING)
    main = write(tmp_path, "main.yaml", "title: Main\nsteps:\n  - include: opening\n  - say: Hello.\n")
    text = run("preview", str(main))
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    # each row: when it is heard, its step (for --from), where it is written (relative), what is heard
    rows = [line.split() for line in lines if line.strip().endswith(("Welcome. You may stop at any time.", "Hello."))]
    assert [row[1:3] for row in rows] == [["2", "opening.yaml:8"], ["3", "main.yaml:4"]], lines
    assert all(re.fullmatch(r"\d+:\d\d", row[0]) for row in rows), lines
    assert str(tmp_path) not in text.stdout  # no absolute paths: short rows
    parts = tmp_path / "parts"
    parts.mkdir()
    write(parts, "opening.yaml", OPENING)
    nested = write(tmp_path, "nested.yaml", "title: N\nsteps:\n  - include: parts/opening.yaml\n")
    assert "parts/opening.yaml:8" in run("preview", str(nested)).stdout
    events = json.loads(run("preview", str(main), "--json").stdout)["events"]
    assert [e["source"] for e in events if e["kind"] == "say"] == [
        f"{tmp_path / 'opening.yaml'}:8", f"{main}:4"]


def test_include_a_builtin_and_a_user_script_by_id(tmp_path):
    user = catalog.user_dir()
    user.mkdir(parents=True)
    write(user, "my-opening.yaml", OPENING)
    main = write(tmp_path, "main.yaml", "title: M\nsteps:\n  - include: my-opening\n  - include: breathing\n")
    script = load(main)
    assert Path(script.steps[0].source.file).parent == user
    assert any(Path(s.source.file).name == "breathing.yaml" for s in script.steps)


def test_include_by_id_refuses_a_symlink_out_of_its_folder_as_the_path_form_does(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere, "secret.yaml", OPENING)
    user = catalog.user_dir()
    user.mkdir(parents=True)
    (user / "linked.yaml").symlink_to(elsewhere / "secret.yaml")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "near.yaml").symlink_to(elsewhere / "secret.yaml")
    main = write(scripts, "main.yaml", "title: M\nsteps:\n  - include: linked\n  - include: near\n"
                                       "  - include: near.yaml\n")
    with pytest.raises(ScriptError) as info:
        load(main)
    assert [str(p) for p in info.value.problems] == [
        f"{main}:3:14: include linked: linked.yaml in your scripts folder is a link to a file outside that"
        " folder; copy the script there instead",
        f"{main}:4:14: include near: near.yaml in the script's folder is a link to a file outside that"
        " folder; copy the script there instead",
        f"{main}:5:14: include near.yaml leaves the script's folder; keep included scripts next to it or in"
        " a folder below it, or use an id",
    ]
    # a link that stays inside its folder is an ordinary file there
    write(scripts, "real.yaml", OPENING)
    (scripts / "alias.yaml").symlink_to(scripts / "real.yaml")
    assert len(load(write(scripts, "ok.yaml", "title: O\nsteps:\n  - include: alias\n")).steps) == 2


def test_an_included_scripts_warnings_are_kept(tmp_path):
    write(tmp_path, "opening.yaml", 'title: O\npart: true\nsteps:\n  - say: "Welcome\\a"\n')
    main = write(tmp_path, "main.yaml", "title: M\nsteps:\n  - include: opening\n")
    script = load(main)
    assert script.steps[0].text == "Welcome"
    assert [(Path(w.file).name, w.line) for w in script.warnings] == [("opening.yaml", 4)]


def test_include_cycle_is_a_located_error(tmp_path):
    write(tmp_path, "a.yaml", "title: A\nsteps:\n  - say: a\n  - include: b\n")
    write(tmp_path, "b.yaml", "title: B\nsteps:\n  - include: a.yaml\n")
    with pytest.raises(ScriptError) as info:
        load(tmp_path / "a.yaml")
    (problem,) = info.value.problems
    assert (Path(problem.file).name, problem.line, problem.col) == ("a.yaml", 4, 14)
    assert "makes a cycle (a.yaml -> b.yaml -> a.yaml)" in problem.message
    assert "b.yaml:3:14" in problem.message  # where, in the included file
    with pytest.raises(ScriptError) as info:
        load(write(tmp_path, "self.yaml", "title: S\nsteps:\n  - include: self\n"))
    assert str(info.value).endswith("makes a cycle (self.yaml -> self.yaml); a script cannot include"
                                    " itself, directly or through another script")


def test_include_missing_id_says_did_you_mean(tmp_path):
    write(tmp_path, "opening.yaml", OPENING)
    with pytest.raises(ScriptError) as info:
        load(write(tmp_path, "m.yaml", "title: M\nsteps:\n  - include: openin\n"))
    assert re.fullmatch(r'.*m\.yaml:3:14: include: no exercise "openin" \(did you mean "opening"\?\);.*',
                        str(info.value))
    with pytest.raises(ScriptError) as info:
        load(write(tmp_path, "p.yaml", "title: P\nsteps:\n  - include: sub/opening.yaml\n"))
    assert "p.yaml:3:14: include sub/opening.yaml: no such file" in str(info.value)


def test_include_refuses_paths_outside_and_limits_count_included_steps(tmp_path):
    write(tmp_path, "long.yaml", "title: L\nsteps:\n  - pause: 3h\n")
    with pytest.raises(ScriptError) as info:
        load_text("title: T\nsteps:\n  - include: long\n  - include: long\n", str(tmp_path / "t.yaml"))
    assert str(info.value).startswith(f"{tmp_path / 't.yaml'}:4:5: the session passes the limit")
    with pytest.raises(ScriptError) as info:
        load_text("title: T\nsteps:\n  - include: ../x.yaml\n", str(tmp_path / "t.yaml"))
    assert "leaves the script's folder" in str(info.value)


# --- new ----------------------------------------------------------------------------


def test_new_writes_a_valid_commented_script_and_never_overwrites(tmp_path):
    result = run("new", "my-calm-minute")
    assert result.exit_code == 0, result.stderr
    path = catalog.user_dir() / "my-calm-minute.yaml"
    assert result.stdout.strip() == str(path)
    text = path.read_text(encoding="utf-8")
    assert text.count("#") > 10
    script = load(path)
    assert script.title == "My calm minute"
    assert lint(script) == []
    assert run("validate", "--lint", str(path)).stdout.strip() == "1 file ok, 0 pieces of advice"
    # a second time: refused, located, exit 2, file unchanged
    path.write_text(text + "# my edit\n", encoding="utf-8")
    again = run("new", "my-calm-minute")
    assert again.exit_code == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert path.read_text(encoding="utf-8").endswith("# my edit\n")
    assert run("new", "my-calm-minute", "--force").exit_code == 0
    assert not path.read_text(encoding="utf-8").endswith("# my edit\n")
    # no temporary left; the schema its first line names is beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["my-calm-minute.yaml", "voiceguide.schema.json"]


def test_new_to_a_path_and_from_an_exercise(tmp_path):
    out = tmp_path / "copy.yaml"
    result = run("new", "evening", "--from", "palm-pressure", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[1] == scaffold.HEADER
    assert 'your own copy of "Palm-pressure grounding" (from palm-pressure)' in lines[3]
    copy, original = load(out), load(catalog.resolve("palm-pressure"))
    def said(script):
        return [(type(step).__name__, getattr(step, "text", None)) for step in script.steps]

    assert said(copy) == said(original)
    assert copy.title == original.title
    assert run("new", "bad name!").exit_code == 2  # not an id (a name with a folder in it is a path)
    missing = run("new", "x", "--from", "palm-presure", "-o", str(tmp_path / "y.yaml"))
    assert missing.exit_code == 2 and 'did you mean "palm-pressure"' in missing.stderr
    assert not (tmp_path / "y.yaml").exists()


def test_new_takes_a_path_as_name(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    result = run("new", "~/my-practice.yaml")
    assert result.exit_code == 0, result.stderr
    path = home / "my-practice.yaml"
    assert result.stdout.strip() == str(path)
    assert load(path).title == "My practice"
    assert f"voiceguide validate {path}" in result.stderr
    assert not (catalog.user_dir() / "my-practice.yaml").exists()
    monkeypatch.chdir(tmp_path)
    assert run("new", "./drafts/evening").exit_code == 0  # a folder in it: a path; .yaml added
    assert load(tmp_path / "drafts" / "evening.yaml").title == "Evening"
    both = run("new", "~/x.yaml", "-o", str(tmp_path / "y.yaml"))
    assert both.exit_code == 2 and "not both" in both.stderr


def test_new_says_when_it_replaces_a_built_in():
    result = run("new", "body-scan", "--from", "body-scan")
    assert result.exit_code == 0, result.stderr
    assert "body-scan is also a built-in exercise: yours now replaces it" in result.stderr
    listed = [line for line in run("list").stdout.splitlines() if line.startswith("body-scan ")]
    assert "shadows the built-in" in listed[0]
    quiet = run("new", "my-own-scan", "--from", "body-scan")
    assert quiet.exit_code == 0 and "replaces" not in quiet.stderr
    assert "`voiceguide validate my-own-scan`" in quiet.stderr  # an id in the scripts folder


def test_every_command_that_reads_a_script_takes_an_id_or_a_path(tmp_path, monkeypatch):
    assert run("new", "midday-pause").exit_code == 0
    path = catalog.user_dir() / "midday-pause.yaml"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in ("midday-pause", "midday-pause.yaml", str(path)):
        assert catalog.resolve(name) == path
        assert run("validate", name).exit_code == 0, name
    # a file here wins over an id; a path with a folder that does not exist is not an id
    (elsewhere / "midday-pause.yaml").write_text("title: Here\nsteps:\n  - Hello.\n", encoding="utf-8")
    assert catalog.resolve("midday-pause.yaml") == Path("midday-pause.yaml")
    missing = run("validate", "drafts/midday-pause.yaml")
    assert missing.exit_code == 2 and "drafts/midday-pause.yaml: no such file" in missing.stderr
    unknown = run("validate", "midday-paus")
    assert unknown.exit_code == 2 and 'did you mean "midday-pause"' in unknown.stderr
    folder = run("validate", str(elsewhere))
    assert folder.exit_code == 2 and "is a folder" in folder.stderr and "Traceback" not in folder.output


def assert_editor_checks(script: Path) -> None:
    """The schema *script* names exists, is the current one, and finds nothing wrong."""
    from voiceguide.script.schema import dumps

    assert schema_named_by(script).read_text(encoding="utf-8") == dumps()
    assert editor_problems(script) == []


def test_new_names_a_schema_that_resolves_wherever_the_script_lives(tmp_path):
    assert run("new", "mine").exit_code == 0
    mine = catalog.user_dir() / "mine.yaml"
    assert mine.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=voiceguide.schema.json\n")
    assert_editor_checks(mine)
    # a copy of a built-in into the user folder resolves too: the built-ins name the same file name
    builtin = catalog.builtin_dir() / "body-scan.yaml"
    copied = catalog.user_dir() / "body-scan-copy.yaml"
    copied.write_text(builtin.read_text(encoding="utf-8"), encoding="utf-8")
    assert_editor_checks(copied)
    # elsewhere: an absolute URI to the user folder's schema, so moving the file keeps it working
    out = tmp_path / "projects" / "evening.yaml"
    result = run("new", "evening", "--from", "palm-pressure", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert schema_named_by(out) == catalog.user_dir().resolve() / "voiceguide.schema.json"
    moved = tmp_path / "moved" / "evening.yaml"
    moved.parent.mkdir()
    out.rename(moved)
    assert_editor_checks(moved)
    assert not (tmp_path / "projects" / "voiceguide.schema.json").exists()  # nothing left beside it


def test_new_refreshes_a_stale_schema_and_leaves_a_foreign_file_alone(tmp_path):
    user = catalog.user_dir()
    user.mkdir(parents=True)
    stale = user / "voiceguide.schema.json"
    stale.write_text('{\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n'
                     '  "$id": "https://voiceguide.invalid/schema/format-v1.json"\n}\n', encoding="utf-8")
    assert run("new", "a").exit_code == 0
    assert_editor_checks(user / "a.yaml")
    folder = tmp_path / "theirs"
    folder.mkdir()
    foreign = folder / "voiceguide.schema.json"
    foreign.write_text('{"title": "my own notes"}', encoding="utf-8")
    user_copy = user / "voiceguide.schema.json"
    user_copy.unlink()
    result = run("new", "b", "-o", str(folder / "b.yaml"))
    assert result.exit_code == 0, result.stderr
    assert foreign.read_text(encoding="utf-8") == '{"title": "my own notes"}'
    assert_editor_checks(folder / "b.yaml")  # it names the user folder's schema instead
    user_copy.write_text('{"title": "mine too"}', encoding="utf-8")
    result = run("new", "c")
    assert result.exit_code == 0 and (user / "c.yaml").is_file()
    assert "is not a voiceguide schema" in result.stderr
    assert user_copy.read_text(encoding="utf-8") == '{"title": "mine too"}'


def test_new_files_get_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        assert run("new", "perm").exit_code == 0
    finally:
        os.umask(old)
    for name in ("perm.yaml", "voiceguide.schema.json"):
        assert (catalog.user_dir() / name).stat().st_mode & 0o777 == 0o644


@pytest.mark.audio
def test_new_script_renders_with_the_real_engine(tmp_path):
    assert run("new", "first-try").exit_code == 0
    wav = tmp_path / "first.wav"
    result = run("render", "first-try", "-o", str(wav), "--length", "75s")
    assert result.exit_code == 0, result.stderr
    data, sr = soundfile.read(str(wav))
    assert abs(len(data) / sr - 75.0) < 0.01
    assert abs(data).max() > 0.05


# --- lint -----------------------------------------------------------------------------


def test_lint_gives_each_advice_located(tmp_path):
    path = write(tmp_path, "l.yaml", """\
title: Loud and fast
voice:
  rate: 190
ambient:
  - noise: pink
    level: -6 dB
steps:
  - say: Hello.
    pause: 40s
  - pause: 30s
""")
    result = run("validate", "--lint", str(path))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 file ok, 3 pieces of advice"
    assert lines[0].startswith(f"{path}:1:8: advice: the session never tells the listener they may stop")
    assert lines[1].startswith(f"{path}:3:9: advice: speaking rate 190 words per minute")
    assert lines[2].startswith(f"{path}:5:5: advice: ambient level -6 dB")
    # without the bed, the 70 s silence (two pauses in a row) is advice too
    bare = write(tmp_path, "b.yaml", "title: B\nsteps:\n  - say: You may stop at any time.\n    pause: 40s\n"
                                     "  - pause: 30s\n  - say: Hi.\n    rate: 200\n")
    found = [str(a) for a in lint(load(bare))]
    assert found == [
        f"{bare}:3:5: advice: 70 s of silence with no ambient bed; the listener may think the session"
        " has stopped: add an ambient layer, a bell or a few words",
        f"{bare}:6:5: advice: speaking rate 200 words per minute is brisk for a guided exercise;"
        " 170 or less sounds calmer",
    ]


def test_a_part_gets_no_whole_session_advice_but_keeps_advice_on_its_steps(tmp_path):
    body = ("steps:\n  - say: Welcome.\n    rate: 200\n  - pause: 70s\n"
            "  - breathe: {inhale: 20s, exhale: 1s, cycles: 3}\n")
    whole = lint(load(write(tmp_path, "whole.yaml", "title: W\n" + body)))
    part = lint(load(write(tmp_path, "part.yaml", "title: P\npart: true\n" + body)))
    assert any("never tells the listener they may stop" in a.message for a in whole)
    assert any("of silence with no ambient bed" in a.message for a in whole)
    assert not any("never tells" in a.message or "no ambient bed" in a.message for a in part)
    step_advice = [a for a in whole if "never tells" not in a.message and "no ambient bed" not in a.message]
    assert [(a.source.line, a.message) for a in part] == [(a.source.line + 1, a.message) for a in step_advice]
    assert step_advice  # brisk speech and the breathing pattern are advised either way


def test_list_leaves_parts_out(tmp_path):
    user = catalog.user_dir()
    user.mkdir(parents=True)
    write(user, "my-closing.yaml", "title: My closing\npart: true\nsteps:\n  - say: Goodbye.\n")
    write(user, "my-evening.yaml", "title: My evening\nsteps:\n  - say: Hello.\n  - include: my-closing\n")
    listed = run("list")
    assert listed.exit_code == 0, listed.output
    ids = [line.split()[0] for line in listed.stdout.splitlines()]
    assert "my-evening" in ids and "body-scan" in ids
    assert "my-closing" not in ids
    assert run("preview", str(user / "my-closing.yaml")).exit_code == 0  # a part still previews alone


def test_lint_errors_still_fail_and_advice_needs_the_flag(tmp_path):
    good = write(tmp_path, "g.yaml", "title: G\nsteps:\n  - say: hi\n")
    bad = write(tmp_path, "x.yaml", "title: X\nsteps:\n  - sya: hi\n")
    result = run("validate", "--lint", str(good), str(bad))
    assert result.exit_code == 2
    assert "advice: the session never tells" in result.stdout
    assert f"{bad}:3:5: unknown step kind" in result.stderr
    plain = run("validate", str(good))
    assert plain.exit_code == 0 and "advice" not in plain.stdout


def test_builtins_get_no_advice():
    for path in sorted((ROOT / "scripts").glob("*.yaml")):
        assert lint(load(path)) == [], path.name


def test_validate_and_lint_do_not_import_numpy(tmp_path):
    code = ("import sys; from voiceguide.cli import main\n"
            "try:\n    main(['validate', '--lint', *sys.argv[1:]])\n"
            "except SystemExit:\n    pass\n"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *map(str, (ROOT / "scripts").glob("*.yaml"))],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


# --- captions ---------------------------------------------------------------------------

CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def parse_vtt(text: str):
    """(start, end, text) of every cue, seconds; checks the WebVTT framing on the way."""
    assert text.startswith("WEBVTT")
    blocks = text.strip().split("\n\n")[1:]
    cues = []
    for block in blocks:
        lines = block.splitlines()
        match = CUE.match(lines[1])
        assert match, lines
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        cues.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000,
                     "\n".join(lines[2:])))
    return cues


def test_timestamps_round_to_the_millisecond():
    assert timestamp(0, 48000) == "00:00:00.000"
    assert timestamp(48000 * 3661 + 24, 48000) == "01:01:01.001"  # 0.5 ms rounds up
    assert timestamp(23, 48000) == "00:00:00.000"


def test_captions_follow_the_timeline_and_escape_text():
    script = load_text("title: <T>\nsteps:\n  - say: Rest & <breathe> --> now.\n    pause: 2s\n"
                       "  - count: 3\n", "c.yaml")
    timeline = compile_timeline(script, lambda text, voice: 12345 + len(text))
    cues = parse_vtt(to_vtt(timeline))
    says = timeline.says()
    assert len(cues) == len(says) == 4  # each short clip one cue (the splitting: tests/sinks/test_cues.py)
    for (start, end, _text), event in zip(cues, says):
        assert abs(start - event.start / timeline.sample_rate) <= 0.0005  # the first word starts the clip
        assert end > start
    assert cues[0][2] == "Rest &amp; &lt;breathe&gt; --&gt; now."
    assert [c[2] for c in cues[1:]] == ["one", "two", "three"]


@pytest.mark.audio
def test_render_captions_match_preview_json(tmp_path):
    script = write(tmp_path, "c.yaml", "title: Captions\nsteps:\n  - say: You may stop at any time.\n"
                                       "    pause: 1s\n  - count: 3\n  - say: And rest.\n")
    wav, vtt = tmp_path / "c.wav", tmp_path / "c.vtt"
    result = run("render", str(script), "-o", str(wav), "--captions", str(vtt))
    assert result.exit_code == 0, result.stderr
    preview = json.loads(run("preview", str(script), "--json").stdout)
    says = [e for e in preview["events"] if e["kind"] == "say"]
    cues = parse_vtt(vtt.read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == [e["text"] for e in says]  # short sentences: one cue each
    data, sr = soundfile.read(str(wav), always_2d=True)
    assert abs(len(data) / sr - preview["duration"]) < 0.010
    mono = np.abs(data.mean(axis=1))
    for (start, end, _), event in zip(cues, says):
        # the cue starts when its first word is heard: the clip's first sound (5 ms envelope over -40 dBFS),
        # within the captions benchmark's median goal (espeak-ng's word events are exact; Piper's come from
        # its phoneme durations, a few tens of ms either way)
        at = int(event["start"] * sr)
        envelope = np.convolve(mono[at:at + sr // 2], np.ones(sr // 200) / (sr // 200), "same")
        onset = event["start"] + np.flatnonzero(envelope > 10 ** (-40 / 20))[0] / sr
        assert abs(start - onset) < 0.050 and start >= event["start"] - 0.0005
        assert 1.0 - 0.0005 <= end - start <= 7.0 + 0.0005


# --- the format reference -------------------------------------------------------------------


def test_authoring_doc_covers_every_key_and_step_kind():
    """Fails when the loader accepts a key (from its grammar table) that docs/authoring.md lacks."""
    doc = DOC.read_text(encoding="utf-8")
    missing = []
    for group, names in grammar.every_key().items():
        for name in names:
            key = re.escape(name)
            written = re.search(rf"(?m)^\s*(?:- )?\{{?\s*{key}:|[{{ ,]{key}: |: {key}\b", doc)
            mentioned = f"`{name}`" in doc
            if not (written and mentioned):
                missing.append(f"{group}: {name}")
    assert missing == [], "docs/authoring.md lacks an example and a `mention` of these"


def test_authoring_doc_examples_are_valid(tmp_path):
    """Every ```yaml block that has a title and steps is a whole script: it must load."""
    doc = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    whole = [b for b in blocks if re.search(r"(?m)^title:", b) and re.search(r"(?m)^steps:", b)]
    assert len(whole) >= 3
    write(tmp_path, "opening.yaml", OPENING)
    for block in whole:
        load_text(block, str(tmp_path / "doc.yaml"))
