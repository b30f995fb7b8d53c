"""The speech defaults and the rate range, alone: :mod:`voiceguide.config`
needs them for its help texts, and importing them must not build the
model's sixteen dataclasses (``--help`` and ``ctl`` start without them).
:mod:`.model` re-exports them.
"""

#: Defaults that make speech calm: espeak-ng's own default (175 wpm) is brisk.
DEFAULT_RATE = 140
DEFAULT_VOLUME = 0.9
MIN_RATE, MAX_RATE = 80, 300
