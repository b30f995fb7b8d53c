"""One station per user, and the address file: written, read and removed never through a planted link."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from voiceguide.station import address
from voiceguide.station.address import Address, AlreadyRunning


def test_the_lock_is_held_once_and_names_its_holder(tmp_path):
    path = tmp_path / "state" / "station.lock"
    first = address.hold_lock(path)
    try:
        with pytest.raises(AlreadyRunning, match=rf"a station already runs \(pid {os.getpid()}"):
            address.hold_lock(path)
    finally:
        first.release()
    again = address.hold_lock(path)   # released: free again
    again.release()
    again.release()                   # twice is harmless


def test_the_lock_of_a_process_that_died_is_free(tmp_path):
    path = tmp_path / "station.lock"
    code = ("import sys; from pathlib import Path; from voiceguide.station import address; "
            "address.hold_lock(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            address.hold_lock(path)
    finally:
        holder.kill()
        holder.wait()
    address.hold_lock(path).release()   # the kernel let go of it with the process


def test_the_second_station_is_told_where_the_first_listens(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    address.write(Address("127.0.0.1", 8799))
    held = address.hold_lock()
    try:
        with pytest.raises(AlreadyRunning) as caught:
            address.hold_lock()
        assert str(caught.value).startswith(f"a station already runs (pid {os.getpid()}, at http://127.0.0.1:8799)")
        assert caught.value.exit_code == 1
    finally:
        held.release()


@pytest.mark.parametrize("target", ["decoy", "missing"])
def test_a_link_planted_as_the_lock_file_is_refused_and_left_alone(tmp_path, target):
    decoy = tmp_path / target
    if target == "decoy":
        decoy.write_text("not voiceguide's\n")
        decoy.chmod(0o644)
    path = tmp_path / "station.lock"
    path.symlink_to(decoy)
    with pytest.raises(Exception, match="symbolic link") as caught:
        address.hold_lock(path)
    assert "\n" not in str(caught.value)
    if target == "decoy":
        assert decoy.read_text() == "not voiceguide's\n" and oct(decoy.stat().st_mode & 0o777) == "0o644"
    else:
        assert not decoy.exists()


def test_the_address_file_replaces_a_planted_link_and_never_writes_through_it(tmp_path):
    decoy = tmp_path / "decoy"
    decoy.write_text("keep me\n")
    path = tmp_path / "station.json"
    path.symlink_to(decoy)
    assert address.read(path) is None          # a link is not our file: not read through
    address.write(Address("127.0.0.1", 8765), path)
    assert not path.is_symlink() and decoy.read_text() == "keep me\n"
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert address.read(path) == (Address("127.0.0.1", 8765), os.getpid())


def test_the_address_file_is_removed_only_by_its_writer(tmp_path):
    path = tmp_path / "station.json"
    address.write(Address("127.0.0.1", 8765), path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "pid": os.getpid() + 1}))   # another station's now
    address.remove(path)
    assert path.exists()
    address.write(Address("127.0.0.1", 8765), path)
    address.remove(path)
    assert not path.exists()
    decoy = tmp_path / "decoy"
    decoy.write_text(json.dumps(data))
    path.symlink_to(decoy)
    address.remove(path)                                            # a link naming our pid is not ours
    assert path.is_symlink() and decoy.exists()
