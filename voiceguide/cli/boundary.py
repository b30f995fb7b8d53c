"""The one error boundary of the command line: a :class:`click.Group` that reports errors.

Every command runs inside :meth:`Boundary.invoke`, so no command needs a
decorator to turn errors into messages, and a new command cannot forget one:

* a :class:`~voiceguide.errors.VoiceguideError` becomes its lines on stderr
  (``voiceguide: ...``; a script's ``file:line:col: ...`` lines as they are,
  and a session's stop, :class:`~voiceguide.errors.Interrupted`, in the
  same words as ``q``'s) and its own exit code;
* Ctrl-C that reaches here becomes ``voiceguide: stopped`` and exit 130;
* a closed pipe on stdout (``voiceguide preview x | head``) ends quietly;
* an operating-system error that escaped its command (a folder that cannot
  be written, a full disk) names the path and what to do
  (:func:`~voiceguide.errors.file_error`), exit 1, and is not called a bug;
  commands raise :class:`~voiceguide.errors.FileAccessError` themselves
  where they know which path the person gave;
* standard output that cannot be written (``> /dev/full``) says so, exit 1
  (:mod:`voiceguide.cli.stdout` guards it for the length of a command);
* anything else is a bug: one line that says so, exit 1.

``--debug`` prints the traceback first, for every kind of error (Click's
own usage errors excepted: they are about the command line, not the code).

Trap: Click turns ``EOFError`` and ``KeyboardInterrupt`` into a bare
"Aborted!" in its ``main``; catching them here, inside ``invoke``, is what
lets them be reported like everything else.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from typing import Optional, TextIO

import click

from voiceguide.cli import stdout
from voiceguide.errors import (EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, Interrupted, ScriptError,
                               VoiceguideError, file_error)
from voiceguide.visible import visible

#: Click's own control flow and usage errors: Click reports them (exit 2 for usage).
_CLICK_OWN = (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit)


def report(exc: BaseException, debug: bool = False, err: Optional[TextIO] = None) -> int:
    """Write *exc* for a person on *err* (stderr); return the exit code to use."""
    err = err or sys.stderr
    if debug and not isinstance(exc, KeyboardInterrupt):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
    if isinstance(exc, VoiceguideError):
        # A script's lines carry their own file:line:col; a stop is not an error, and Ctrl-C
        # ends a session with the same calm words as `q` ("stopped; take your time").
        prefix = "" if isinstance(exc, (ScriptError, Interrupted)) else "voiceguide: "
        for line in exc.lines():  # a line quotes ids and paths: their control characters are shown, not run
            click.echo(prefix + visible(line), err=True)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        click.echo("voiceguide: stopped", err=True)
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        _quiet_stdout()
        return EXIT_OK
    if isinstance(exc, OSError):
        click.echo(f"voiceguide: {visible(os_error_line(exc))}", err=True)
        return EXIT_RUNTIME
    click.echo(f"voiceguide: internal error ({type(exc).__name__}: {visible(exc)}); "
               f"run again with --debug for the details, and please report it", err=True)
    return EXIT_RUNTIME


def os_error_line(exc: OSError) -> str:
    """One line for an operating-system error that no command caught: which path, what to do."""
    if exc.filename is not None:
        return str(file_error(exc.filename, exc, "use it", elsewhere=""))
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{what}; free some space, or write somewhere else"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{what}; check the permissions of the files and folders involved"
    return f"{what}; run again with --debug to see which file"


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class Boundary(click.Group):
    """A command group whose every command's errors become messages and exit codes.

    The group must have a ``--debug`` flag (read from the group's own
    parameters, so it works before any command runs).
    """

    def make_context(self, info_name, args, parent=None, **extra):
        """The group's own options run here (``--help``, ``--version``): a closed pipe ends quietly too.

        Trap: Click's ``main`` turns a closed pipe here into exit status 1;
        ``voiceguide --help | head -1`` is a normal end, so it is 0 here.
        """
        try:
            with stdout.guarded():
                return super().make_context(info_name, args, parent=parent, **extra)
        except BrokenPipeError:
            _quiet_stdout()
            raise click.exceptions.Exit(EXIT_OK) from None
        except VoiceguideError as exc:  # --help into a full disk
            raise click.exceptions.Exit(report(exc, debug="--debug" in args)) from None

    def invoke(self, ctx: click.Context):
        try:
            with stdout.guarded():
                result = super().invoke(ctx)
                stdout.finish()  # a buffered print fails here, not after the boundary
                return result
        except _CLICK_OWN:
            raise
        except BaseException as exc:  # noqa: B902 -- the boundary: everything becomes a message
            code = report(exc, debug=bool(ctx.params.get("debug")))
            raise click.exceptions.Exit(code) from None
