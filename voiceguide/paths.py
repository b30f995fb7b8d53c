"""Where voiceguide keeps files on this machine: the one module that asks platformdirs.

Issue 8 wants every platformdirs call here; for now this holds what the
practice log needs (the other modules still ask platformdirs themselves
and may move their paths here).

Trap: platformdirs reads ``XDG_*`` variables when called, not when
imported, so these are functions: tests point ``XDG_DATA_HOME`` at a
temporary folder and every call sees it.
"""

from __future__ import annotations

from pathlib import Path

APP = "voiceguide"


def data_dir() -> Path:
    """The user's own data (the practice log, spoken cues): ``~/.local/share/voiceguide`` on Linux.

    Not created here; whoever writes into it creates it with private
    permissions (see :func:`voiceguide.practice.store.private_dir`).
    """
    from platformdirs import user_data_path

    return user_data_path(APP)
