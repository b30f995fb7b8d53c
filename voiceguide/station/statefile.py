"""Reading ``station-state.json``: whatever is in it, the station starts.

The station is left running for weeks under systemd. Its state file (the
volume, see :mod:`voiceguide.station.volume`) lives in the person's state
folder, where a crash, a full disk, a careless edit or someone else can
leave anything: half a JSON object, ``NaN``, a number of four hundred digits
(``float()`` of it raises OverflowError, which once stopped the station
with "internal error" and systemd restarted it into the same error, for
ever), a string, a FIFO, a folder. So :func:`read_state`:

* reads through :func:`voiceguide.ownfiles.read_own` (never through a link,
  never waiting on a FIFO, never more than :data:`MAX_STATE_BYTES`);
* checks every value it returns (types, finite numbers);
* sets a damaged file aside -- renamed to
  ``station-state.json.damaged-YYYYMMDD-HHMMSS`` beside it, so nothing the
  person might want is deleted and the next start does not meet it again
  -- with one log line, and answers the defaults.

What is *not* damage, and is left where it is: a missing file (the first
start), a planted link (named by ownfiles in one warning), a file that
cannot be read (permissions: one warning, the person's to fix).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional

log = logging.getLogger("voiceguide.station")

#: A state file holds one small JSON object; anything larger is not ours.
MAX_STATE_BYTES = 4096


class DamagedState(ValueError):
    """The state file's content is not a state this station wrote; the message says what is wrong."""


def _reject_constant(name: str) -> Any:
    raise DamagedState(f"it holds {name}, which is not a number")


def parse_state(data: bytes) -> Dict[str, float]:
    """``{"volume_db": float}`` (only the keys present and valid) from the file's bytes, or :class:`DamagedState`.

    Strict on purpose: a value that is not a finite number (a string, a
    boolean, NaN, Infinity, an integer too large for a float) is damage,
    not something to guess at.
    """
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except DamagedState:
        raise
    except UnicodeDecodeError:
        raise DamagedState("it is not UTF-8 text") from None
    except RecursionError:
        raise DamagedState("it is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and too many digits for an int
        raise DamagedState(f"it is not JSON ({str(exc).splitlines()[0]})" if str(exc) else "it is not JSON") from None
    if not isinstance(value, dict):
        raise DamagedState("it is not a JSON object")
    state: Dict[str, float] = {}
    if "volume_db" in value:
        db = value["volume_db"]
        if isinstance(db, bool) or not isinstance(db, (int, float)):
            raise DamagedState(f"volume_db is {type(db).__name__}, not a number")
        try:
            db = float(db)
        except OverflowError:
            raise DamagedState("volume_db is too large a number") from None
        if not math.isfinite(db):
            raise DamagedState("volume_db is not a finite number")
        state["volume_db"] = db
    return state


def set_aside(path: Path) -> Optional[Path]:
    """Rename *path* to ``NAME.damaged-YYYYMMDD-HHMMSS`` beside it; the new path, or None if it cannot be moved.

    A rename moves the name only (a FIFO is not opened, a folder keeps its
    content) and never replaces an earlier damaged file: a clash gets
    ``-2``, ``-3``...
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 100):
        aside = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n > 1 else ""))
        if os.path.lexists(aside):
            continue
        try:
            os.rename(path, aside)
        except OSError:
            return None
        return aside
    return None


def read_state(path: Path) -> Dict[str, float]:
    """The station's saved state from *path* ({} for the defaults); never raises for what is in the file."""
    from voiceguide.ownfiles import PlantedLink, read_own
    from voiceguide.readfile import NotRegularFile, TooBig

    try:
        return parse_state(read_own(path, MAX_STATE_BYTES, "state file"))
    except FileNotFoundError:
        return {}
    except PlantedLink as exc:
        log.warning("%s; the station starts with the default volume", exc)
        return {}
    except NotRegularFile as exc:
        why = f"it is {exc.kind}"
    except TooBig:
        why = f"it is larger than {MAX_STATE_BYTES} bytes"
    except DamagedState as exc:
        why = str(exc)
    except OSError as exc:
        log.warning("cannot read the state file %s (%s); the station starts with the default volume",
                    path, exc.strerror or exc)
        return {}
    aside = set_aside(path)
    if aside is not None:
        log.warning("the state file %s was damaged (%s); it is kept as %s and the station starts with the "
                    "default volume", path, why, aside.name)
    else:
        log.warning("the state file %s is damaged (%s) and could not be set aside; the station starts with "
                    "the default volume (remove the file)", path, why)
    return {}
