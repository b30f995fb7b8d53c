"""Files voiceguide keeps are never reached through a link, and a file that is not ours is never replaced.

Issue 17: a symbolic link planted as the practice log made ``voiceguide log``
``chmod`` its target to 0600 (as root, ``/etc/passwd``); a link to a
missing path made a database there; ``log --forget`` deleted files through
a linked ``recordings/``; a one-byte file was silently replaced by an empty
log. Each owned kind (the log and the files SQLite keeps beside it, the data
and recordings folders, the station's token and state file, the speech and
loop caches) is tried here with a link to a file, to a folder and to a
missing path: the command refuses in one line that names the link, and
the target keeps its mode, its contents and its absence. We often run as
root, where a chmod through a link would succeed: the decoy's mode is
checked before and after.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from voiceguide.cli import cli
from voiceguide.ownfiles import PlantedLink, count_files, open_own, own_folder, remove_files, tighten
from voiceguide.practice.store import PracticeLog, PracticeLogError, default_path, private_dir
from voiceguide.readfile import NotRegularFile

TARGETS = ("file", "folder", "missing")
READING = (["log"], ["log", "--json"], ["log", "--csv"], ["cues"], ["log", "--week"])
WRITING = (["cue", "a small warmth"], ["log", "--forget", "--yes"])


def run(*args):
    return CliRunner().invoke(cli, list(args))


class Decoy:
    """Something outside voiceguide's folders a link points at; :meth:`untouched` checks it stayed so."""

    def __init__(self, tmp: Path, kind: str):
        self.kind = kind
        self.path = tmp / f"decoy-{kind}"
        if kind == "file":
            self.path.write_bytes(b"root:x:0:0:root:/root:/bin/sh\n")
            self.path.chmod(0o644)
        elif kind == "folder":
            self.path.mkdir()
            for name in ("a", "b", "c"):
                (self.path / name).write_text(name)
            self.path.chmod(0o755)
        self.before = self._state()

    def _state(self):
        if not os.path.lexists(self.path):
            return None
        info = os.lstat(self.path)
        inside = sorted(os.listdir(self.path)) if self.path.is_dir() else self.path.read_bytes()
        return stat.S_IMODE(info.st_mode), inside

    def untouched(self) -> bool:
        return self._state() == self.before


def one_line_naming(result, link: Path) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert str(link) in lines[0] and "symbolic link" in lines[0], lines[0]
    assert "Traceback" not in result.output and "disk I/O error" not in result.output
    return lines[0]


# -- the practice log ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("args", READING + WRITING, ids=" ".join)
def test_a_link_as_the_log_is_refused_and_its_target_untouched(tmp_path, target, args):
    decoy = Decoy(tmp_path, target)
    default_path().parent.mkdir(parents=True)
    default_path().symlink_to(decoy.path)
    line = one_line_naming(run(*args), default_path())
    assert f"rm {default_path()}" in line
    assert decoy.untouched()
    assert default_path().is_symlink()


@pytest.mark.parametrize("target", TARGETS)
def test_a_link_as_the_data_folder_is_refused(tmp_path, target):
    decoy = Decoy(tmp_path, target)
    folder = default_path().parent
    folder.parent.mkdir(parents=True)
    folder.symlink_to(decoy.path)
    one_line_naming(run("cue", "a small warmth"), folder)
    assert decoy.untouched()
    with pytest.raises(PracticeLogError, match="symbolic link"):
        PracticeLog(create=False)


@pytest.mark.parametrize("side", ("-wal", "-shm", "-journal"))
@pytest.mark.parametrize("target", TARGETS)
def test_a_link_beside_the_log_is_refused_before_sqlite_follows_it(tmp_path, side, target):
    with PracticeLog() as log:
        log.add_cue("first")
    decoy = Decoy(tmp_path, target)
    link = Path(f"{default_path()}{side}")
    link.symlink_to(decoy.path)
    for args in (["cues"], ["cue", "second"]):
        one_line_naming(run(*args), link)
    assert decoy.untouched()


