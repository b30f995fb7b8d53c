"""``voiceguide listen``: the spoken-command recogniser over a file, or a microphone test."""

from __future__ import annotations

import json
from typing import Any, List

import click


@click.command("listen")
@click.option("--file", "path", type=click.Path(dir_okay=False), metavar="F",
              help="An audio file (WAV, FLAC, OGG) to run the recogniser over.")
@click.option("--json", "as_json", is_flag=True, help='One JSON object a line: {"time": seconds, "command": "pause"}.')
@click.option("--mic", metavar="NAME|INDEX", help="The microphone to test (default: the default input).")
def listen(path, as_json, mic):
    """Spoken commands: which "guide, <command>" phrases are heard.

    With --file, prints each command heard in the file with its time (the
    end of the phrase). Without it, listens on the microphone and prints its
    level and each command it hears, until Ctrl-C: place the microphone and
    try "guide, pause" before a session.
    """
    if path:
        for time_s, command in heard_in_file(path):
            if as_json:
                click.echo(json.dumps({"time": round(time_s, 2), "command": command}))
            else:
                click.echo(f"{_clock(time_s)}  {command}")
        return
    _microphone_test(mic, as_json)


def heard_in_file(path: str) -> List[tuple]:
    """(seconds, command) of each command the recogniser acts on in *path* (the same rules as a session)."""
    import soundfile

    from voiceguide.audio.dsp import resample
    from voiceguide.errors import UsageError
    from voiceguide.listening.commands import Debounce, decide
    from voiceguide.readfile import check_regular

    check_regular(path)  # a missing file, a folder or a FIFO: its own line, before any decoding
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise UsageError(f"{path}: not an audio file voiceguide can read ({exc})") from None
    try:
        from voiceguide.listening.recognizer import RATE, Recognizer

        recognizer = Recognizer()
    except ImportError:
        raise UsageError("pocketsphinx is not installed (pip install 'voiceguide[voice]')") from None
    mono = resample(samples.mean(axis=1), rate, RATE)
    debounce = Debounce()
    found = []
    step = RATE // 10
    candidates = []
    for at in range(0, len(mono), step):
        candidates += recognizer.feed(mono[at:at + step])
    candidates += recognizer.flush()
    for candidate in candidates:
        if decide(candidate) and debounce(candidate):
            found.append((candidate.end, candidate.command))
    return found


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}.{int((seconds - whole) * 10)}"


def _microphone_test(mic: Any, as_json: bool) -> None:
    import threading

    from voiceguide.errors import DeviceError
    from voiceguide.listening.commands import Debounce, decide
    from voiceguide.listening.listener import Listener

    gone: List[str] = []
    done = threading.Event()
    debounce = Debounce()

    def level(db: float, floor: float) -> None:
        if as_json:
            click.echo(json.dumps({"level": db, "floor": floor}))
        else:
            bar = "#" * max(0, min(40, int((db + 70) / 1.5)))
            click.echo(f"level {db:6.1f} dBFS  room {floor:6.1f} dBFS  {bar}")

    def heard(candidate, end_at) -> None:
        acted = decide(candidate) and debounce(candidate)
        if as_json:
            click.echo(json.dumps({"command": candidate.command, "acted": acted,
                                   "features": candidate.as_json()["features"]}))
        else:
            click.echo(f"heard \"guide, {candidate.command}\"" + ("" if acted else " (too unsure to act on)"))

    def ready(name: str) -> None:
        if not as_json:
            click.echo(f"listening on {name}; say \"guide, pause\" (Ctrl-C ends)")

    def lost(line: str) -> None:
        gone.append(line.replace("; going on without voice commands", ""))
        done.set()

    listener = Listener(mic, on_heard=heard, on_level=level, on_gone=lost, on_ready=ready)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    if gone:
        raise DeviceError(gone[0])
