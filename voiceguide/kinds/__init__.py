"""Step kinds: one module per kind (say, pause, bell, ...) and the registry every stage asks.

Each module here says, in one place, how its kind is read, placed on the
timeline, sounded, shown and advised on (:class:`Kind`, in :mod:`.base`);
importing this package registers the built-in kinds in the order errors and
docs list them. A new kind is one module that subclasses :class:`Kind` and
calls :func:`register` (docs/design-notes.md, "Adding a step kind").

Layer: beside ``script`` (the loader reads its grammar rows from here, and
the kinds build the script's model). So nothing here imports a later stage:
the timeline, the mixer and the status line call the hooks and hand in what
they need (:class:`Placing`, :class:`Mixing`), and numpy is imported only
inside a sound hook, never when ``list`` or ``validate`` load a script.
"""

from voiceguide.kinds.base import (Kind, Mixing, Placing, Sounding, Spoken, Timed, find, get, kinds, names, of,
                                   played, register, unregister, written)

# Importing a kind's module registers it; this order is the order errors and docs list them.
from voiceguide.kinds import say, pause, bell, section, repeat, count  # noqa: E402,F401,I001
from voiceguide.kinds import breathe, walk, record, music  # noqa: E402,F401,I001

__all__ = ["Kind", "Mixing", "Placing", "Sounding", "Spoken", "Timed", "find", "get", "kinds", "names", "of", "played",
           "register", "unregister", "written"]
