"""The station's volume: changed by any control, remembered between sessions and restarts.

Kept in ``station-state.json`` in the state folder. A session never starts
louder than the start ceiling (``start_volume_limit``): a knob left at full
at night must not blast the morning's check-in. See :meth:`Volume.limit`.

Trap: this object has no lock of its own; the controller changes and reads
it under its lock.

The state file and its folder are voiceguide's own: read and written
without following a link (:mod:`voiceguide.ownfiles`); a link planted in
their place is left alone and named in one warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

from voiceguide.station.shared import VOLUME_RANGE_DB

log = logging.getLogger("voiceguide.station")


def _clamp(db: float) -> float:
    lo, hi = VOLUME_RANGE_DB
    return min(hi, max(lo, db))


class Volume:
    """A volume in dB (:attr:`db`), read from *state_file* and saved back to it (None: not kept)."""

    def __init__(self, state_file: Optional[Path] = None):
        self._state_file = state_file
        self.db = self._load()

    def change(self, delta_db: float) -> float:
        """Relative change within :data:`VOLUME_RANGE_DB`; the new volume."""
        self.db = _clamp(self.db + float(delta_db))
        return self.db

    def limit(self, ceiling_db: float) -> float:
        """At a session's start: no louder than *ceiling_db*; the volume to start at."""
        self.db = min(self.db, ceiling_db)
        return self.db

    def _load(self) -> float:
        """The saved volume, or 0 dB: whatever is in the file (damage is set aside, see :mod:`.statefile`)."""
        if self._state_file is None:
            return 0.0
        from voiceguide.station.statefile import read_state

        return _clamp(read_state(self._state_file).get("volume_db", 0.0))

    def save(self) -> None:
        if self._state_file is None:
            return
        try:
            from voiceguide.atomic import atomic_file
            from voiceguide.ownfiles import own_folder, refuse_link

            own_folder(self._state_file.parent, mode=0o700)
            refuse_link(self._state_file, "state file")  # replaced by a file of ours only if it is one
            with atomic_file(self._state_file, "w") as f:
                json.dump({"volume_db": round(self.db, 2)}, f)
        except OSError as exc:
            log.warning("could not remember the volume in %s: %s", self._state_file, exc.strerror or exc)
