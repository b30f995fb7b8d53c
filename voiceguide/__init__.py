"""voiceguide: a calm, voice-guided exercise player.

The package is a library first; :mod:`voiceguide.cli` is a thin Click layer
over it. Importing :mod:`voiceguide` is cheap on purpose: the audio stack
(numpy, sounddevice, pyttsx3) is imported only by the modules that need it,
so ``voiceguide list`` and ``voiceguide validate`` answer at once.
"""

__version__ = "0.1.0"
