"""The bulk delay estimator and the aligner (voiceguide/listening/delay.py), and the listener's Echo using them.

The room and the guide are test_echo's: an espeak-ng guide (or the kept
command clips), a decaying noise impulse response after a bulk delay,
microphone noise at -70 dBFS. Lags are in samples at 16 kHz: positive, the
microphone hears the reference after it.
"""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide.listening.delay import LEAD, Aligner, DelayEstimator, Estimate
from voiceguide.listening.echo import erle_db

from .test_echo import R, heard, room


def shifted(x: np.ndarray, lag: int) -> np.ndarray:
    """*x* heard *lag* samples later (earlier if negative), the same length."""
    if lag >= 0:
        return np.concatenate([np.zeros(lag, x.dtype), x[: len(x) - lag]])
    return np.concatenate([x[-lag:], np.zeros(-lag, x.dtype)])


def room_with_a_loudspeaker(rt60: float, seed: int = 1) -> np.ndarray:
    """test_echo's diffuse room behind a direct path (a loudspeaker a metre away: the loudest single arrival)."""
    h = room(rt60, 0.0, seed=seed) * 0.2
    h[0] += 1.0
    return h / np.sqrt(np.sum(h ** 2))


def estimates(mic: np.ndarray, reference: np.ndarray, chunk: int = 1600, **kwargs) -> list:
    est = DelayEstimator(**kwargs)
    found = []
    for i in range(0, len(mic), chunk):
        e = est.feed(mic[i:i + chunk], reference[i:i + chunk])
        if e is not None:
            found.append(e)
    return found


@pytest.mark.parametrize("lag_s, rt60", [(0.025, 0.3), (0.12, 0.5), (-0.08, 0.3), (0.4, 0.2)])
def test_a_known_delay_is_found_to_the_millisecond(guide, lag_s, rt60):
    """The reference early (positive) or late (negative) against the echo of a reverberant room."""
    echo = heard(guide, room_with_a_loudspeaker(rt60))
    lag = int(lag_s * R)
    mic = shifted(echo, lag)
    found = estimates(mic, guide)
    assert found and all(e.confident for e in found), found
    for e in found:
        assert abs(e.fine - lag) <= 16, (e, lag)     # 1 ms


def test_in_a_room_without_a_direct_path_the_peak_is_early_enough_for_the_lead(guide):
    """A diffuse room alone (its loudest arrival anywhere in its first milliseconds): the peak found is
    within :data:`LEAD` after the echo begins, so the reference placed LEAD ahead of it still leads the echo."""
    lag = int(0.05 * R)
    for seed in (1, 2, 3):
        found = estimates(shifted(heard(guide, room(0.3, 0.0, seed=seed)), lag), guide)
        assert found, seed     # (believed or not: a diffuse tail has many peaks nearly as high)
        assert all(lag - 16 <= e.fine <= lag + LEAD * R for e in found if e.confident), found


def test_a_jittering_delay_is_found_at_its_middle(guide):
    """The echo's lag wanders by up to +-1.5 ms from block to block (a stamped stream would): one clear peak."""
    rng = np.random.default_rng(4)
    echo = heard(guide, room_with_a_loudspeaker(0.3))
    mic = np.zeros_like(echo)
    centre = int(0.06 * R)
    for i in range(0, len(echo), 1600):
        lag = centre + int(rng.integers(-24, 25))
        mic[i:i + 1600] = shifted(echo, lag)[i:i + 1600]
    found = estimates(mic, guide)
    assert found and all(e.confident for e in found), found
    assert all(abs(e.fine - centre) <= 32 for e in found), found


def test_silence_gives_no_estimate_and_no_echo_gives_no_confidence(guide):
    n = len(guide)
    noise = (np.random.default_rng(1).standard_normal(n) * 1e-3).astype(np.float32)
    assert estimates(noise, np.zeros(n, np.float32)) == []               # the player never spoke
    found = estimates(noise, guide)                                       # headphones: no echo at all
    assert found and not any(e.confident for e in found), found
    silent = estimates(np.zeros(n, np.float32), guide)                    # a muted microphone
    assert not any(e.confident for e in silent), silent


def test_a_person_talking_over_the_echo_does_not_move_the_peak(guide, command):
    """"guide, pause" said again and again over the echo, 6 dB louder than it: the lag is still found."""
    echo = heard(guide, room_with_a_loudspeaker(0.4))
    lag = int(0.09 * R)
    mic = shifted(echo, lag)
    talk = np.zeros_like(mic)
    gain = 2.0 * np.sqrt(np.mean(np.square(mic[np.abs(mic) > 1e-3]))) / np.sqrt(np.mean(np.square(command)))
    for at in range(R, len(mic) - len(command), 2 * len(command)):
        talk[at:at + len(command)] = command * gain
    found = estimates(mic + talk, guide)
    assert found and all(e.confident for e in found), found
    assert all(abs(e.fine - lag) <= 16 for e in found), found


def test_two_equal_echoes_far_apart_are_ambiguous(guide):
    """The guide heard twice as loud from two places 0.2 s apart: two peaks, neither standing out -- not believed."""
    echo = heard(guide, room_with_a_loudspeaker(0.2))
    found = estimates(shifted(echo, 300) + shifted(echo, 300 + R // 5), guide)
    assert found and not any(e.confident for e in found), found


def test_the_aligner_follows_drift_and_a_jump():
    """A stream running 300 ppm fast against the microphone, then jumping 40 ms: estimates as they would come."""
    a = Aligner()
    a.seed(1000.0)
    truth = 1000.0 + 2000.0            # where the echo's reference really is for microphone sample 0

    def true_at(count: float) -> float:
        return truth + count * 1.0003

    moves = []
    for k in range(30):
        a.take(3 * R)
        if k == 20:
            truth += 0.04 * R
        back = 1.5 * R
        here = a.pos - back * (1 + a.drift)            # where the aligner took the window's middle from
        lag = here - true_at(a.count - back)            # how far behind that the echo is
        est = Estimate(int(round(lag)), 10.0, 100.0, True, fine=lag, centre=back)
        moves.append(a.update(est))
    assert a.locked and a.drift == pytest.approx(0.0003, abs=2e-5)
    assert abs(a.pos - (true_at(a.count) + LEAD * R)) < 3
    assert moves[0] != 0 and moves[20] != 0 and moves[-1] == 0


def test_the_listeners_echo_cancels_behind_stamps_that_are_110_ms_wrong(guide):
    """The listener's Echo (stamps, estimator, aligner, canceller) on a reference whose stamps put it 110 ms
    late, microphone stamps jittering by up to a fragment (0.17 s): the echo is 15 dB down after 12 s."""
    from voiceguide.listening.listener_process import Echo

    reference = np.concatenate([guide, guide])
    mic = heard(reference, room(0.3, 0.03))
    echo = Echo(None)
    heard_from = 1000.0                           # the clock moment the reference's first sample is heard
    rng = np.random.default_rng(7)
    out = []
    for i in range(0, len(mic), 1600):
        sent = slice(i + 3200, i + 4800)          # the reference arrives 0.2 s before it is heard
        echo.receiver.put(int(round((heard_from + 0.11) * R)) + sent.start, reference[sent], sent.start)
        captured_by = heard_from + (i + 1600) / R + rng.uniform(0.0, 0.17)
        out.append(echo.cancel(mic[i:i + 1600], captured_by))
    result = np.concatenate(out)[int(round(echo.delay * R)):]
    settled = slice(12 * R, len(result))
    assert echo.aligner.locked
    assert erle_db(mic[settled], result[settled]) >= 15.0
    assert echo.aligner.moves <= 3
