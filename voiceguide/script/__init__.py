"""The script stage: YAML exercise files to the immutable :class:`Script` model.

What lives here: the model (:mod:`.model`), the grammar table shared by the
loader and the JSON Schema (:mod:`.grammar`, :mod:`.schema`), written units
(:mod:`.units`), the safe located loader (:mod:`.loader`, split by concern into
:mod:`.decode`, :mod:`.compose`, :mod:`.values`, :mod:`.build`, :mod:`.steps`,
:mod:`.path_policy`, :mod:`.limits` and :mod:`.problems`, with :mod:`.controls` keeping
control characters out of the model and :mod:`.soundfiles` checking a
``sound:`` file's header), authoring advice
(:mod:`.lint`), the catalog of built-in and user exercises (:mod:`.catalog`)
and the starting-script writer (:mod:`.scaffold`).

Rule: nothing in this package imports numpy or anything from a later stage
(synth, timeline, audio, sinks, player, cli); ``list`` and ``validate`` load
only this package and start fast. tests/test_import_direction.py keeps it so.
"""

from typing import Any

__all__ = ["Script", "Source", "Voice", "check", "load", "load_text"]

#: Where each name lives, imported on first use (PEP 562): importing a
#: submodule such as :mod:`.model` (``config`` does, for the rate limits) must
#: not build the loader and the grammar, which ``--help`` and ``ctl`` never use.
_LAZY = {"check": "loader", "load": "loader", "load_text": "loader",
         "Script": "model", "Source": "model", "Voice": "model"}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value
