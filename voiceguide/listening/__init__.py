"""Spoken commands: "guide, pause" heard through a microphone, offline (see docs/design-notes.md).

* :mod:`.commands` -- the phrases and the decision rules (pure, no recogniser);
* :mod:`.recognizer` -- pocketsphinx's two stages over 16 kHz audio (the one
  module that imports pocketsphinx);
* :mod:`.listener_process` -- the listener process: the microphone into the recogniser,
  JSON lines out;
* :mod:`.listener` -- the parent's side: start the process, read what it hears.

Nothing here is imported unless voice commands are on (or ``voiceguide listen`` runs).
"""