@pytest.mark.parametrize("target", TARGETS)
def test_forget_never_deletes_through_a_linked_recordings_folder(tmp_path, target):
    with PracticeLog() as log:
        log.add_cue("first")
    decoy = Decoy(tmp_path, target)
    recordings = default_path().parent / "recordings"
    recordings.symlink_to(decoy.path)
    one_line_naming(run("log", "--forget", "--yes"), recordings)
    assert decoy.untouched()
    with PracticeLog() as log:  # refused before anything was deleted
        assert [c.text for c in log.cues()] == ["first"]
    with pytest.raises(PlantedLink):
        private_dir(recordings)  # where a recorded cue is saved


def test_forget_deletes_recordings_but_not_what_links_inside_point_at(tmp_path):
    decoy = Decoy(tmp_path, "file")
    with PracticeLog() as log:
        log.add_cue("first")
        private_dir(log.recordings)
        (log.recordings / "2024-05-14-073005.flac").write_bytes(b"fLaC")
        (log.recordings / "elsewhere.flac").symlink_to(decoy.path)
        assert log.count_recordings() == 1
        assert log.forget()["recordings"] == 1
    assert decoy.untouched()


@pytest.mark.parametrize("content", (b"x", b"SQLite format 2\x00" + b"\x00" * 100, b"my notes\n" * 50))
@pytest.mark.parametrize("args", (["log"], ["cues"], ["cue", "a small warmth"]), ids=" ".join)
def test_a_file_that_is_not_a_log_is_refused_never_replaced(content, args):
    default_path().parent.mkdir(parents=True)
    default_path().write_bytes(content)
    default_path().chmod(0o644)
    result = run(*args)
    assert result.exit_code == 1 and "not a database" in result.output, result.output
    assert default_path().read_bytes() == content
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o644


def test_a_named_pipe_as_the_log_says_so_at_once():
    default_path().parent.mkdir(parents=True)
    os.mkfifo(default_path())
    for args in (["log"], ["cue", "a small warmth"]):
        result = run(*args)
        assert result.exit_code == 1 and "named pipe" in result.output, result.output


def test_reading_never_tightens_and_writing_tightens_only_our_own_file():
    with PracticeLog() as log:
        log.add_cue("first")
    default_path().chmod(0o644)
    assert run("cues").exit_code == 0
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o644   # reading changes nothing
    assert run("cue", "second").exit_code == 0
    assert stat.S_IMODE(default_path().stat().st_mode) == 0o600   # writing makes our log private


def test_a_second_name_keeps_its_mode(tmp_path):
    """A hard link planted in our folder (to a file of someone else's, say) is never chmod-ed."""
    other = tmp_path / "other"
    other.write_bytes(b"")
    other.chmod(0o644)
    mine = tmp_path / "mine"
    os.link(other, mine)
    fd = open_own(mine, os.O_RDWR)
    try:
        assert tighten(fd) is False
    finally:
        os.close(fd)
    assert stat.S_IMODE(other.stat().st_mode) == 0o644


# -- the foundation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_ownfiles_never_follows(tmp_path, target):
    decoy = Decoy(tmp_path, target)
    link = tmp_path / "link"
    link.symlink_to(decoy.path)
    for flags in (os.O_RDONLY, os.O_RDWR, os.O_RDWR | os.O_CREAT, os.O_WRONLY | os.O_CREAT | os.O_EXCL):
        with pytest.raises(PlantedLink, match=f"{link} is a symbolic link"):
            open_own(link, flags)
    with pytest.raises(PlantedLink):
        own_folder(link)
    for walk in (remove_files, count_files):
        with pytest.raises(PlantedLink):
            walk(link)
    assert decoy.untouched()


def test_ownfiles_refuses_a_fifo_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for flags in (os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_CREAT):
        with pytest.raises(NotRegularFile) as refused:
            open_own(tmp_path / "fifo", flags)
        assert "named pipe" in refused.value.kind


