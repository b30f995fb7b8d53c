"""Two stages of pocketsphinx over 16 kHz mono audio: *guide* spotted, then the command decoded.

The only module of voiceguide that imports pocketsphinx (5.x, which ships
its en-us acoustic model, dictionary and phone language model).

1. **Keyword spotting** (:data:`KWS_THRESHOLD`, loose on purpose): a
   keyphrase search for *guide* runs over the stream, block by block.
2. **The command**: once the stream has run on past the end of a *guide*
   (:data:`TAIL` seconds, or sooner when the speaker has clearly stopped:
   :data:`QUIET_AFTER`), the window from just before it is decoded against
   a JSGF grammar ``guide (pause | resume | ...)`` with wide beams, and the
   phrase the grammar found is weighed against a free phone loop over the
   same samples (``llr``: how much better the command explains the sound
   than any string of phones does). The rules that act on the features are
   :mod:`.commands`.

What was measured, and why it is this way (benchmarks/voice_commands.py):
pocketsphinx's default beams (1e-48) left a short command ("guide back")
with no hypothesis at all a third of the time; a window that ends less than
about 1.2 s after *guide* cuts a slow "softer" to "soft", which the grammar
then calls "stop". Decoding each command alone and comparing totals was
worse than the grammar's own choice and cost seven decodes.

Measured on the 30-minute benchmark's stage-two windows (replayed offline,
same figures otherwise) and dropped, because none found more commands
without more wrong ones (the misses are espeak-ng's formant voices, which
this acoustic model hears as another command, often as its first choice
by a wide margin):

* the n-best list's margin between the best command and the next
  (``Decoder.nbest()``): right decodes have margins as small as wrong ones;
  acting only above a margin of 100 took wrong commands from 14 to 10 and
  found ones from 128 to 122;
* vocal-tract length warping (``warp_params`` 0.8-1.2, alone or the best
  of five decodes): at best +1 found, +1-5 wrong, five times the CPU;
  ``topn`` 8: no better; ``remove_noise`` off: the same decodes;
* British and open vowels for "back" (B AA K, B AH K, B EH K): +2 backs
  but -1 next, -1 louder, and one half of the takes lost what the other
  gained;
* among the windows of one phrase (several *guide*s), the best acoustic
  score, the earliest window, or the best window the rules accept, instead
  of the best *guide*: -3 to +1 found, +3 to +6 wrong.

Measured in the next round, on the same windows, and dropped (held out by
voice: fitted without one of nine voices -- eight espeak-ng voices, Piper's
four settings as one -- and tried on it):

* a second opinion by nearest neighbours, DTW over MFCCs of the command
  word against the other voices' windows: right for 164 of 259 decoded
  windows where the grammar was right for 217; overruling the grammar only
  when all five neighbours agree fixes 5 and breaks 1; forced decodes of
  each ``guide <command>`` alone and a free phone loop over the phrase
  did not point at the right command either;
* per-command offsets added to the n-best scores (fitted): in-sample
  129 found, 13 wrong (+1, -1); held out by voice 125 found, 17 wrong
  (128 and 14 without); fitted on even-numbered takes and tried on the odd
  ones 59 found, 11 wrong (61, 9 without);
* ``bestpath`` off (the Viterbi path, not the lattice's): on the clips
  alone in a room it hears "back" where the lattice's path kept *guide*
  and dropped the command (wrong 46 -> 32 of 336), but on the benchmark
  114 found, 18 wrong, 7 false (the floors are on the lattice's scores);
* ``silprob`` 0.1: 129 found, 16 wrong, 1 false;
* late-reverberation spectral subtraction of the window (RT60 0.3-0.6
  assumed): 36-66 wrong of the 336 clips in a room (46 without);
  WPE dereverberation of the window (single channel, STFT 512/128, the
  ``nara_wpe`` package): 10 taps, delay 3, 129 found, 14 wrong; 20 taps,
  delay 2, five iterations, 131 found, 15 wrong, 0 false, with five times
  stage two's CPU (~0.16 s a window here, about a second on a Pi): "back"
  was not helped (13 of 22).
* a second decode only of a phrase whose every window the grammar heard as
  *guide* with no command (54 of 1,101 windows of the mixture, 25 of 1,863
  of the sessions alone; +2-3% CPU): with ``bestpath`` off the scores are
  relative to each frame's best (-15 to -60 a frame), so no floor carries
  over (held out by voice: 128 found, 15 wrong); a grammar with *guide*
  optional, ``[guide] <command>``, stop refused, the usual floors: 130
  found, 14 wrong, 0 false, the two gains one voice each and 3 of its 13
  decodes wrong (harmless only because the phrase had been acted on): too
  little and too fragile to keep. On the benchmark most misses are not a
  vanished command but a wrong one ("back" heard as pause, louder, next).

Where the misses come from: the same clips decoded alone (no room, no
session) are wrong 7 times in 168, in a 0.4 s room 17 times; "back", a
short word, suffers most: in 0.3-0.5 s rooms 29 and 38 of 48 backs were
missed (two draws of rooms); of the 38, 21 were decoded as *guide* with no
command, most of the rest as "louder" or "pause".

A voice-activity gate rides along: the window's level over the noise floor
(the 10th percentile of the last :data:`FLOOR_SECONDS` of 100 ms levels).
The guide's own voice is best taken out before the recogniser hears it:
see :mod:`.echo`.

Trap: pocketsphinx's Python scores are ``logmath.exp`` of its integer
log-base-1.0001 scores; :func:`_log` turns them back. A whole window's
score is far from underflow (about -2e6 units, e**-200), but a score of
minutes would underflow to 0: score phrases, never utterances.
"""

