"""Standard output that says so when it cannot be written: ``voiceguide list > /dev/full``.

A write to a full disk, a full device or a broken terminal raises a bare
``OSError`` without a file name, indistinguishable from any other at the
error boundary. :func:`guarded` puts a thin wrapper around ``sys.stdout``
for the length of a command, so such an error becomes
:class:`~voiceguide.errors.OutputStreamError` ("cannot write to standard
output: ...") where it happens. A closed pipe stays a
:class:`BrokenPipeError`: the boundary ends quietly on it
(``voiceguide preview x | head``).

Traps:

* Click's ``echo`` flushes after every message, so its errors surface in
  the command; a bare ``print`` to a file is block-buffered and would fail
  only in the interpreter's final flush, after the boundary, as "Exception
  ignored". :func:`finish` flushes while the guard is still in place.
* Click asks ``sys.stdout`` for ``encoding``, ``errors``, ``buffer``,
  ``isatty`` and more: the wrapper hands every other attribute to the real
  stream, so it behaves as the stream it wraps, on a terminal and in
  Click's test runner alike.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

from voiceguide.errors import OutputStreamError


def _stream_error(exc: OSError) -> BaseException:
    if isinstance(exc, BrokenPipeError):
        return exc
    import errno

    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return OutputStreamError(f"cannot write to standard output: {why}; the file or device it goes to "
                                 f"is full: free some space, or send the output somewhere else")
    return OutputStreamError(f"cannot write to standard output: {why}; send the output somewhere else")


class GuardedStdout:
    """``sys.stdout`` whose write errors are :class:`OutputStreamError` (a closed pipe excepted)."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _stream_error(exc) from None

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _stream_error(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def guarded() -> Iterator[None]:
    """Guard ``sys.stdout`` inside the block (a missing stdout, fd 1 closed, stays missing)."""
    real = sys.stdout
    if real is None or isinstance(real, GuardedStdout):
        yield
        return
    sys.stdout = GuardedStdout(real)
    try:
        yield
    finally:
        if isinstance(sys.stdout, GuardedStdout) and sys.stdout._stream is real:
            sys.stdout = real


def finish() -> None:
    """Flush standard output now, while its errors can still be reported."""
    if sys.stdout is not None:
        sys.stdout.flush()
