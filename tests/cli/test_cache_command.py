"""``voiceguide cache`` shows the speech cache and ``--clear`` empties it (issue 14)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """Never the suite's shared speech cache: this test clears it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "voiceguide" / "speech"


@pytest.mark.audio
def test_cache_shows_the_clips_and_clear_removes_them(tmp_path, own_cache):
    script = tmp_path / "two.yaml"
    script.write_text("title: Two\nvoice: {name: espeak}\nsteps:\n  - say: Breathe in.\n  - say: Breathe out.\n",
                      encoding="utf-8")
    assert run("render", str(script), "--no-ambient", "-o", str(tmp_path / "a.wav")).exit_code == 0

    shown = run("cache")
    assert shown.exit_code == 0, shown.output
    assert str(own_cache) in shown.output
    assert " 2 clips, " in shown.output
    assert "500 MB" in shown.output and "60 days" in shown.output

    cleared = run("cache", "--clear")
    assert cleared.exit_code == 0 and cleared.output.startswith("removed 2 files")
    assert " 0 clips, " in run("cache").output
    assert run("render", str(script), "--no-ambient", "-o", str(tmp_path / "b.wav")).exit_code == 0
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_cache_shows_the_limits_from_the_config(own_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("VOICEGUIDE_SPEECH_CACHE_MB", "120")
    monkeypatch.setenv("VOICEGUIDE_SPEECH_CACHE_DAYS", "14")
    result = run("cache")
    assert result.exit_code == 0
    assert "120 MB" in result.output and "14 days" in result.output and "not there yet" in result.output


def test_a_bad_limit_is_one_clear_line(own_cache, monkeypatch):
    monkeypatch.setenv("VOICEGUIDE_SPEECH_CACHE_MB", "lots")
    result = run("cache")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "VOICEGUIDE_SPEECH_CACHE_MB" in result.output


def test_cache_shows_and_clears_the_prepared_voice_models(own_cache):
    from types import SimpleNamespace

    from voiceguide.synth.cachesize import MODELS
    from voiceguide.synth.engines.piper import optimised_path

    models = own_cache / MODELS
    models.mkdir(parents=True)
    model = optimised_path(SimpleNamespace(model_digest="a" * 64, config_digest="b" * 64), models)
    model.mkdir()                                 # a saved model: its graph and its weights
    (model / "model.onnx").write_bytes(b"\0" * (512 * 1024))
    (model / "model.weights").write_bytes(b"\0" * (1024 * 1024))
    mine = models / "notes.txt"
    mine.write_text("a person's file")
    shown = run("cache")
    assert shown.exit_code == 0, shown.output
    assert "  prepared voice models: 1 (1.5 MB)\n" in shown.output

    cleared = run("cache", "--clear")
    assert cleared.exit_code == 0, cleared.output
    assert cleared.output.startswith("removed 1 files (1.5 MB)")
    assert not model.exists() and mine.exists()
    assert "prepared voice models" not in run("cache").output


def test_a_link_in_the_models_folder_s_place_is_refused_in_one_line(tmp_path, own_cache):
    from voiceguide.synth.cachesize import MODELS

    decoy = tmp_path / "decoy"
    decoy.mkdir()
    kept = decoy / ("piper-" + "0" * 32 + ".onnx")
    kept.write_bytes(b"not the cache's")
    own_cache.mkdir(parents=True)
    link = own_cache / MODELS
    link.symlink_to(decoy)
    for args in (["cache"], ["cache", "--clear"]):
        result = run(*args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert str(link) in lines[0] and "symbolic link" in lines[0] and "Traceback" not in result.output
    assert kept.exists() and link.is_symlink()
