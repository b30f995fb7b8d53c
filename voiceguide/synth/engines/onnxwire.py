"""The few protobuf wire-format primitives our ONNX edits need (no onnx or protobuf package).

An ONNX model is a protobuf message. :mod:`.alignment` appends an output to
its graph and :mod:`.vocoder_split` cuts the graph in two, both by reading
only the fields on their way and copying every other byte as it is: a field
is a tag (number and wire type), then a varint, 4 or 8 bytes, or a length
and that many bytes. Anything unexpected raises :class:`Malformed`, and the
caller loads the model as it is.
"""

from __future__ import annotations

from typing import Iterator, List, Tuple

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5


class Malformed(Exception):
    """The bytes are not the message expected (a damaged or unusual model)."""


def varint(buf: bytes, pos: int) -> Tuple[int, int]:
    """The varint at *pos*, and the position after it."""
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise Malformed("a varint runs past the end")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def fields(buf: bytes, start: int, end: int) -> Iterator[Tuple[int, int, int, int, int]]:
    """``(field number, wire type, field's first byte, value start, value end)`` of a message."""
    pos = start
    while pos < end:
        first = pos
        tag, pos = varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            _, after = varint(buf, pos)
        elif wire == FIXED64:
            after = pos + 8
        elif wire == FIXED32:
            after = pos + 4
        elif wire == BYTES:
            size, pos = varint(buf, pos)
            after = pos + size
        else:
            raise Malformed(f"wire type {wire}")
        if after > end:
            raise Malformed("a field runs past its message")
        yield number, wire, first, pos, after
        pos = after


def graph_field(model: bytes) -> Tuple[int, int, int]:
    """``(first byte, value start, value end)`` of a ModelProto's one graph (field 7)."""
    graphs = [(first, s, e) for number, wire, first, s, e in fields(model, 0, len(model))
              if number == 7 and wire == BYTES]
    if len(graphs) != 1:
        raise Malformed("not one graph")
    return graphs[0]


def bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (a string, bytes or a message)."""
    return encode_varint(number << 3 | BYTES) + encode_varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


def ints(buf: bytes, wire: int, start: int, end: int) -> List[int]:
    """A repeated int64 field's values at one occurrence: packed (one length-delimited run) or one varint."""
    if wire == VARINT:
        return [varint(buf, start)[0]]
    if wire != BYTES:
        raise Malformed(f"an int field of wire type {wire}")
    out, pos = [], start
    while pos < end:
        value, pos = varint(buf, pos)
        out.append(value - (1 << 64) if value >= 1 << 63 else value)
    return out