from __future__ import annotations

import collections
import math
import os
from typing import Deque, Dict, List, Optional, Tuple

import numpy as np

from voiceguide.listening.commands import COMMANDS, WAKE, Candidate

RATE = 16000
FRAME = 160                      # pocketsphinx's 10 ms frames
#: Stage one's keyphrase threshold: loose, so that stage two sees nearly every *guide*.
KWS_THRESHOLD = 1e-30
#: Seconds after the end of *guide* that stage two decodes at most (the pause, then a slow "softer").
TAIL = 1.3
#: ... or fewer: decode as soon as this many seconds after *guide* have been quiet (at least MIN_TAIL in).
QUIET_AFTER = 0.3
MIN_TAIL = 0.6
#: "Quiet": 100 ms levels within this many dB of the noise floor.
QUIET_DB = 8.0
#: Seconds before the start of *guide* that stage two's window begins.
LEAD = 0.15
#: A keyword-spotting utterance is restarted after this many seconds (bounded memory and time).
UTTERANCE_SECONDS = 30.0
FLOOR_SECONDS = 10.0
#: *guide*s spotted within this many seconds of the first are one phrase (the best decode is kept).
GROUP = 1.0
_LOG_BASE = math.log(1.0001)

#: How each command may be said: our own entries (``vg_<command>``), not the dictionary's. Its
#: "resume" is also the noun (R EH Z AH M EY), its "stop", "louder" and "softer" are American only; the
#: British vowels and a non-rhotic "-er" are added. On benchmarks/voice_commands.py this was neutral
#: (espeak-ng's British "stop" is still mostly heard as "pause"); the kept en-us clips gained "louder".
PRONUNCIATIONS: Dict[str, Tuple[str, ...]] = {
    "pause": ("P AO Z", "P AA Z"),
    "resume": ("R IH Z UW M", "R IY Z UW M", "R IH Z Y UW M"),
    "stop": ("S T AA P", "S T AO P"),
    "next": ("N EH K S T", "N EH K S"),
    "back": ("B AE K",),
    "louder": ("L AW D ER", "L AW D AH"),
    "softer": ("S AA F T ER", "S AO F T ER", "S AO F T AH", "S AA F T AH"),
}
PREFIX = "vg_"
#: The grammar stage two decodes against.
PHRASE = ("#JSGF V1.0;\ngrammar phrase;\n"
          f"public <command> = {WAKE} ({' | '.join(PREFIX + c for c in COMMANDS)});\n")


#: Stage two's beams: wide, so that the grammar's best path reaches its end even for a phrase the
#: acoustic model finds odd (pocketsphinx's defaults, 1e-48, left "guide back" with no hypothesis at all).
WIDE = {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80}


def _phone_lm() -> str:
    import pocketsphinx  # type: ignore[import-untyped]

    return os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us-phone.lm.bin")


def _log(value: float) -> float:
    """pocketsphinx's linear score back to its log units (base 1.0001)."""
    return math.log(max(value, 1e-300)) / _LOG_BASE


def _decoder(**kwargs):
    import pocketsphinx

    return pocketsphinx.Decoder(logfn=os.devnull, **kwargs)


