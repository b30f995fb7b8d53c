"""A Piper model cut in two before its vocoder, so a long clause is voiced a piece at a time (issue 24).

Why: a Piper (VITS) model turns phonemes into latent frames (one per
``hop`` samples: 256 for joe) with small tensors -- text encoder, duration
predictor, flow -- and then a HiFi-GAN vocoder turns those frames into
audio. The vocoder's tensors are the length of the audio times its
channels: about 33 MB per second of speech held at once, so a worker's peak
was its longest clause (+165 MB for a 5 s clause), the one figure that kept
a cold session over a Raspberry Pi 3's 400 MB. The vocoder is
convolutional: a sample depends only on the frames within its receptive
field (:func:`receptive_frames`: 16.3 frames either side for joe, a safe
bound: the seams were exact from 13 frames of context, measured). So
:func:`vocode` voices the frames in pieces of at most ``chunk`` frames,
each with ``overlap`` frames of context either side whose audio is thrown
away, and the pieces joined are the samples the whole run makes (bit for
bit here: ``tests/synth/test_piper.py``).

:func:`split` cuts the model's bytes (:mod:`.onnxwire`, no onnx package):
the cut is the input of the vocoder's first convolution (the first
``ConvTranspose``'s data input walked back to a ``Conv``). The front graph
keeps the nodes its outputs need (the frames, and the phoneme durations when
asked), the back graph the nodes the audio needs after the cut; each keeps
only the initializers its nodes use, and every kept node, initializer and
other field is the original's bytes (views, never copied until written).

A model that does not cut cleanly answers None and is loaded whole: a
vocoder that needs another input (a many-speaker voice's speaker
embedding), a node with a subgraph, or an op whose reach in time this
module does not know. Trap: that last rule is what keeps the joined pieces
exact; never let an unknown op through as "pointwise".
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from .onnxwire import BYTES, Malformed, bytes_field, encode_varint, fields, graph_field, ints, varint, varint_field

#: Ops that never mix samples across time (elementwise, or a shape change that leaves the time axis).
POINTWISE = frozenset({"Add", "Sub", "Mul", "Div", "LeakyRelu", "Relu", "Tanh", "Sigmoid", "Identity",
                       "Cast", "Clip", "Neg", "Exp", "Sqrt", "Pow", "Abs", "Unsqueeze", "Squeeze", "Constant"})
#: Frames of context either side beyond the computed receptive field (rounding, padding conventions).
MARGIN_FRAMES = 2
#: ONNX's float tensor type.
_FLOAT = 1


class Reach(NamedTuple):
    """How far the vocoder looks: frames either side of a sample, and samples per frame."""

    frames: float
    hop: int


class Split(NamedTuple):
    """A model cut in two: each part's bytes as pieces to write one after the other."""

    front: List[memoryview]   # phonemes -> frames (and durations)
    back: List[memoryview]    # frames -> audio
    cut: str                  # the frames' tensor name: the front's first output, the back's input
    reach: Reach              # the back part's (:func:`receptive_frames_of`)


class _Node(NamedTuple):
    number: int
    first: int
    end: int
    op: str
    inputs: List[str]
    outputs: List[str]
    attrs: Dict[str, List[int]]   # Conv and ConvTranspose: kernel_shape, dilations, strides, pads, group


class _Graph(NamedTuple):
    first: int                # the graph field's first byte in the model
    start: int
    end: int
    nodes: List[_Node]
    initializers: Dict[str, Tuple[int, int, List[int]]]   # name -> (first byte, end, dims)
    inputs: List[Tuple[int, int, str]]
    outputs: List[Tuple[int, int, str]]
    other: List[Tuple[int, int]]  # every other field (name, doc string...), copied into both parts


def _text(buf: bytes, s: int, e: int) -> str:
    return bytes(buf[s:e]).decode("utf-8", "replace")


