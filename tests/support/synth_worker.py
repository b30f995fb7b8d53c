"""A misbehaving speech worker for tests (run by path through ``worker_argv``).

It is the real worker (real engine, real protocol) except on chosen texts:

    --hang-on TEXT          sleep forever when asked to say TEXT
    --die-on TEXT           exit abruptly when asked to say TEXT
    --die-once-on TEXT FILE exit abruptly on TEXT unless FILE exists (creates it)
    --no-engine             behave as if no engine (pyttsx3, piper) were installed

Every other argument (``--engine``, ``--model``, ``--threads``) is the real
worker's; like the real worker it ends with its player.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from voiceguide.synth import worker


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hang-on", default=None)
    ap.add_argument("--die-on", default=None)
    ap.add_argument("--die-once-on", nargs=2, default=None)
    ap.add_argument("--no-engine", action="store_true")
    args, rest = ap.parse_known_args()
    wargs = worker.parse_args(rest)

    out = worker.prepare(wargs)
    if args.no_engine:
        sys.modules["pyttsx3"] = None  # "import pyttsx3" now raises ImportError
        sys.modules["piper"] = None
    engine = worker.start(out, wargs.engine, wargs.model, wargs.threads, wargs.optimised)
    if engine is None:
        return 3

    def handler(request: dict) -> dict:
        text = request.get("text")
        if args.hang_on is not None and text == args.hang_on:
            while True:
                time.sleep(60)
        if args.die_on is not None and text == args.die_on:
            os._exit(7)
        if args.die_once_on is not None and text == args.die_once_on[0]:
            if not os.path.exists(args.die_once_on[1]):
                open(args.die_once_on[1], "w").close()
                os._exit(7)
        return worker.handle(engine, request)

    worker.serve(sys.stdin, out, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