def to_pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


class Recognizer:
    """Feed it 16 kHz mono float32 blocks; it returns the :class:`Candidate` phrases it decoded."""

    def __init__(self, kws_threshold: float = KWS_THRESHOLD, tail: float = TAIL):
        self.tail = tail
        self._spot = _decoder(keyphrase=WAKE, kws_threshold=kws_threshold)
        self._command = _decoder(lm=None, **WIDE)  # no n-gram model: 60 MB held for nothing
        for command, ways in PRONUNCIATIONS.items():
            for i, phones in enumerate(ways):
                name = PREFIX + command + (f"({i + 1})" if i else "")
                self._command.add_word(name, phones, i == len(ways) - 1)
        self._command.add_jsgf_string("phrase", PHRASE)
        self._command.add_allphone_file("phones", _phone_lm())
        self._fed = 0                      # samples fed so far
        self._utt_start = 0                # the sample the spotting utterance began at
        self._buffer: Deque[Tuple[int, np.ndarray]] = collections.deque()  # (first sample, pcm int16)
        self._buffered = 0
        self._pending: List[Tuple[int, int, float]] = []  # (guide start, guide end, score), samples
        self._levels: Deque[float] = collections.deque(maxlen=int(FLOOR_SECONDS * 10))
        self._level_rest = np.zeros(0, dtype=np.float32)
        self._measured = 0                 # 100 ms levels measured so far
        self._spot.start_utt()

    # -- the stream --------------------------------------------------------------------------

    def feed(self, samples: np.ndarray) -> List[Candidate]:
        samples = np.asarray(samples, dtype=np.float32)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
        self._remember(pcm)
        self._measure(samples)
        self._spot.process_raw(pcm.tobytes(), False, False)
        self._fed += len(pcm)
        hyp = self._spot.hyp()
        if hyp is not None:
            for seg in self._spot.seg() or ():
                if seg.word.split("(")[0] == WAKE:
                    start = self._utt_start + seg.start_frame * FRAME
                    end = self._utt_start + (seg.end_frame + 1) * FRAME
                    frames = max(1, seg.end_frame - seg.start_frame + 1)
                    if not any(abs(start - s) < RATE // 5 for s, _, _ in self._pending):
                        self._pending.append((start, end, _log(seg.ascore) / frames))
            self._restart()
        elif self._fed - self._utt_start > UTTERANCE_SECONDS * RATE:
            self._restart()
        return self._ripe()

    def flush(self) -> List[Candidate]:
        """The end of the stream: decide what is still waiting for its tail."""
        out = []
        while self._pending:
            self._fed += int((GROUP + self.tail) * RATE)  # as if the stream went on (in silence)
            out += self._ripe()
        return out

    @property
    def position(self) -> float:
        """Seconds of audio fed so far."""
        return self._fed / RATE

    def noise_floor(self) -> float:
        """The room's level (dBFS), as the voice-activity gate sees it."""
        if not self._levels:
            return -90.0
        return float(np.percentile(np.fromiter(self._levels, float), 10))

    # -- inside ------------------------------------------------------------------------------

    def _restart(self) -> None:
        self._spot.end_utt()
        self._spot.start_utt()
        self._utt_start = self._fed

    def _remember(self, pcm: np.ndarray) -> None:
        self._buffer.append((self._fed, pcm))
        self._buffered += len(pcm)
        keep = int((LEAD + GROUP + self.tail + 3.0) * RATE)  # the longest window, and some
        while self._buffer and self._buffered - len(self._buffer[0][1]) > keep:
            self._buffered -= len(self._buffer.popleft()[1])

    def _measure(self, samples: np.ndarray) -> None:
        x = np.concatenate([self._level_rest, samples]) if len(self._level_rest) else samples
        w = RATE // 10
        k = len(x) // w
        if k:
            power = np.mean(x[: k * w].reshape(k, w).astype(np.float64) ** 2, axis=1)
            self._levels.extend(10 * np.log10(power + 1e-12))
            self._measured += k
        self._level_rest = x[k * w:].copy()

    def _window(self, first: int, last: int) -> np.ndarray:
        parts = [pcm for at, pcm in self._buffer if at + len(pcm) > first and at < last]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        at0 = next(at for at, pcm in self._buffer if at + len(pcm) > first)
        joined = np.concatenate(parts)
        return joined[max(0, first - at0): last - at0]

    def _ripe(self) -> List[Candidate]:
        """Stage two for each *guide* whose tail has come; of *guide*s found within :data:`GROUP` s of
        each other (stage one also fires inside a command word), the best decode only."""
        if not self._pending:
            return []
        first = self._pending[0][0]
        group = [p for p in self._pending if p[0] - first < GROUP * RATE]
        last_end = group[-1][1]
        if len(group) == len(self._pending) and self._fed < first + int(GROUP * RATE):
            return []
        if self._fed < last_end + int(self.tail * RATE) and not self._quiet_since(last_end):
            return []
        self._pending = self._pending[len(group):]
        found = [c for c in (self._second_stage(*p) for p in group) if c is not None]
        return [max(found, key=lambda c: c.features["guide"])] if found else []

    def _quiet_since(self, end: int) -> bool:
        """True when the speaker has clearly finished: :data:`MIN_TAIL` s past *end* (the end of *guide*),
        and the last :data:`QUIET_AFTER` s all within :data:`QUIET_DB` of the noise floor."""
        if self._fed < end + int(MIN_TAIL * RATE):
            return False
        n = int(round(QUIET_AFTER * 10))
        measured_to = self._measured * (RATE // 10)   # the sample the last 100 ms level ended at
        if len(self._levels) < n or measured_to - n * (RATE // 10) < end + int(0.3 * RATE):
            return False
        floor = self.noise_floor() + QUIET_DB
        return all(self._levels[-i] < floor for i in range(1, n + 1))

    def _second_stage(self, start: int, end: int, guide_score: float) -> Optional[Candidate]:
        """Decode from just before *guide* to the stream's end (at most :data:`TAIL` s past it) against
        the grammar; weigh the phrase it found against a free phone loop over the phrase's own samples."""
        first = max(0, start - int(LEAD * RATE))
        pcm = self._window(first, min(self._fed, end + int(self.tail * RATE)))
        if len(pcm) < RATE // 2:
            return None
        command, span, score, word = self._decode(pcm)
        if command is None:
            return None
        phrase = pcm[span[0]: span[1]]
        frames = max(1, len(phrase) // FRAME)
        mine = self._total(phrase, "phrase")
        loop = self._total(phrase, "phones")
        llr = (mine - loop) / frames if mine is not None and loop is not None else -1e3
        x = phrase.astype(np.float64) / 32767.0
        level = 10 * math.log10(float(np.mean(x ** 2)) + 1e-12) if len(x) else -120.0
        features = {"guide": guide_score, "acoustic": score, "word": word, "llr": llr,
                    "snr": level - self.noise_floor(), "level": level}
        return Candidate(command, (first + span[0]) / RATE, (first + span[1]) / RATE, self._fed / RATE, features)

    def _total(self, pcm: np.ndarray, search: str) -> Optional[float]:
        """The best path's whole score over *pcm* under *search* (log units), or None when none ends."""
        decoder = self._command
        decoder.activate_search(search)
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), False, True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return _log(hyp.score) if hyp is not None else None

    def _decode(self, pcm: np.ndarray) -> Tuple[Optional[str], Tuple[int, int], float, float]:
        """(the command or None, the phrase's span in samples, the acoustic score per frame of the phrase
        and of the command word alone) under the grammar."""
        decoder = self._command
        decoder.activate_search("phrase")
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), False, True)
        decoder.end_utt()
        hyp = decoder.hyp()
        words = [w[len(PREFIX):] if w.startswith(PREFIX) else w for w in hyp.hypstr.split()] if hyp else []
        none: Tuple[Optional[str], Tuple[int, int], float, float] = (None, (0, 0), float("-inf"), float("-inf"))
        if len(words) != 2 or words[0] != WAKE or words[1] not in COMMANDS:
            return none
        # an alternative pronunciation's segment is named "next(2)": the word is what is before "("
        wanted = (WAKE, PREFIX + words[1])
        segments = [s for s in decoder.seg() or () if s.word.split("(")[0] in wanted]
        if len(segments) != 2:
            return none
        frames = max(1, segments[1].end_frame - segments[0].start_frame + 1)
        score = sum(_log(s.ascore) for s in segments) / frames
        word = _log(segments[1].ascore) / max(1, segments[1].end_frame - segments[1].start_frame + 1)
        return (words[1], (segments[0].start_frame * FRAME, (segments[1].end_frame + 1) * FRAME), score, word)
