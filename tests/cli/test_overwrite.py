"""Nothing the user made is overwritten without asking (issue 14).

The class: every command that writes a file a person named (`new`,
`render -o`, `render --captions`) refuses an existing file unless --force,
with the same words; no output is ever the script being read, a script at
all, or another output of the same command, whatever --force says; and
"the same file" means the same file on disk (./a.wav, a.wav, a symbolic
link, a hard link, sub/../a.wav).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli

#: No speech: renders in a moment without the speech engine.
QUIET = "title: Quiet\nsteps:\n  - bell: chime\n  - pause: 1s\n"


def run(*args, cwd=None):
    if cwd is None:
        return CliRunner().invoke(cli, [str(a) for a in args])
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        os.chdir(old)


@pytest.fixture()
def work(tmp_path):
    (tmp_path / "quiet.yaml").write_text(QUIET, encoding="utf-8")
    return tmp_path


def snapshot(path: Path):
    info = path.lstat()
    return path.read_bytes(), info.st_mtime_ns, info.st_ino


#: (what is written, the command line with {target}) for every command that writes a file a person names.
WRITERS = {
    "new -o": ["new", "mine", "-o", "{target}"],
    "new PATH": ["new", "{target}"],
    "render -o": ["render", "quiet.yaml", "-o", "{target}"],
    "render --captions": ["render", "quiet.yaml", "-o", "fresh.wav", "--captions", "{target}"],
}
SUFFIX = {"new -o": ".yaml", "new PATH": ".yaml", "render -o": ".wav", "render --captions": ".vtt"}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_an_existing_file_is_refused_without_force_in_the_same_words(work, writer):
    target = work / f"precious{SUFFIX[writer]}"
    if writer.startswith("new"):
        target = work / "mine.yaml"
    target.write_text("my own work\n", encoding="utf-8")
    before = snapshot(target)
    args = [a.format(target="./" + target.name) for a in WRITERS[writer]]
    result = run(*args, cwd=work)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"voiceguide: {target.name} already exists; choose another name, or add --force to overwrite it"]
    assert snapshot(target) == before
    assert not (work / "fresh.wav").exists(), "nothing is rendered when an output is refused"
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == [], "no temporary file left"


@pytest.mark.parametrize("writer", [w for w in WRITERS if w.startswith("render")])
def test_force_replaces_an_existing_file(work, writer):
    target = work / f"old{SUFFIX[writer]}"
    target.write_text("old\n", encoding="utf-8")
    args = [a.format(target=target) for a in WRITERS[writer]] + ["--force"]
    result = run(*args, cwd=work)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() != b"old\n"
    if target.suffix == ".vtt":
        assert target.read_text(encoding="utf-8").startswith("WEBVTT")


def same_names(work: Path):
    """Ways of naming work/out.wav again: (description, the name, set-up)."""
    (work / "sub").mkdir()
    os.symlink("out.wav", work / "link.wav")
    return {
        "the same name": "out.wav",
        "with ./": "./out.wav",
        "through ..": "sub/../out.wav",
        "absolute": str(work / "out.wav"),
        "a symbolic link": "link.wav",
    }


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-audio", "existing-audio"])
def test_captions_never_write_over_the_audio_output(work, force, existing):
    names = same_names(work)
    for how, name in names.items():
        out = work / "out.wav"
        if existing:
            out.write_bytes(b"RIFF" + b"\0" * 100)
        before = out.read_bytes() if existing else None
        args = ["render", "quiet.yaml", "-o", "out.wav", "--captions", name] + (["--force"] if force else [])
        result = run(*args, cwd=work)
        assert result.exit_code == 2, (how, result.output)
        assert result.stderr.splitlines() == [
            f"voiceguide: --captions {Path(name)} is the same file as -o out.wav; give each its own name"], how
        assert (out.read_bytes() if existing else out.exists()) == (before if existing else False), how
        out.unlink(missing_ok=True)


def test_a_hard_link_of_the_audio_is_the_same_file(work):
    out = work / "out.wav"
    out.write_bytes(b"RIFF" + b"\0" * 100)
    os.link(out, work / "hard.wav")
    result = run("render", "quiet.yaml", "-o", "out.wav", "--captions", "hard.wav", "--force", cwd=work)
    assert result.exit_code == 2
    assert "--captions hard.wav is the same file as -o out.wav" in result.stderr
    assert out.read_bytes() == b"RIFF" + b"\0" * 100


#: Files that are scripts: by name, or because they load as one.
SCRIPTS = {
    "mine.yaml": "title: Mine\nsteps:\n  - Hello.\n",
    "mine.yml": "title: Mine\nsteps:\n  - Hello.\n",
    "unfinished.yaml": "title: Half written\nsteps:\n  - sya: oops\n",
    "notes.txt": "title: Kept as text\nsteps:\n  - Hello.\n",
    "flow.vtt": '{"title": "Flow style", "steps": ["Hello."]}',
    "broken.txt": "# my draft\nsteps:\n  - pause: forever\n",
}


@pytest.mark.parametrize("name", list(SCRIPTS))
@pytest.mark.parametrize("option", ["--captions", "-o"])
def test_no_output_ever_replaces_a_script_even_with_force(work, name, option):
    script = work / name
    script.write_text(SCRIPTS[name], encoding="utf-8")
    before = snapshot(script)
    if option == "-o":  # -o must name an audio file: a script saved under an audio name
        script = script.rename(work / (name + ".wav"))
        before = snapshot(script)
        args = ["render", "quiet.yaml", "-o", script.name, "--force"]
    else:
        args = ["render", "quiet.yaml", "-o", "fresh.wav", "--captions", name, "--force"]
    result = run(*args, cwd=work)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        f"voiceguide: {option} {script.name} is an exercise script; an output never replaces a script, "
        f"even with --force, so choose another name"]
    assert snapshot(script) == before
    assert not (work / "fresh.wav").exists()


def test_the_captions_are_never_the_script_being_rendered(work):
    script = work / "exercise.txt"  # loads as a script under any name
    script.write_text(QUIET, encoding="utf-8")
    before = snapshot(script)
    for name in ("exercise.txt", "./exercise.txt", str(script)):
        result = run("render", "exercise.txt", "-o", "fresh.wav", "--captions", name, "--force", cwd=work)
        assert result.exit_code == 2
        assert "is an exercise script; an output never replaces a script" in result.stderr
    assert snapshot(script) == before


def test_a_file_made_during_the_render_is_not_replaced(work):
    """The check is repeated where the file is put in place, not only before the mix starts."""
    from voiceguide.sinks.file import FileSink
    import numpy as np

    target = work / "late.wav"
    with pytest.raises(FileExistsError):
        with FileSink(target, 22050, replace=False) as sink:
            sink.write(np.zeros(1000, dtype=np.float32))
            target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []


def test_captions_made_during_the_render_are_not_replaced(work, monkeypatch):
    from voiceguide.sinks import captions

    real = captions.write_vtt

    def someone_writes_first(timeline, path, replace=True, **kwargs):
        Path(path).write_text("theirs\n", encoding="utf-8")
        return real(timeline, path, replace=replace, **kwargs)

    monkeypatch.setattr(captions, "write_vtt", someone_writes_first)
    result = run("render", "quiet.yaml", "-o", "a.wav", "--captions", "a.vtt", cwd=work)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == ("voiceguide: a.vtt already exists; choose another name, "
                                              "or add --force to overwrite it")
    assert (work / "a.vtt").read_text(encoding="utf-8") == "theirs\n"
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []


def test_without_hard_links_the_file_is_still_not_replaced(tmp_path, monkeypatch):
    """Some file systems (FAT, some network shares) refuse hard links: the fallback keeps the rule."""
    import errno

    from voiceguide import atomic

    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    target = tmp_path / "x.txt"
    with atomic.atomic_file(target, "w", replace=False) as fh:
        fh.write("first")
    assert target.read_text() == "first"
    target.write_text("mine")
    with pytest.raises(FileExistsError):
        with atomic.atomic_file(target, "w", replace=False) as fh:
            fh.write("second")
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
