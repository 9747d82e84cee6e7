"""LabelConditioning, and the `condition` of kvae's encoders and
decoders: unchanged without one, changed by one, saved with the layer."""

import keras
import numpy as np
import pytest

import kvae
from kvae.layers.label_conditioning import build_conditioning
from tests.helpers import to_numpy

RNG = np.random.default_rng(0)
CONDITION = np.eye(3, dtype="float32")[[0, 1, 2, 1]]


@pytest.mark.parametrize("mode", ["film", "bias"])
def test_label_conditioning(mode):
    layer = kvae.layers.LabelConditioning(6, mode=mode)
    config = layer.get_config()
    assert (config["units"], config["mode"]) == (6, mode)
    assert kvae.layers.LabelConditioning.from_config(config).mode == mode
    symbolic = layer(
        keras.KerasTensor((None, 5, 5, 6)),
        condition=keras.KerasTensor((None, 3)),
    )
    assert tuple(symbolic.shape) == (None, 5, 5, 6)
    x = RNG.random((4, 5, 5, 6)).astype("float32")
    # A new layer passes the features through: its projection is zero.
    np.testing.assert_allclose(to_numpy(layer(x, condition=CONDITION)), x)
    weights = [RNG.standard_normal(w.shape) for w in layer.weights]
    layer.set_weights(weights)
    y = to_numpy(layer(x, condition=CONDITION))
    kernel, bias = weights
    params = CONDITION @ kernel + bias
    if mode == "bias":
        expected = x + params[:, None, None, :]
    else:
        scale, shift = params[:, :6], params[:, 6:]
        expected = x * (1 + scale[:, None, None]) + shift[:, None, None]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_unknown_mode():
    with pytest.raises(ValueError, match="Unknown conditioning 'concat'"):
        kvae.layers.LabelConditioning(4, mode="concat")
    with pytest.raises(ValueError, match="Unknown conditioning"):
        kvae.layers.ConvEncoder(4, conditioning="scale")


LAYERS = {
    "conv_encoder": (
        lambda: kvae.layers.ConvEncoder(2, filters=(4, 8), dense_units=8),
        (16, 16, 1),
    ),
    "conv_decoder": (
        lambda: kvae.layers.ConvDecoder((16, 16, 1), filters=(8, 4)),
        (2,),
    ),
    "residual_encoder": (
        lambda: kvae.layers.ResidualEncoder(2, filters=(4, 8)),
        (16, 16, 3),
    ),
    "residual_decoder": (
        lambda: kvae.layers.ResidualDecoder((16, 16, 3), filters=(8, 4)),
        (2,),
    ),
    "mlp_encoder": (
        lambda: kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        (16, 16, 1),
    ),
    "mlp_decoder": (
        lambda: kvae.layers.MLPDecoder((16, 16, 1), hidden_units=(8,)),
        (2,),
    ),
}


def first(output):
    return to_numpy(output[0] if isinstance(output, tuple) else output)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_kvae_layers_take_a_condition(name):
    make, shape = LAYERS[name]
    layer = make()
    x = RNG.random((4,) + shape).astype("float32")
    plain = first(layer(x))
    build_conditioning(layer, 3)
    # Without a condition, and with a new (zero) conditioning, the layer
    # computes what it did before.
    np.testing.assert_allclose(
        first(layer(x, condition=CONDITION)), plain, atol=1e-6
    )
    stages = [w for w in layer.weights if "label_conditioning" in w.path]
    assert stages
    for w in stages:
        w.assign(0.5 * RNG.standard_normal(w.shape))
    conditioned = first(layer(x, condition=CONDITION))
    # Rows 1 and 3 share a label; rows 0 and 2 have others.
    assert np.abs(conditioned - plain).max() > 1e-3
    same = first(layer(x[[1, 1]], condition=CONDITION[[1, 3]]))
    np.testing.assert_allclose(same[0], same[1], atol=1e-6)
    config = layer.get_config()
    assert config["conditioning"] == "film"
    clone = type(layer).from_config(config)
    clone(x)
    build_conditioning(clone, 3)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        first(clone(x, condition=CONDITION)), conditioned, atol=1e-5
    )


def test_unconditional_layer_saves_and_loads_without_warnings(tmp_path):
    # Its unused conditioning stages hold no weights.
    inputs = keras.Input((16, 16, 1))
    encoder = kvae.layers.ConvEncoder(2, filters=(4, 8), dense_units=8)
    model = keras.Model(inputs, encoder(inputs)[0])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = RNG.random((2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)))