def _attributes(buf: bytes, s: int, e: int, attrs: Dict[str, List[int]]) -> None:
    """One AttributeProto into *attrs* (its int or ints); a subgraph or a string auto_pad is refused."""
    name, values = "", []
    for number, wire, _, s2, e2 in fields(buf, s, e):
        if number == 1 and wire == BYTES:
            name = _text(buf, s2, e2)
        elif number == 3:
            values = [varint(buf, s2)[0]]
        elif number == 8:
            values.extend(ints(buf, wire, s2, e2))
        elif number in (6, 11):           # g, graphs: control flow
            raise Malformed("a node with a subgraph")
        elif number == 4 and wire == BYTES:   # s: only auto_pad matters to us
            values = [0 if bytes(buf[s2:e2]) in (b"NOTSET", b"") else -1]
    attrs[name] = values


def _node(buf: bytes, index: int, first: int, s: int, e: int) -> _Node:
    op, inputs, outputs = "", [], []
    attrs: Dict[str, List[int]] = {}
    spans = []
    for number, wire, _, s2, e2 in fields(buf, s, e):
        if wire != BYTES:
            continue
        if number == 1:
            inputs.append(_text(buf, s2, e2))
        elif number == 2:
            outputs.append(_text(buf, s2, e2))
        elif number == 4:
            op = _text(buf, s2, e2)
        elif number == 5:
            spans.append((s2, e2))
    if op in ("Conv", "ConvTranspose", "If", "Loop", "Scan"):
        for s2, e2 in spans:
            _attributes(buf, s2, e2, attrs)
        if op in ("If", "Loop", "Scan"):
            raise Malformed(f"a {op} node")
    return _Node(index, first, e, op, inputs, outputs, attrs)


def _parse(model: bytes) -> _Graph:
    gfirst, gs, ge = graph_field(model)
    nodes: List[_Node] = []
    initializers: Dict[str, Tuple[int, int, List[int]]] = {}
    inputs: List[Tuple[int, int, str]] = []
    outputs: List[Tuple[int, int, str]] = []
    other: List[Tuple[int, int]] = []
    for number, wire, first, s, e in fields(model, gs, ge):
        if number == 1 and wire == BYTES:
            nodes.append(_node(model, len(nodes), first, s, e))
        elif number == 5 and wire == BYTES:
            name, dims = "", []
            for n2, w2, _, s2, e2 in fields(model, s, e):
                if n2 == 8 and w2 == BYTES:
                    name = _text(model, s2, e2)
                elif n2 == 1:
                    dims.extend(ints(model, w2, s2, e2))
            initializers[name] = (first, e, dims)
        elif number in (11, 12) and wire == BYTES:
            name = next((_text(model, s2, e2) for n2, w2, _, s2, e2 in fields(model, s, e) if n2 == 1), "")
            (inputs if number == 11 else outputs).append((first, e, name))
        elif number == 15:
            raise Malformed("sparse initializers")
        elif number != 13:                # value_info: optional shape hints, left out of both parts
            other.append((first, e))
    return _Graph(gfirst, gs, ge, nodes, initializers, inputs, outputs, other)


def _find_cut(nodes: Sequence[_Node], producer: Dict[str, _Node]) -> str:
    """The vocoder's input: the first ConvTranspose's data input, walked back to the Conv before it."""
    up = next((n for n in nodes if n.op == "ConvTranspose"), None)
    if up is None or not up.inputs:
        raise Malformed("no ConvTranspose")
    tensor = up.inputs[0]
    for _ in range(8):
        node = producer.get(tensor)
        if node is None or not node.inputs:
            break
        if node.op == "Conv":
            return node.inputs[0]
        tensor = node.inputs[0]
    raise Malformed("no Conv before the first ConvTranspose")


def _needed(targets: Sequence[str], producer: Dict[str, _Node], stop: Set[str]) -> Tuple[Set[int], Set[str]]:
    """The nodes the *targets* need (not past *stop*), and the tensors they take from outside those nodes."""
    need: Set[int] = set()
    seen: Set[str] = set()
    outside: Set[str] = set()
    todo = list(targets)
    while todo:
        tensor = todo.pop()
        if not tensor or tensor in seen:
            continue
        seen.add(tensor)
        node = producer.get(tensor)
        if tensor in stop or node is None:
            outside.add(tensor)
            continue
        if node.number not in need:
            need.add(node.number)
            todo.extend(node.inputs)
    return need, outside


