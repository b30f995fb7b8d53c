"""Where mixed blocks go: a file (:mod:`.file`), the live device (:mod:`.live`), and captions (:mod:`.captions`).

Import the submodule you need: :mod:`.live` imports sounddevice (PortAudio),
which a ``render`` never needs.
"""

__all__ = ["captions", "file", "live"]
