"""The listener process: the microphone into the recogniser, one JSON line out per thing it has to say.

Started by :class:`voiceguide.listening.listener.Listener` as
``python -c BOOT '{"mic": ...}'`` (like the speech workers), so pocketsphinx
and the input stream live in a process of their own: the player's process
never imports pocketsphinx, and a recogniser that falls behind or crashes
never touches the session's sound.

Lines on stdout (JSON, one object each):

* ``{"ready": "<device name>"}`` once the microphone is open;
* ``{"level": dBFS, "floor": dBFS}`` twice a second (the microphone test);
* ``{"heard": {...candidate...}, "end_at": t}`` for each phrase decoded --
  every candidate, accepted or not: the rules are the parent's
  (:mod:`voiceguide.listening.commands`), which knows what it is playing.
  ``end_at`` is the ``time.monotonic()`` moment the phrase ended (the clock
  is the machine's, shared by both processes);
* ``{"error": "one line"}`` and the process ends: no microphone, or it went.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, TextIO

NO_RECOGNISER = "pocketsphinx is not installed (pip install 'voiceguide[voice]')"
#: Seconds between two ``level`` lines.
LEVEL_EVERY = 0.5


def say(out: TextIO, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def main(argv: Any = None) -> int:
    from voiceguide.synth.lifetime import die_with_parent

    die_with_parent()
    args: Dict[str, Any] = json.loads((argv or sys.argv[1:] or ["{}"])[0])
    out = sys.stdout
    try:
        return listen(args.get("mic"), out)
    except KeyboardInterrupt:
        return 0


def listen(mic: Any, out: TextIO) -> int:
    from voiceguide.errors import DeviceError
    from voiceguide.listening.recognizer import Recognizer
    from voiceguide.sinks.microphone import Microphone, level_db

    try:
        try:
            recognizer = Recognizer()
        except ImportError:
            say(out, error=NO_RECOGNISER)
            return 1
        with Microphone(mic) as microphone:
            say(out, ready=microphone.name)
            next_level = time.monotonic() + LEVEL_EVERY
            loudest = -120.0
            while True:
                block = microphone.read()
                now = time.monotonic()
                loudest = max(loudest, level_db(block))
                for candidate in recognizer.feed(block):
                    behind = recognizer.position - candidate.end  # seconds of stream since the phrase ended
                    say(out, heard=candidate.as_json(), end_at=now - microphone.latency - behind)
                if now >= next_level:
                    say(out, level=round(loudest, 1), floor=round(recognizer.noise_floor(), 1))
                    loudest, next_level = -120.0, now + LEVEL_EVERY
    except DeviceError as exc:
        say(out, error=str(exc))
        return 1
    except (BrokenPipeError, OSError) as exc:  # the parent has gone, or the pipe with it
        if isinstance(exc, BrokenPipeError):
            return 0
        say(out, error=f"the microphone failed ({exc})")
        return 1
    return 0