def _value_info(name: str, typed: bool) -> bytes:
    """A ValueInfoProto: the name, and (for a graph input) the type: a float tensor of any shape."""
    body = bytes_field(1, name.encode("utf-8"))
    if typed:
        body += bytes_field(2, bytes_field(1, varint_field(1, _FLOAT)))
    return body


def _part(view: memoryview, graph: _Graph, keep: Set[int], inputs: List[memoryview],
          outputs: List[memoryview]) -> List[memoryview]:
    """A model with the graph's kept nodes, the initializers they use, and these inputs and outputs."""
    used = {name for node in graph.nodes if node.number in keep for name in node.inputs}
    spans = [(n.first, n.end) for n in graph.nodes if n.number in keep]
    spans += [(first, end) for name, (first, end, _) in graph.initializers.items() if name in used]
    spans += graph.other
    body = [view[s:e] for s, e in sorted(spans)] + inputs + outputs
    size = sum(len(piece) for piece in body)
    head = memoryview(encode_varint(7 << 3 | BYTES) + encode_varint(size))
    return [view[:graph.first], head, *body, view[graph.end:]]


def split(model: bytes, extra_outputs: Sequence[str] = ()) -> Optional[Split]:
    """*model* cut before its vocoder (see the module notes), or None if it does not cut cleanly.

    *extra_outputs*: tensors the front adds to its outputs (the phoneme
    durations, :func:`.alignment.ceil_tensor`), after the frames.
    """
    try:
        return _split(model, extra_outputs)
    except (Malformed, UnicodeDecodeError, IndexError, KeyError, ValueError):
        return None


def _split(model: bytes, extra_outputs: Sequence[str]) -> Optional[Split]:
    graph = _parse(model)
    producer = {out: node for node in graph.nodes for out in node.outputs if out}
    if len(graph.outputs) != 1:
        return None
    audio = graph.outputs[0][2]
    cut = _find_cut(graph.nodes, producer)
    back, back_outside = _needed([audio], producer, {cut})
    if back_outside - set(graph.initializers) - {cut}:
        return None                       # the vocoder needs another input (a speaker embedding...)
    reach = receptive_frames_of([graph.nodes[i] for i in sorted(back)], graph.initializers, cut)
    if reach is None:
        return None
    front, front_outside = _needed([cut, *extra_outputs], producer, set())
    graph_inputs = {name for _, _, name in graph.inputs}
    if graph_inputs & set(graph.initializers):
        return None                       # an old model listing its weights as inputs: loaded whole
    if front_outside - set(graph.initializers) - graph_inputs:
        return None
    view = memoryview(model)
    front_inputs = [view[first:end] for first, end, _ in graph.inputs]
    front_outputs = [memoryview(bytes_field(12, _value_info(cut, typed=True)))]
    front_outputs += [memoryview(bytes_field(12, _value_info(name, typed=False))) for name in extra_outputs]
    back_inputs = [memoryview(bytes_field(11, _value_info(cut, typed=True)))]
    back_outputs = [view[first:end] for first, end, _ in graph.outputs]
    return Split(_part(view, graph, front, front_inputs, front_outputs),
                 _part(view, graph, back, back_inputs, back_outputs), cut, reach)


def receptive_frames(back: bytes) -> Optional[Reach]:
    """The reach of a vocoder graph (a :func:`split` back part, or its onnxruntime-optimised save)."""
    try:
        graph = _parse(back)
        if len(graph.inputs) != 1:
            return None
        return receptive_frames_of(graph.nodes, graph.initializers, graph.inputs[0][2])
    except (Malformed, UnicodeDecodeError, IndexError, KeyError, ValueError):
        return None


