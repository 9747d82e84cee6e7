import keras
import numpy as np
import pytest

import kvae
from tests.helpers import run_layer_test

LATENT = 5


@pytest.mark.parametrize(
    "cls, kwargs, input_shape, expected",
    [
        (
            kvae.layers.MLPEncoder,
            {"latent_dim": LATENT, "hidden_units": (16, 8)},
            (28, 28, 1),
            ((LATENT,), (LATENT,)),
        ),
        (
            kvae.layers.MLPDecoder,
            {"output_shape": (28, 28, 1), "hidden_units": (8,)},
            (LATENT,),
            (28, 28, 1),
        ),
        (
            kvae.layers.ConvEncoder,
            {"latent_dim": LATENT, "filters": (4, 8), "dense_units": 16},
            (28, 28, 1),
            ((LATENT,), (LATENT,)),
        ),
        (
            kvae.layers.ConvEncoder,
            {"latent_dim": LATENT, "filters": (4, 8, 8), "dense_units": 0},
            (32, 48, 3),
            ((LATENT,), (LATENT,)),
        ),
        (
            kvae.layers.ConvDecoder,
            {"output_shape": (28, 28, 1), "filters": (8, 4)},
            (LATENT,),
            (28, 28, 1),
        ),
        (
            kvae.layers.ResidualEncoder,
            {"latent_dim": LATENT, "filters": (4, 8, 8, 8)},
            (64, 64, 3),
            ((LATENT,), (LATENT,)),
        ),
        (
            kvae.layers.ResidualDecoder,
            {"output_shape": (64, 64, 3), "filters": (8, 8, 8, 4)},
            (LATENT,),
            (64, 64, 3),
        ),
        (
            kvae.layers.ResidualBlock,
            {"filters": 6, "negative_slope": 0.1},
            (8, 8, 3),
            (8, 8, 6),
        ),
        (
            kvae.layers.GaussianHead,
            {"latent_dim": LATENT},
            (7,),
            ((LATENT,), (LATENT,)),
        ),
    ],
)
def test_layer_contract(cls, kwargs, input_shape, expected):
    run_layer_test(cls, kwargs, input_shape, expected)


@pytest.mark.parametrize("method", ["pixel_shuffle", "nearest", "transpose"])
def test_upsample_methods_double_the_size(method):
    layer = run_layer_test(
        kvae.layers.Upsample2D,
        {"filters": 3, "method": method},
        (7, 5, 2),
        (14, 10, 3),
    )
    assert layer.get_config()["method"] == method


@pytest.mark.parametrize("upsampling", ["nearest", "transpose"])
def test_conv_decoder_other_upsampling(upsampling):
    decoder = kvae.layers.ConvDecoder(
        output_shape=(16, 16, 2), filters=(4, 4), upsampling=upsampling
    )
    assert tuple(decoder(np.zeros((3, 2), "float32")).shape) == (3, 16, 16, 2)


def test_pixel_shuffle_places_channels_in_2x2_blocks():
    # depth_to_space must put channel group k at offset (k // 2, k % 2),
    # the same on every backend.
    x = np.arange(4, dtype="float32").reshape(1, 1, 1, 4)
    out = keras.ops.convert_to_numpy(keras.ops.depth_to_space(x, 2))
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 1], [2, 3]])


@pytest.mark.parametrize("bad", [0, -3])
def test_latent_dim_below_one_is_rejected(bad):
    with pytest.raises(ValueError, match="latent_dim must be at least 1"):
        kvae.layers.ConvEncoder(latent_dim=bad)
    with pytest.raises(ValueError, match="latent_dim must be at least 1"):
        kvae.layers.MLPEncoder(latent_dim=bad)


def test_latent_dim_must_be_an_integer():
    with pytest.raises(TypeError, match="latent_dim must be an int"):
        kvae.layers.ConvEncoder(latent_dim=2.5)


def test_indivisible_image_size_is_rejected():
    with pytest.raises(ValueError, match="divisible by 4"):
        kvae.layers.ConvDecoder(output_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="divisible by 16"):
        kvae.layers.ResidualEncoder(8)(np.zeros((1, 40, 40, 3), "float32"))


def test_unknown_upsampling_is_rejected():
    with pytest.raises(ValueError, match="Unknown upsampling method"):
        kvae.layers.ConvDecoder(upsampling="bicubic")
