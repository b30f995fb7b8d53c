"""ALSA's and PortAudio's own lines are dropped around a device open; every other line still arrives (issue 17)."""

from __future__ import annotations

import os
import sys
import threading

from voiceguide.sinks.quiet import c_noise_filtered, is_noise


def test_noise_is_dropped_and_our_lines_kept_in_order(capfd):
    with c_noise_filtered():
        os.write(2, b"ALSA lib pcm_file.c:935:(snd_pcm_file_open) open x for reading failed\n")
        os.write(2, b"2026-01-01 07:30:00 0:05 Say a word.\n")
        os.write(2, b"Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736\n")
        os.write(2, b"a line of ours\n")
        print("a line from Python", file=sys.stderr)  # pytest's own sys.stderr here: only that it arrives
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err.replace("a line from Python\n", "") == "2026-01-01 07:30:00 0:05 Say a word.\na line of ours\nafter\n"
    assert "a line from Python\n" in err


def test_another_thread_printing_during_the_window_loses_nothing(capfd):
    opened = threading.Event()
    printed = threading.Event()

    def other() -> None:
        opened.wait(5)
        for i in range(200):
            os.write(2, f"log line {i}\n".encode())
        printed.set()

    thread = threading.Thread(target=other)
    thread.start()
    with c_noise_filtered():
        opened.set()
        printed.wait(5)
    thread.join()
    err = capfd.readouterr().err
    assert err.splitlines() == [f"log line {i}" for i in range(200)]


def test_an_exception_inside_still_restores_stderr(capfd):
    try:
        with c_noise_filtered():
            raise RuntimeError("PortAudio failed")
    except RuntimeError:
        pass
    os.write(2, b"restored\n")
    assert capfd.readouterr().err == "restored\n"


def test_what_counts_as_noise():
    assert is_noise(b"ALSA lib confmisc.c:855:(parse_card) cannot find card '0'\n")
    assert is_noise(b"Expression 'alsa_snd_pcm_hw_params_set_period_size_near' failed in 'src/x.c'\n")
    assert not is_noise(b"voiceguide: no input device\n")
    assert not is_noise(b"2026-01-01 07:30:00 ALSA lib in a log line of ours\n")
