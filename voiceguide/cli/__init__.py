"""The command line: a thin Click layer over the library.

Each command resolves its arguments, calls the library and prints the
result. Errors are reported in one place, :class:`~voiceguide.cli.boundary.Boundary`
(the group every command belongs to): a :class:`~voiceguide.errors.VoiceguideError`
becomes one line per problem on stderr and its exit code, and only
``--debug`` shows a traceback. A command raises; it never prints its own
errors or calls ``sys.exit``.

The commands live in small modules by area -- :mod:`.exercises` (list,
preview), :mod:`.authoring` (validate, schema, new), :mod:`.sound` (render,
play), :mod:`.info` (about, config, devices), :mod:`.speech` (voices, prepare), :mod:`.speech_cache` (cache),
:mod:`.station` (station, ctl, schedule), :mod:`.practice_log` (log, cue, cues) --
and are added to :data:`cli` below. Imports of the audio stack happen inside
the commands that need it, so ``list``, ``validate`` and ``about`` start fast.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from voiceguide import __version__
from voiceguide.cli import authoring, exercises, info, listen, practice_log, sound, speech, speech_cache, station
from voiceguide.cli.boundary import Boundary

CONTEXT = dict(help_option_names=["-h", "--help"], max_content_width=100)


@click.group(cls=Boundary, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="voiceguide")
@click.option("--debug", is_flag=True, help="Show the traceback of any error.")
@click.pass_context
def cli(ctx, debug):
    """A calm, voice-guided exercise player.

    Try `voiceguide list`, then `voiceguide play body-scan`. You may stop any
    session at any time with Ctrl-C.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _command in (exercises.list_cmd, exercises.preview, authoring.validate, authoring.schema,
                 authoring.new, sound.render, sound.play, info.config, info.about, info.devices,
                 speech.voices, speech.prepare, station.station, station.ctl, station.schedule, practice_log.log_cmd,
                 practice_log.cue_cmd, practice_log.cues_cmd, speech_cache.cache_cmd, listen.listen):
    cli.add_command(_command)


def main(argv: Optional[list] = None) -> None:
    """Console-script entry point.

    A thread left blocked in C after a stop (a hung sound server) must not
    hold the process at exit: :func:`voiceguide.player.leftovers.exit_if_left`
    ends it at once in that case.
    """
    _standard_descriptors()
    try:
        cli.main(args=argv, prog_name="voiceguide", standalone_mode=True)
    except SystemExit as done:
        leftovers = sys.modules.get("voiceguide.player.leftovers")
        if leftovers is not None:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            leftovers.exit_if_left(code)
        raise


def _standard_descriptors() -> None:
    """Open /dev/null on any of descriptors 0, 1 and 2 that was closed (``voiceguide render ... 2>&-``).

    Trap: the next file opened takes the lowest free number. With 2 closed,
    that may be the rendered file, the practice log or a cache entry, and
    whatever a C library (ALSA, PortAudio, espeak-ng) or a worker process
    writes to "stderr" would land inside it. Python itself leaves
    ``sys.stderr`` as None then and writes nothing; this keeps the numbers
    taken so no one else can, and gives Python a stream on each again
    (``sys.stdin`` None would make ``sys.stdin.isatty()`` a crash in
    ``voiceguide cue <&-``): reading gets an end of file, writing goes nowhere.
    """
    import os

    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False, encoding="utf-8", errors="replace"))


if __name__ == "__main__":  # pragma: no cover
    main()
