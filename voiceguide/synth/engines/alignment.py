"""Piper's phoneme durations: the model's ``w_ceil`` tensor made an output, without the onnx package.

A Piper (VITS) model computes how many frames each phoneme id lasts (a
``Ceil`` node, ``w_ceil``) and then throws the figure away: only the audio
is an output. piper-tts >= 1.3 reads it when the model lists that tensor as
a second output (``phoneme_ids_to_audio(..., include_alignments=True)``),
and patches a model in memory to do so -- with the ``onnx`` package (a
~15 MB dependency, ``piper-tts[alignment]``), only to append one name to
the graph's outputs. :func:`with_durations` does the same edit on the
model's bytes directly: an ONNX file is a protobuf message, and appending a
field to a message is appending bytes (and fixing the length of the
message around it). The graph is otherwise untouched, so the audio is what
the model always made.

Only the fields on the way are parsed (:mod:`.onnxwire`; ``ModelProto.graph`` = 7,
``GraphProto.node`` = 1 and ``output`` = 12, ``NodeProto.output`` = 2 and
``op_type`` = 4, ``ValueInfoProto.name`` = 1); anything unexpected --
no ``Ceil`` node, several, one already an output, a malformed file --
answers None, and the model is loaded as it is (word timings then come
from phoneme counts, see :mod:`.piper`).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from .onnxwire import BYTES as _BYTES
from .onnxwire import Malformed as _Malformed
from .onnxwire import bytes_field as _bytes_field
from .onnxwire import encode_varint as _encode_varint
from .onnxwire import fields as _fields
from .onnxwire import graph_field


def ceil_tensor(model: bytes) -> Optional[str]:
    """The name of the one ``Ceil`` node's output, if the model has exactly one and it is not an output."""
    try:
        return _find(model)[0]
    except _Malformed:
        return None


def _find(model: bytes) -> Tuple[Optional[str], int, int, int]:
    """(the Ceil tensor or None, graph field's first byte, graph start, graph end)."""
    first, gs, ge = graph_field(model)
    ceil: List[str] = []
    outputs: List[str] = []
    for number, wire, _, s, e in _fields(model, gs, ge):
        if wire != _BYTES:
            continue
        if number == 1:  # NodeProto
            op, names = b"", []
            for n2, w2, _, s2, e2 in _fields(model, s, e):
                if n2 == 4 and w2 == _BYTES:
                    op = model[s2:e2]
                elif n2 == 2 and w2 == _BYTES:
                    names.append(model[s2:e2].decode("utf-8", "replace"))
            if op == b"Ceil":
                ceil.extend(names)
        elif number == 12:  # ValueInfoProto
            for n2, w2, _, s2, e2 in _fields(model, s, e):
                if n2 == 1 and w2 == _BYTES:
                    outputs.append(model[s2:e2].decode("utf-8", "replace"))
    if len(ceil) != 1 or ceil[0] in outputs:
        return None, first, gs, ge
    return ceil[0], first, gs, ge


def with_durations(model: bytes) -> Optional[bytes]:
    """*model* with its phoneme durations (``w_ceil``) as a second output, or None if it cannot be done."""
    parts = durations_parts(model)
    return None if parts is None else b"".join(parts)


def durations_parts(model: bytes) -> Optional[List[memoryview]]:
    """:func:`with_durations` as pieces to write one after the other, most of them views of *model*.

    A model is ~63 MB: joining copies it, twice over with the graph's own
    copy; a worker writing the pieces to a file never holds a second copy.
    """
    try:
        name, first, gs, ge = _find(model)
    except _Malformed:
        return None
    if name is None:
        return None
    view = memoryview(model)
    extra = _bytes_field(12, _bytes_field(1, name.encode("utf-8")))
    head = _encode_varint(7 << 3 | _BYTES) + _encode_varint(ge - gs + len(extra))
    return [view[:first], memoryview(head), view[gs:ge], memoryview(extra), view[ge:]]