def receptive_frames_of(nodes: Sequence[_Node], initializers: Dict[str, Tuple[int, int, List[int]]],
                        start: str) -> Optional[Reach]:
    """Follow the time axis from *start* (frames) through *nodes* in order: the output's reach, or None.

    Each tensor on the way has a scale (samples per frame) and a reach
    (frames either side); a convolution adds its half-width at its input's
    scale, a transposed one also multiplies the scale by its stride; a
    pointwise op takes the widest of its inputs. Along the longest path, not
    a sum over parallel branches: the real field, not a loose bound.
    """
    timed: Dict[str, Tuple[float, float]] = {start: (1.0, 0.0)}
    last: Optional[Tuple[float, float]] = None
    for node in nodes:
        ins = [timed[t] for t in node.inputs if t in timed]
        if not ins:
            continue                      # a constant's or a weight's path
        if node.op in POINTWISE:
            scales = {scale for scale, _ in ins}
            if len(scales) != 1:
                return None
            out = (ins[0][0], max(r for _, r in ins))
        elif node.op in ("Conv", "ConvTranspose"):
            if node.inputs[0] not in timed or len(ins) != 1:
                return None               # the weights themselves computed from the signal
            kernel = _kernel(node, initializers)
            if kernel is None or node.attrs.get("auto_pad", [0]) != [0]:
                return None
            scale, reach = timed[node.inputs[0]]
            stride = node.attrs.get("strides", [1])[-1]
            dilation = node.attrs.get("dilations", [1])[-1]
            pads = node.attrs.get("pads", [0, 0])
            if stride < 1 or dilation < 1 or len(pads) < 2:
                return None
            if node.op == "Conv":
                half = max(pads[0], (kernel - 1) * dilation - pads[0])
                out = (scale / stride, reach + half / scale)
            else:
                half = math.ceil(((kernel - 1) * dilation + 1) / stride) + max(pads)
                out = (scale * stride, reach + half / scale)
        else:
            return None                   # an op whose reach in time we do not know
        for tensor in node.outputs:
            timed[tensor] = out
        last = out
    if last is None or last[0] < 1 or last[0] != int(last[0]):
        return None
    return Reach(last[1], int(last[0]))


def _kernel(node: _Node, initializers: Dict[str, Tuple[int, int, List[int]]]) -> Optional[int]:
    shape = node.attrs.get("kernel_shape")
    if shape:
        return shape[-1]
    weight = initializers.get(node.inputs[1]) if len(node.inputs) > 1 else None
    return weight[2][-1] if weight is not None and len(weight[2]) >= 3 else None


def overlap_frames(reach: Reach) -> int:
    """Frames of context each piece takes either side: the reach rounded up, plus a margin."""
    return int(math.ceil(reach.frames)) + MARGIN_FRAMES


def vocode(run: Callable[[Any], Any], frames: Any, hop: int, overlap: int, chunk: int) -> Any:
    """The audio of *frames* ``[1, channels, n]``, voiced at most *chunk* frames at a time.

    *run(frames)* runs the vocoder and returns its audio (``hop`` samples a
    frame). Pieces are equal (the frames shared out evenly), each run with
    *overlap* frames of context either side, and only its own samples kept:
    the joined audio is what one run over every frame makes.
    """
    import numpy as np

    z = np.asarray(frames)
    n = int(z.shape[2])
    if n <= chunk:
        return np.asarray(run(z), dtype=np.float32).reshape(-1)
    pieces = -(-n // chunk)
    size = -(-n // pieces)
    out = np.empty(n * hop, dtype=np.float32)
    for a in range(0, n, size):
        b = min(n, a + size)
        s, e = max(0, a - overlap), min(n, b + overlap)
        y = np.asarray(run(np.ascontiguousarray(z[:, :, s:e])), dtype=np.float32).reshape(-1)
        if y.size != (e - s) * hop:
            raise ValueError(f"the vocoder made {y.size} samples for {e - s} frames, not {hop} a frame")
        out[a * hop: b * hop] = y[(a - s) * hop: (b - s) * hop]
    return out
