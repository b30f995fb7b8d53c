"""Where voiceguide keeps files on this machine: the one module that asks platformdirs.

Every folder the program reads or writes outside the package is named
here, so a packager, a test or a curious user finds them all in one place
(Linux paths shown; platformdirs gives each system's own):

=================  =============================================  ==========================
what               where (Linux)                                   who uses it
=================  =============================================  ==========================
config file        ``~/.config/voiceguide/config.toml``           :mod:`voiceguide.config`
your scripts       ``~/.config/voiceguide/scripts/``              the catalog, ``new``
speech cache       ``~/.cache/voiceguide/speech/``                the synthesizer
loop cache         ``~/.cache/voiceguide/loops/``                 ambient loops, bells
data               ``~/.local/share/voiceguide/``                 the practice log
voices             ``~/.local/share/voiceguide/voices/``          downloaded Piper voices
station state      ``~/.local/state/voiceguide/``                 the station's address, state
=================  =============================================  ==========================

Trap: platformdirs reads ``XDG_*`` variables when called, not when
imported, so these are functions: tests point ``XDG_CONFIG_HOME`` (and the
others) at a temporary folder and every call sees it. Nothing here creates
a folder: whoever writes into one creates it, with the permissions it needs.
"""

from __future__ import annotations

from pathlib import Path

APP = "voiceguide"


def config_dir() -> Path:
    """The user's settings and scripts: ``~/.config/voiceguide`` on Linux."""
    from platformdirs import user_config_path

    return user_config_path(APP)


def config_file() -> Path:
    """The settings file (TOML), see :mod:`voiceguide.config`."""
    return config_dir() / "config.toml"


def scripts_dir() -> Path:
    """The user's own exercises: ``~/.config/voiceguide/scripts`` on Linux."""
    return config_dir() / "scripts"


def cache_dir() -> Path:
    """Everything that can be rebuilt: ``~/.cache/voiceguide`` on Linux."""
    from platformdirs import user_cache_path

    return user_cache_path(APP)


def speech_cache_dir() -> Path:
    """Synthesised speech clips, by key (see :mod:`voiceguide.synth.cache`)."""
    return cache_dir() / "speech"


def loop_cache_dir() -> Path:
    """Ambient loops, bells and pacer cycles (see :mod:`voiceguide.audio.loopcache`)."""
    return cache_dir() / "loops"


def data_dir() -> Path:
    """The user's own data (the practice log, spoken cues): ``~/.local/share/voiceguide`` on Linux.

    Not created here; whoever writes into it creates it with private
    permissions (see :func:`voiceguide.practice.store.private_dir`).
    """
    from platformdirs import user_data_path

    return user_data_path(APP)


def state_dir() -> Path:
    """What a running station leaves for others to find (its address, its state): ``~/.local/state/voiceguide``."""
    from platformdirs import user_state_path

    return user_state_path(APP)


def voices_dir() -> Path:
    """Downloaded speech voices (Piper models): ``~/.local/share/voiceguide/voices`` on Linux."""
    return data_dir() / "voices"