# -- the station's token and state file ---------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_a_link_as_the_station_token_is_refused(tmp_path, target):
    from voiceguide.station.token import TokenError, ensure_token, new_token, read_token

    decoy = Decoy(tmp_path, target)
    link = tmp_path / "config" / "station-token"
    link.parent.mkdir()
    link.symlink_to(decoy.path)
    for call in (read_token, ensure_token, new_token):
        with pytest.raises(TokenError, match="symbolic link"):
            call(link, environ={})
    assert decoy.untouched() and link.is_symlink()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("where", ("file", "folder"))
def test_the_volume_is_never_saved_through_a_link(tmp_path, target, where, caplog):
    from voiceguide.station.volume import Volume

    decoy = Decoy(tmp_path, target)
    folder = tmp_path / "state" / "voiceguide"
    if where == "folder":
        folder.parent.mkdir(parents=True)
        folder.symlink_to(decoy.path)
        link = folder
    else:
        folder.mkdir(parents=True)
        link = folder / "station-state.json"
        link.symlink_to(decoy.path)
    volume = Volume(folder / "station-state.json")
    volume.change(-6)
    volume.save()
    assert decoy.untouched() and link.is_symlink()
    assert str(link) in caplog.text


# -- the caches ---------------------------------------------------------------------------------------------


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache folder of this test's own (the shared speech cache must not be linked away)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (cache / "voiceguide").mkdir(parents=True)
    return cache / "voiceguide"


@pytest.mark.parametrize("target", ("folder", "missing"))
def test_a_linked_speech_cache_is_refused_and_nothing_cleared_through_it(tmp_path, own_cache, target):
    from voiceguide.errors import CacheError
    from voiceguide.synth.cachefolder import check_cache_folder
    from voiceguide.synth.cachesize import Limits, prune

    decoy = Decoy(tmp_path, target)
    if target == "folder":
        (decoy.path / "old.clip").write_bytes(b"a clip of someone else's")
        decoy.before = decoy._state()
    link = own_cache / "speech"
    link.symlink_to(decoy.path)
    one_line_naming(run("cache", "--clear"), link)
    with pytest.raises(CacheError, match="symbolic link"):
        check_cache_folder(link)
    assert prune(link, Limits(max_bytes=0, max_age_s=0)).files == 0
    assert decoy.untouched()


@pytest.mark.parametrize("target", ("folder", "missing"))
def test_a_linked_loop_cache_is_neither_read_nor_written(tmp_path, own_cache, target, caplog):
    import numpy as np

    from voiceguide.audio import loopcache

    decoy = Decoy(tmp_path, target)
    link = own_cache / "loops"
    link.symlink_to(decoy.path)
    made = loopcache.cached_loop("test-tone", lambda: np.ones(64, dtype=np.float32), folder=link)
    assert made.size == 64
    assert decoy.untouched()
    assert str(link) in caplog.text


# -- a full disk --------------------------------------------------------------------------------------------


def test_on_a_full_disk_reading_still_reads_and_writing_says_no_space(tmp_path):
    """Not "disk I/O error": SQLite cannot grow its shared-memory file there, which is no reason not to read."""
    import subprocess
    import sys

    from tests.support.hostile import on_tiny_disk, private_home

    home, env = private_home(tmp_path)
    folder = home / ".local/share/voiceguide"
    saved = tmp_path / "saved"
    with PracticeLog(saved / "practice.sqlite3") as log:
        log.add_cue("a flicker of warmth")
    folder.mkdir(parents=True)

    def on_full_disk(*args):
        fill = (f'cp -a "{saved}/." "{folder}/" && head -c 100000000 /dev/zero > "{folder}/filler" 2>/dev/null; '
                f'exec "$@"')
        command = [*on_tiny_disk(folder), "sh", "-c", fill, "sh", sys.executable, "-m", "voiceguide", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    read = on_full_disk("cues")
    assert read.returncode == 0 and "a flicker of warmth" in read.stdout, read.stderr
    write = on_full_disk("cue", "a second one")
    assert write.returncode == 1, write.stdout + write.stderr
    assert "no space left on" in write.stderr and "disk I/O error" not in write.stderr, write.stderr
