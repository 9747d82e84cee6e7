"""The layers of `kvae.HierarchicalVAE`: config round trips, shapes, and
the exact rearrangements they are built on."""

import numpy as np
import pytest
from scipy.special import erf
from scipy.special import expit

import kvae
from kvae.layers.latent_group import soft_clamp
from kvae.layers.utils import depth_to_space
from kvae.layers.utils import space_to_depth
from tests.helpers import run_layer_test
from tests.helpers import to_numpy


def test_bottleneck_block():
    run_layer_test(
        kvae.layers.BottleneckBlock,
        {"filters": 6, "middle": 3, "residual": True, "last_scale": 0.5},
        (4, 4, 6),
        (4, 4, 6),
    )
    block = kvae.layers.BottleneckBlock(5, 2, residual=False, last_scale=0.0)
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    # A zero-initialized last convolution: the block starts at zero.
    np.testing.assert_array_equal(to_numpy(block(x)), 0.0)
    with pytest.raises(ValueError, match="needs filters=4 channels"):
        kvae.layers.BottleneckBlock(4, 2)(x)


@pytest.mark.parametrize(
    "activation, reference",
    [
        ("gelu", lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))),
        ("silu", lambda x: x * expit(x)),
    ],
)
def test_bottleneck_block_applies_its_activation(activation, reference):
    block = kvae.layers.BottleneckBlock(4, 3, activation=activation)
    # On a 1x1 map a "same" 3x3 convolution is its centre tap: a matmul.
    x = np.random.default_rng(1).normal(size=(5, 1, 1, 4)).astype("float32")
    out = to_numpy(block(x))
    h = x[:, 0, 0].astype("float64")
    for conv in block.convs:
        kernel, bias = (to_numpy(w) for w in conv.weights)
        centre = kernel[kernel.shape[0] // 2, kernel.shape[1] // 2]
        h = reference(h) @ centre + bias
    np.testing.assert_allclose(out[:, 0, 0], x[:, 0, 0] + h, atol=1e-5)
    assert block.get_config()["activation"] == activation


def test_hierarchical_encoder_gives_one_map_per_resolution():
    run_layer_test(
        kvae.layers.HierarchicalEncoder,
        {
            "resolutions": (2, 4),
            "width": 6,
            "blocks": 1,
            "bottleneck": 3,
            "activation": "silu",
        },
        (8, 8, 1),
        ((2, 2, 6), (4, 4, 6)),
    )


def test_hierarchical_decoder_shapes_and_groups():
    layer = run_layer_test(
        kvae.layers.HierarchicalDecoder,
        {
            "output_shape": (8, 8, 3),
            "resolutions": (2, 4),
            "groups": (1, 2),
            "latent_channels": 2,
            "width": 6,
            "bottleneck": 3,
            "output_blocks": 1,
            "activation": "silu",
        },
        (8,),
        (8, 8, 3),
    )
    assert layer.latent_shapes == [(2, 2, 2), (4, 4, 2), (4, 4, 2)]
    assert layer.top_dim == 8
    assert [g.top for g in layer.latent_groups] == [True, False, False]
    # The activation reaches every block of every group.
    for group in layer.latent_groups:
        blocks = [group.posterior_net, group.resnet, group.prior_net]
        assert {b.activation for b in blocks if b} == {"silu"}
    assert {b.activation for b in layer.output_stack} == {"silu"}


def test_space_to_depth_and_back_are_exact():
    x = np.arange(2 * 4 * 6 * 3, dtype="float32").reshape(2, 4, 6, 3)
    packed = to_numpy(space_to_depth(x, 2))
    assert packed.shape == (2, 2, 3, 12)
    # Position (0, 0) holds the 2x2 patch at the top left, row by row.
    np.testing.assert_array_equal(
        packed[0, 0, 0],
        np.concatenate([x[0, 0, 0], x[0, 0, 1], x[0, 1, 0], x[0, 1, 1]]),
    )
    np.testing.assert_array_equal(to_numpy(depth_to_space(packed, 2)), x)


def test_log_variances_are_soft_clamped():
    raw = np.array([-1e4, -3.0, 0.0, 3.0, 1e4], "float32")
    clamped = to_numpy(soft_clamp(raw))
    np.testing.assert_allclose(clamped, 10 * np.tanh(raw / 10), rtol=1e-6)
    assert np.all(np.abs(clamped) <= 10.0)
