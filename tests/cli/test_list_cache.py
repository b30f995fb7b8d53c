"""``list``'s kept rows (voiceguide/cli/list_cache.py): used only while nothing they come from changed.

Every test has its own cache folder (the suite's shared speech cache is not
touched) and espeak-ng as the voice, so no Piper model is hashed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.processes import loaded_after
from voiceguide.cli import cli
from voiceguide.cli.list_cache import Rows, cache_file

SCRIPT = "title: {title}\nsummary: A short one.\nsteps:\n  - say: Breathe in slowly.\n    pause: 4s\n"


@pytest.fixture
def mine(tmp_path, monkeypatch):
    """A private cache folder and one script of the user's own (``mine``)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("VOICEGUIDE_VOICE", "espeak")
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "scripts"  # the conftest's private home
    folder.mkdir(parents=True)
    path = folder / "mine.yaml"
    path.write_text(SCRIPT.format(title="Morning"))
    return path


def listed() -> str:
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0, result.output
    return result.output


def row_of(output: str, ident: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(ident + " "))


def test_rows_are_kept_and_the_output_is_the_same(mine):
    first = listed()
    assert cache_file().is_file()
    kept = json.loads(cache_file().read_text())
    assert str(mine) in kept["rows"] and kept["rows"][str(mine)]["row"]["title"] == "Morning"
    assert listed() == first


def test_a_row_is_made_again_after_an_edit(mine):
    assert "Morning (yours)" in row_of(listed(), "mine")
    before = mine.stat()
    mine.write_text(SCRIPT.format(title="Evening"))  # the same size: the stamp tells them apart
    os.utime(mine, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert "Evening (yours)" in row_of(listed(), "mine")


def test_an_included_file_or_a_new_script_makes_the_rows_again(mine):
    listed()
    (mine.parent / "other.yaml").write_text(SCRIPT.format(title="Other"))
    assert "Other (yours)" in row_of(listed(), "other")
    mine.write_text(SCRIPT.format(title="Broken") + "  - nonsense: 1\n")
    assert row_of(listed(), "mine").split()[1] == "-"  # invalid now: no length


def test_a_damaged_or_foreign_cache_is_ignored(mine):
    fresh = listed()
    for junk in (b"\xff\x00 not json", b"[1, 2]", b'{"format": 1, "context": null, "rows": {}}', b""):
        cache_file().write_bytes(junk)
        assert listed() == fresh
    # A row of this very context, changed by hand, is used only in the shape list makes: a length
    # that is not a length (an escape sequence) is never printed.
    document = json.loads(cache_file().read_text())
    document["rows"][str(mine)]["row"]["length"] = "\x1b[31m9:99"
    cache_file().write_text(json.dumps(document))
    assert listed() == fresh
    assert json.loads(cache_file().read_text())["rows"][str(mine)]["row"]["length"] != "\x1b[31m9:99"


def test_a_link_in_place_of_the_cache_is_never_followed(mine, tmp_path):
    fresh = listed()
    target = tmp_path / "elsewhere.json"
    target.write_text(cache_file().read_text())  # even a good file behind a link is not read
    document = json.loads(target.read_text())
    document["rows"][str(mine)]["row"]["title"] = "Planted"
    target.write_text(json.dumps(document))
    cache_file().unlink()
    cache_file().symlink_to(target)
    assert listed() == fresh
    assert cache_file().is_symlink() and "Planted" in target.read_text()  # left alone, not written through


def test_a_speech_clip_made_or_removed_makes_the_row_again(mine, tmp_path):
    rows = Rows.load()
    clip = tmp_path / "clip.vgc"
    rows.keep(mine, {"title": "Morning", "summary": None, "length": "~0:10"}, [clip])
    rows.save()
    assert Rows.load().row(mine) == {"title": "Morning", "summary": None, "length": "~0:10"}
    clip.write_bytes(b"made")
    assert Rows.load().row(mine) is None


def test_a_second_list_loads_no_script(tmp_path):
    """The point of the cache (issue 24): a warm list imports neither the loader nor PyYAML."""
    for folder in ("config", "cache", "state"):
        (tmp_path / folder).mkdir()  # made now, so the first run does not change its cwd (on sys.path)
    code, first = loaded_after(tmp_path, "list")
    assert code == "0" and "voiceguide.script.loader" in first
    code, second = loaded_after(tmp_path, "list")
    assert code == "0"
    assert [m for m in second if m.startswith(("voiceguide.script.loader", "yaml", "voiceguide.synth.voices"))] == []
