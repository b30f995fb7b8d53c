"""Word onsets found in audio alone, to check caption timings against (tests and benchmarks/captions.py).

A listener hears a word begin where sound returns after a silence: the
signal's short-time energy (10 ms windows every 5 ms) rises above
:data:`FLOOR_DB` below the clip's loudest window after at least
:data:`GAP_S` below it. Shorter dips (a stop consonant's closure, 30-100 ms)
are not word boundaries and are not reported; so only words after a pause
-- a sentence's or a clause's first word, or any word said slowly -- get an
onset here, and those are where most caption cues start.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

FLOOR_DB = -30.0
GAP_S = 0.12
HOP_S = 0.005


def onsets(x: np.ndarray, sample_rate: int, gap_s: float = GAP_S, floor_db: float = FLOOR_DB) -> List[int]:
    """Samples where sound begins after at least *gap_s* of silence (and the clip's first sound)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    hop = max(1, int(round(HOP_S * sample_rate)))
    win = 2 * hop
    if x.size < win:
        return []
    power = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, x.size - win + 1, hop)
    energy = (power[starts + win] - power[starts]) / win
    db = 10 * np.log10(energy + 1e-20)
    loud = db > db.max() + floor_db
    need = int(round(gap_s / HOP_S))
    found: List[int] = []
    quiet = need  # the clip's start counts as after a silence
    for i, is_loud in enumerate(loud):
        if is_loud:
            if quiet >= need:
                found.append(int(starts[i] + hop // 2))  # the window's middle: where its energy is
            quiet = 0
        else:
            quiet += 1
    return found


def nearest(candidates: Sequence[int], at: int, within: int) -> Optional[int]:
    """The candidate nearest *at*, if one is no further than *within*."""
    best = min(candidates, key=lambda c: abs(c - at), default=None)
    return best if best is not None and abs(best - at) <= within else None
