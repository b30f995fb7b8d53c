"""Synthesise exercises ahead, so a press on a Pi sounds at once.

The station calls :func:`prepare` in a thread of its own when it starts and
after a schedule changes. Speech is made by the speech workers, which run
niced, so preparing does not hold up a session that starts meanwhile (the
two share the on-disk cache, whose first writer of a key wins).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Dict, List

from voiceguide.errors import VoiceguideError
from voiceguide.station.memory import give_back
from voiceguide.station.shared import Playback

log = logging.getLogger("voiceguide.station")


def prepare(exercises: List[str], catalog: Dict[str, Path], playback: Playback,
            stopping: Callable[[], bool] = lambda: False) -> None:
    """Synthesise every clip and build every ambient loop of *exercises* (ids in *catalog*).

    An id missing from the catalog is skipped; a failure is logged, never
    raised. *stopping* is asked before each exercise (the station closing).
    """
    from voiceguide.player.session import Session
    from voiceguide.script.loader import load

    for ident in exercises:
        if stopping() or ident not in catalog:
            continue
        try:
            script = load(catalog[ident])
            with Session(script, playback.session_options()) as session:
                session.mixer(session.timeline())  # every clip synthesised, every loop cached
            log.info("prepared %s", ident)
        except VoiceguideError as exc:
            log.warning("could not prepare %s: %s", ident, exc)
        except Exception:
            log.exception("could not prepare %s", ident)
    try:  # the audio stack, so the first press does not wait for imports
        import voiceguide.audio.mixer  # noqa: F401
        import voiceguide.player.player  # noqa: F401
    except (ImportError, OSError):
        pass  # a library missing (libsndfile is an OSError): the first press reports it, in words
    give_back()  # building ambient loops borrows tens of MB for a moment
