"""station-state.json: any damage is set aside with one log line, and the station starts (issue 17).

A number of four hundred digits once stopped the station with "internal
error", and systemd restarted it into the same error for ever. The class is
anything that is not a state this station wrote: not JSON, not an object,
a value of the wrong type, NaN or Infinity, a number too large for a float,
too many bytes, a FIFO, a folder, a device. Each is renamed aside
(``station-state.json.damaged-...``) and the volume starts at 0 dB; a
missing file is the first start and says nothing.
"""

from __future__ import annotations

import logging
import os

import pytest

from voiceguide.station.statefile import DamagedState, parse_state, read_state
from voiceguide.station.volume import Volume

DAMAGE = {
    "huge integer": b'{"volume_db": 1' + b"0" * 400 + b"}",
    "more digits than an int may have": b'{"volume_db": 1' + b"0" * 5000 + b"}",
    "NaN": b'{"volume_db": NaN}',
    "Infinity": b'{"volume_db": -Infinity}',
    "a string": b'{"volume_db": "3"}',
    "a boolean": b'{"volume_db": true}',
    "null": b'{"volume_db": null}',
    "a list": b"[1, 2]",
    "a bare number": b"-3",
    "half an object": b'{"volume_db": -',
    "empty": b"",
    "not UTF-8": b'{"volume_db": "\xff"}',
    "deep nesting": b"[" * 3000 + b"]" * 3000,
    "too big": b'{"volume_db": -3, "pad": "' + b" " * 5000 + b'"}',
}


def _state(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(exist_ok=True)
    return folder / "station-state.json"


@pytest.mark.parametrize("content", list(DAMAGE.values()), ids=list(DAMAGE))
def test_damaged_content_is_set_aside_and_the_volume_starts_at_0_db(tmp_path, caplog, content):
    path = _state(tmp_path)
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="voiceguide.station"):
        volume = Volume(path)
    assert volume.db == 0.0
    assert not os.path.lexists(path)
    (aside,) = [p for p in path.parent.iterdir() if p.name.startswith("station-state.json.damaged-")]
    assert aside.read_bytes() == content  # kept, never deleted
    (record,) = caplog.records
    line = record.getMessage()
    assert "\n" not in line and str(path) in line and aside.name in line and "default volume" in line
    volume.change(-4)
    volume.save()  # the next start reads what this one saved
    assert Volume(path).db == -4.0


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_a_folder_in_its_place_is_set_aside_without_waiting(tmp_path, caplog, kind):
    path = _state(tmp_path)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
        (path / "inside").write_text("kept")
    with caplog.at_level(logging.WARNING, logger="voiceguide.station"):
        assert Volume(path).db == 0.0
    (aside,) = [p for p in path.parent.iterdir() if ".damaged-" in p.name]
    (record,) = caplog.records
    words = {"fifo": "named pipe (FIFO)", "folder": "a folder"}[kind]
    assert words in record.getMessage()
    if kind == "folder":
        assert (aside / "inside").read_text() == "kept"


def test_a_second_damage_in_the_same_second_does_not_replace_the_first(tmp_path):
    path = _state(tmp_path)
    for content in (b"one", b"two"):
        path.write_bytes(content)
        assert read_state(path) == {}
    kept = sorted(p.read_bytes() for p in path.parent.iterdir() if ".damaged-" in p.name)
    assert kept == [b"one", b"two"]


def test_a_missing_file_is_the_first_start_and_says_nothing(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger="voiceguide.station"):
        assert Volume(_state(tmp_path)).db == 0.0
    assert caplog.records == []


def test_a_dangling_link_is_left_alone_and_named(tmp_path, caplog):
    path = _state(tmp_path)
    os.symlink(tmp_path / "nowhere", path)
    with caplog.at_level(logging.WARNING, logger="voiceguide.station"):
        assert Volume(path).db == 0.0
    assert os.path.islink(path)  # not ours to move
    (record,) = caplog.records
    assert "symbolic link" in record.getMessage() and "\n" not in record.getMessage()


def test_a_file_that_cannot_be_read_is_left_where_it_is(tmp_path, caplog):
    if os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000")
    path = _state(tmp_path)
    path.write_text('{"volume_db": -6}')
    path.chmod(0)
    with caplog.at_level(logging.WARNING, logger="voiceguide.station"):
        assert Volume(path).db == 0.0
    assert path.exists()
    (record,) = caplog.records
    assert "cannot read" in record.getMessage()


def test_valid_states_are_read_and_out_of_range_volumes_clamped(tmp_path):
    assert parse_state(b'{"volume_db": -6}') == {"volume_db": -6.0}
    assert parse_state(b'{"volume_db": -2.5, "later": [1]}') == {"volume_db": -2.5}
    assert parse_state(b"{}") == {}
    path = _state(tmp_path)
    path.write_text('{"volume_db": 1e300}')  # finite: a number, only far too loud
    assert Volume(path).db == Volume(None).change(1e9)
    path.write_text('{"volume_db": -7}')
    assert Volume(path).db == -7.0


def test_every_kind_of_damage_says_what_it_is():
    for content in DAMAGE.values():
        if len(content) <= 4096:
            with pytest.raises(DamagedState):
                parse_state(content)
