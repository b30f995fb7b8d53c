"""Driver of test_echo_feed's real-path test: run with PULSE_SERVER set to a private null-sink daemon.

Plays ~25 s of espeak-ng speech through the live session's Overlay (the
real LiveOutput) while (1) the listener process, fed the reference, hears
the sink's monitor as its microphone and reports what its echo canceller
took out, and (2) this process records the same monitor through the
listener's own ``Echo`` (a second ReferenceSender/Receiver pair: stamps,
delay estimator, aligner, canceller -- the same code), and measures, from
the same microphone, where the reference ended up against its echo (the
alignment error: the lag found by plain cross-correlation over the last
seconds minus the lead the aligner aims for), what the stamps alone said
(the guess before any estimate), the ERLE of that Echo over the last 8 s of
speech, and the CPU it took. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

TEXT = ("Let your attention settle on the breath. Notice the air moving in, and the air moving out. "
        "If your mind wanders, that is fine. Gently bring it back to the breath. Now bring your "
        "attention to your feet, and notice any sensations there.")


class Tee:
    def __init__(self, *senders):
        self.senders = senders

    def push(self, block, heard_at):
        for s in self.senders:
            s.push(block, heard_at)


def lag_of(ref: np.ndarray, mic: np.ndarray, most: int) -> int:
    """Samples the microphone hears *ref* after it (plain cross-correlation, |peak|)."""
    n = len(mic)
    c = np.fft.irfft(np.fft.rfft(ref, 2 * n).conj() * np.fft.rfft(mic, 2 * n), 2 * n)
    c = np.concatenate([c[-most:], c[: most + 1]])
    return int(np.argmax(np.abs(c))) - most


def main() -> int:
    import soundfile as sf

    from voiceguide.audio.dsp import resample
    from voiceguide.listening.delay import LEAD
    from voiceguide.listening.echo import erle_db
    from voiceguide.listening.listener import Listener
    from voiceguide.listening.listener_process import Echo
    from voiceguide.listening.reference import RATE, ReferenceSender
    from voiceguide.player.live_session import open_output
    from voiceguide.sinks.microphone import Microphone

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "guide.wav")
        subprocess.run(["espeak-ng", "-w", wav, TEXT], check=True, capture_output=True)
        x, r = sf.read(wav, dtype="float32")
    speech = np.asarray(resample(x, r, 48000), dtype=np.float32) * 0.5
    speech = np.concatenate([speech, speech[: int(15 * 48000)]])        # ~25 s: time to converge, then measure
    ready = threading.Event()
    listener = Listener(None, reference=True, on_ready=lambda name: ready.set(),
                        on_gone=lambda line: print(line, file=sys.stderr))
    if not ready.wait(30):
        print("the listener did not start", file=sys.stderr)
        return 1
    output = open_output(48000, None, None)
    read, write = os.pipe()
    own = ReferenceSender(write, 48000)
    echo = Echo(os.fdopen(read, "rb"))
    main_sender = ReferenceSender(listener.reference_fd, 48000)
    output.reference = Tee(main_sender, own)
    mic_blocks, out_blocks, taken = [], [], []
    info: dict = {}
    stop = threading.Event()

    def record():
        cpu = 0.0
        with Microphone(None) as mic:
            info["latency_in"] = mic.latency
            while not stop.is_set():
                block = mic.read()
                now = time.monotonic()
                before = time.thread_time()
                out = echo.cancel(block, now - mic.latency)
                cpu += time.thread_time() - before
                mic_blocks.append(block)
                out_blocks.append(out)
                taken.append((echo.aligner.count, echo.aligner.pos))
        info["cpu_seconds"] = round(cpu, 3)

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    output.start()
    silence = np.zeros(4096, np.float32)
    for _ in range(6):
        output.write(silence)
    started = time.monotonic()
    for i in range(0, len(speech), 4096):
        output.write(speech[i:i + 4096])
    spoke = time.monotonic() - started
    for _ in range(12):
        output.write(silence)
    time.sleep(0.6)
    stop.set()
    recorder.join(3)
    output.reference = None
    main_sender.close()
    own.close()
    output.close()
    time.sleep(0.2)
    listener.close()
    mic = np.concatenate(mic_blocks)
    out = np.concatenate(out_blocks)[int(round(echo.delay * RATE)):]
    mic_out = mic[: len(out)]
    n = len(mic)
    # Where the reference stood at the end (the aligner's last position, counted back along the drift):
    # the lag of the microphone behind it over the last 8 s of speech, against the lead aimed for.
    end = n - int((0.6 + 12 * 4096 / 48000) * RATE)
    span = slice(end - 8 * RATE, end)
    count, pos = taken[-1]
    step = 1.0 + echo.aligner.drift
    reference = echo.receiver.take_resampled(pos - (count - span.start) * step, span.stop - span.start, step)
    lag = lag_of(reference, mic[span], 8000)
    lead = int(round(LEAD * RATE))
    last_estimate = echo.estimator.last
    log = [(round(c / RATE, 1), lag, sure, move, round(d * 1e6, 1)) for c, lag, sure, move, d in echo.aligner.log]
    first_move = next((move for _, _, _, move, _ in log if move), 0)
    print(json.dumps({
        **info, "alignment_error_ms": round((lead - lag) / RATE * 1000, 2), "lag_samples": lag,
        "lead_samples": lead, "moves": echo.aligner.moves, "drift_ppm": round(echo.aligner.drift * 1e6, 1),
        "first_move_ms": round(first_move / RATE * 1000, 1), "estimates_log": log,
        "estimates": echo.estimator.estimates,
        "last_estimate": None if last_estimate is None else last_estimate.__dict__,
        "erle_db": round(erle_db(mic_out[span], out[span]), 1), "spoke_s": round(spoke, 1),
        "cancelled": listener.cancelled, "latency_out": output.latency,
        "sent": main_sender.sent, "dropped": main_sender.dropped}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
