"""The vocoder cut without a model: pieces joined at their seams, the reach of a graph, bad bytes refused.

The real model, cut and voiced a piece at a time, is in test_piper.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide.synth.engines import onnxwire
from voiceguide.synth.engines.vocoder_split import Reach, _Node, overlap_frames, receptive_frames_of, split, vocode

HOP = 4


def smear(radius: int):
    """A stand-in vocoder: each frame's output mixes the frames *radius* either side (zero past the ends)."""
    def run(frames):
        z = frames[0].sum(axis=0)
        padded = np.concatenate([np.zeros(radius), z, np.zeros(radius)])
        kernel = np.arange(1, 2 * radius + 2, dtype=np.float64)
        mixed = np.convolve(padded, kernel, mode="valid").astype(np.float32)
        return np.repeat(mixed, HOP)[None, None, :]
    return run


@pytest.fixture
def frames():
    return np.random.default_rng(7).standard_normal((1, 3, 101)).astype(np.float32)


def test_pieces_with_the_reach_of_context_join_to_the_whole_run(frames):
    run = smear(5)
    whole = vocode(run, frames, HOP, 0, 1000)
    assert whole.shape == (101 * HOP,)
    for chunk in (7, 20, 33, 100):
        assert np.array_equal(vocode(run, frames, HOP, 5, chunk), whole)
    # Too little context shows at the seams.
    assert not np.array_equal(vocode(run, frames, HOP, 4, 20), whole)


def test_a_vocoder_that_makes_the_wrong_length_is_refused(frames):
    def short(part):
        return np.zeros((1, 1, part.shape[2] * HOP - 1), np.float32)
    with pytest.raises(ValueError, match="samples"):
        vocode(short, frames, HOP, 2, 30)


def node(number, op, inputs, outputs, **attrs):
    return _Node(number, 0, 0, op, inputs, outputs, attrs)


def test_the_reach_follows_the_longest_path_not_the_sum_of_branches():
    weights = {"w3": (0, 0, [8, 8, 3]), "w7": (0, 0, [8, 8, 7]), "up": (0, 0, [8, 4, 8])}
    nodes = [
        node(0, "Conv", ["z", "w7"], ["a"], pads=[3, 3]),                         # 3 frames
        node(1, "ConvTranspose", ["a", "up"], ["b"], strides=[4], pads=[2, 2]),   # x4
        node(2, "Conv", ["b", "w3"], ["c1"], dilations=[5], pads=[5, 5]),         # 5 samples at x4
        node(3, "Conv", ["b", "w3"], ["c2"], pads=[1, 1]),                        # a parallel branch
        node(4, "Add", ["c1", "c2"], ["d"]),
        node(5, "Tanh", ["d"], ["out"]),
    ]
    reach = receptive_frames_of(nodes, weights, "z")
    assert reach is not None and reach.hop == 4
    # 3 + (ceil(8/4) + 2) + 5/4, the wider branch only
    assert reach.frames == pytest.approx(3 + 4 + 1.25)
    assert overlap_frames(reach) == 9 + 2


def test_an_op_whose_reach_is_unknown_gives_up():
    weights = {"w3": (0, 0, [8, 8, 3])}
    assert receptive_frames_of([node(0, "Conv", ["z", "w3"], ["a"], pads=[1, 1]),
                                node(1, "Reshape", ["a", "shape"], ["out"])], weights, "z") is None
    assert receptive_frames_of([node(0, "Conv", ["z", "w3"], ["out"], auto_pad=[-1])], weights, "z") is None
    assert receptive_frames_of([node(0, "Add", ["z", "z"], ["out"])], weights, "z") == Reach(0.0, 1)


def test_bytes_that_are_not_a_model_do_not_cut():
    assert split(b"") is None
    assert split(b"\x0a\x05hello") is None           # a model with no graph
    assert split(b"\x3a\xff\xff\xff\x0f") is None     # a graph running past the end


def test_repeated_ints_read_packed_and_one_at_a_time():
    packed = onnxwire.encode_varint(3) + onnxwire.encode_varint(300) + onnxwire.encode_varint((1 << 64) - 1)
    assert onnxwire.ints(packed, onnxwire.BYTES, 0, len(packed)) == [3, 300, -1]
    assert onnxwire.ints(onnxwire.encode_varint(7), onnxwire.VARINT, 0, 1) == [7]
