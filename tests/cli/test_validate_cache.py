"""``validate``'s kept answers (voiceguide/cli/validate_cache.py): the same lines, made again after any change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.processes import loaded_after
from voiceguide.cli import cli
from voiceguide.cli.validate_cache import cache_file

BAD = "title: Bad\nsteps:\n  - say: Breathe in.\n  - nonsense: 2\n  - pause: 3x\n"
GOOD = "title: Good\nsteps:\n  - say: Breathe in.\n    pause: 4s\n"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mine = Path(os.environ["XDG_CONFIG_HOME"]) / "voiceguide" / "scripts"  # the conftest's private home
    mine.mkdir(parents=True)
    return mine


def validate(*names):
    result = CliRunner().invoke(cli, ["validate", *names])
    return result.exit_code, result.stdout, result.stderr


def test_the_same_answer_twice_and_a_new_one_after_an_edit(folder):
    path = folder / "mine.yaml"
    path.write_text(BAD)
    first = validate("mine", str(path))
    assert first[0] == 2 and f"{path}:4:5: unknown step kind" in first[2] and "mine.yaml:5:12: pause:" in first[2]
    assert cache_file().is_file()
    assert validate("mine", str(path)) == first
    path.write_text(GOOD)
    assert validate("mine", str(path)) == (0, "2 files ok\n", "")
    path.write_text(BAD)
    assert validate("mine", str(path)) == first


def test_a_damaged_cache_or_a_link_is_ignored(folder, tmp_path):
    path = folder / "mine.yaml"
    path.write_text(BAD)
    first = validate(str(path))
    for junk in (b"\x00\xff", b"{}", b'{"format": 1, "context": 3, "results": []}'):
        cache_file().write_bytes(junk)
        assert validate(str(path)) == first
    target = tmp_path / "elsewhere.json"
    target.write_text(cache_file().read_text().replace("unknown step kind", "planted"))
    cache_file().unlink()
    cache_file().symlink_to(target)
    assert validate(str(path)) == first
    assert cache_file().is_symlink() and "planted" in target.read_text()


def test_a_file_elsewhere_is_always_checked(folder, tmp_path):
    path = tmp_path / "loose.yaml"
    path.write_text(BAD)
    first = validate(str(path))
    assert first[0] == 2
    assert not cache_file().exists() or str(path) not in cache_file().read_text()


def test_a_second_validate_loads_no_script(tmp_path):
    """The point (issue 24): validating the built-ins again imports neither the loader nor PyYAML."""
    for name in ("config", "cache", "state"):
        (tmp_path / name).mkdir()
    builtin = str(Path(__file__).resolve().parents[2] / "scripts" / "body-scan.yaml")
    code, first = loaded_after(tmp_path, "validate", builtin)
    assert code == "0" and "voiceguide.script.loader" in first
    code, second = loaded_after(tmp_path, "validate", builtin)
    assert code == "0"
    assert [m for m in second if m.startswith(("voiceguide.script.loader", "yaml"))] == []
