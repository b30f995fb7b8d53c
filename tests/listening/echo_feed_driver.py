"""Driver of test_echo_feed's real-path test: run with PULSE_SERVER set to a private null-sink daemon.

Plays ~10 s of espeak-ng speech through the live session's Overlay (the
real LiveOutput) while (1) the listener process, fed the reference, hears
the sink's monitor as its microphone and reports what its echo canceller
took out, and (2) this process records the same monitor with the same
Anchor and a second ReferenceSender/Receiver pair, and cross-correlates the
microphone with the reference it aligned to it: the feed's alignment error.
Prints one JSON line.
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


def main() -> int:
    import soundfile as sf

    from voiceguide.audio.dsp import resample
    from voiceguide.listening.listener import Listener
    from voiceguide.listening.reference import RATE, Anchor, ReferenceReceiver, ReferenceSender, clock_sample
    from voiceguide.player.live_session import open_output
    from voiceguide.sinks.microphone import Microphone

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "guide.wav")
        subprocess.run(["espeak-ng", "-w", wav, TEXT], check=True, capture_output=True)
        x, r = sf.read(wav, dtype="float32")
    speech = np.asarray(resample(x, r, 48000), dtype=np.float32) * 0.5
    ready = threading.Event()
    listener = Listener(None, reference=True, on_ready=lambda name: ready.set(),
                        on_gone=lambda line: print(line, file=sys.stderr))
    if not ready.wait(30):
        print("the listener did not start", file=sys.stderr)
        return 1
    output = open_output(48000, None, None)
    read, write = os.pipe()
    own = ReferenceSender(write, 48000)
    receiver = ReferenceReceiver(os.fdopen(read, "rb"))
    main_sender = ReferenceSender(listener.reference_fd, 48000)
    output.reference = Tee(main_sender, own)
    mic_blocks, ref_blocks = [], []
    info = {}
    stop = threading.Event()

    def record():
        anchor = Anchor(RATE)
        count = 0
        with Microphone(None) as mic:
            info["latency_in"] = mic.latency
            while not stop.is_set():
                block = mic.read()
                now = time.monotonic()
                anchor.update(count, now - mic.latency - len(block) / RATE)
                mic_blocks.append(block)
                ref_blocks.append((clock_sample(anchor.time(count)), len(block)))
                count += len(block)

    recorder = threading.Thread(target=record, daemon=True)
    recorder.start()
    output.start()
    silence = np.zeros(4096, np.float32)
    for _ in range(6):
        output.write(silence)
    for i in range(0, len(speech), 4096):
        output.write(speech[i:i + 4096])
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
    ref = np.concatenate([receiver.take(at, n) for at, n in ref_blocks])
    # positive: the microphone hears the reference later than its stamps say
    n = len(mic)
    c = np.fft.irfft(np.fft.rfft(ref, 2 * n).conj() * np.fft.rfft(mic, 2 * n), 2 * n)
    most = 8000
    c = np.concatenate([c[-most:], c[: most + 1]])
    lag = int(np.argmax(np.abs(c))) - most
    halves = []
    for part in (slice(0, n // 2), slice(n // 2, n)):
        a, b = ref[part], mic[part]
        m = len(a)
        cc = np.fft.irfft(np.fft.rfft(a, 2 * m).conj() * np.fft.rfft(b, 2 * m), 2 * m)
        cc = np.concatenate([cc[-most:], cc[: most + 1]])
        halves.append(int(np.argmax(np.abs(cc))) - most)
    info["halves_samples"] = halves
    print(json.dumps({**info, "alignment_error_ms": round(lag / RATE * 1000, 2), "lag_samples": lag,
                      "peak_corr": float(np.max(np.abs(c)) / (np.linalg.norm(ref) * np.linalg.norm(mic) + 1e-12)),
                      "cancelled": listener.cancelled, "latency_out": output.latency,
                      "sent": main_sender.sent, "dropped": main_sender.dropped}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
