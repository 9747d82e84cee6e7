import keras
import numpy as np
import pytest

import kvae
from tests.helpers import run_layer_test
from tests.helpers import to_numpy


def test_ladder_encoder_gives_one_gaussian_per_level():
    kwargs = {
        "latent_dims": (5, 3, 2),
        "filters": (4, 6, 8),
        "convs_per_level": 2,
        "kernel_size": 3,
        "dense_units": 16,
        "activation": "elu",
    }
    encoder = kvae.layers.LadderEncoder(**kwargs)
    config = encoder.get_config()
    for key, value in kwargs.items():
        assert config[key] == value, key
    assert kvae.layers.LadderEncoder.from_config(config).get_config() == config
    symbolic = encoder.compute_output_spec(keras.KerasTensor((None, 28, 28, 1)))
    eager = encoder(np.zeros((2, 28, 28, 1), "float32"))
    for levels, batch in ((symbolic, None), (eager, 2)):
        assert [tuple(t.shape) for pair in levels for t in pair] == [
            (batch, 5),
            (batch, 5),
            (batch, 3),
            (batch, 3),
            (batch, 2),
            (batch, 2),
        ]
    # Two convolutions a level, the first of stride 2: 28 -> 14 -> 7 -> 4.
    assert [len(stage) for stage in encoder.stages] == [2, 2, 2]
    assert [stage[0].strides for stage in encoder.stages] == [(2, 2)] * 3
    assert encoder.readouts[2][1].kernel.shape == (4 * 4 * 8, 16)


def test_ladder_decoder_priors_and_image():
    decoder = run_layer_test(
        kvae.layers.LadderDecoder,
        {
            "latent_dims": (5, 3),
            "output_shape": (28, 28, 1),
            "hidden_units": 8,
            "filters": (8, 4),
            "dense_units": 16,
            "upsampling": "nearest",
            "kernel_size": 3,
            "activation": "relu",
        },
        (5,),
        (28, 28, 1),
    )
    mean, log_var = decoder.conditional_prior(0, np.zeros((2, 3), "float32"))
    assert tuple(mean.shape) == tuple(log_var.shape) == (2, 5)
    # The prior's log-variance starts at zero (unit variance).
    np.testing.assert_allclose(to_numpy(log_var), 0.0, atol=1e-6)


def test_decoder_builds_its_top_down_path_when_built():
    decoder = kvae.layers.LadderDecoder(latent_dims=(4, 3, 2))
    decoder.build((None, 4))
    assert len(decoder.top_down) == 2
    assert all(layer.built for block in decoder.top_down for layer in block)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (
            kvae.layers.LadderEncoder,
            {"latent_dims": (4, 2), "filters": (8,)},
            "one filters entry per level",
        ),
        (kvae.layers.LadderEncoder, {"latent_dims": ()}, "at least one"),
        (kvae.layers.LadderEncoder, {"latent_dims": (4, 0)}, "at least 1"),
        (kvae.layers.LadderEncoder, {"convs_per_level": 0}, "convs_per"),
        (kvae.layers.LadderDecoder, {"latent_dims": (4, -1)}, "at least 1"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_encoder_needs_images():
    encoder = kvae.layers.LadderEncoder()
    with pytest.raises(ValueError, match="needs images"):
        encoder.build((None, 784))


def test_layers_serialize():
    for layer in (kvae.layers.LadderEncoder(), kvae.layers.LadderDecoder()):
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        assert type(restored) is type(layer)
        assert restored.get_config() == layer.get_config()
