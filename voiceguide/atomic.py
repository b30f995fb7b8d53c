"""Atomic file writes: a reader sees the old file or the whole new one, never half.

Write into a temporary file in the target's own folder (so the final
``os.replace`` is a rename on one file system), then replace the target; on
any failure the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator, Optional


@contextmanager
def atomic_file(path: Path, mode: str = "wb", temp: Optional[Path] = None, **open_args) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces *path* when the block ends cleanly.

    *temp* names the temporary file (it must be in *path*'s folder); by
    default a fresh hidden name is made there.
    """
    path = Path(path)
    if temp is None:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
        handle = os.fdopen(fd, mode, **open_args)
        temp = Path(name)
    else:
        handle = open(temp, mode, **open_args)
    try:
        with handle:
            yield handle
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
