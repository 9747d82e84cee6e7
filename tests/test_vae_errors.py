"""Bad input gets a clear error before any training step runs."""

import keras
import numpy as np
import pytest

import kvae

X = np.random.default_rng(0).random((32, 28, 28, 1)).astype("float32")


def conv_vae(**kwargs):
    return kvae.VAE(
        kvae.layers.ConvEncoder(2, filters=(4, 4), dense_units=8),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(4, 4), dense_units=8),
        **kwargs,
    )


def assert_not_trained(model):
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_uint8_pixels_with_bernoulli():
    model = conv_vae()
    model.compile()
    with pytest.raises(
        ValueError, match=r"\[0, 1\].*astype\('float32'\) / 255"
    ):
        model.fit((X * 255).astype("uint8"), epochs=1, verbose=0)
    assert_not_trained(model)


def test_out_of_range_in_a_tf_dataset_is_caught_from_the_first_batch():
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(X * 3.0).batch(8)
    model = conv_vae()
    model.compile()
    with pytest.raises(ValueError, match="Bernoulli likelihood needs"):
        model.fit(data, epochs=1, verbose=0)


def test_negative_values_suggest_the_gaussian_likelihood():
    model = conv_vae()
    model.compile()
    with pytest.raises(ValueError, match="likelihood='gaussian'"):
        model.fit(X - 0.5, epochs=1, verbose=0)
    # The Gaussian likelihood accepts the same data.
    gaussian = conv_vae(likelihood="gaussian")
    gaussian.compile()
    gaussian.fit(X - 0.5, epochs=1, verbose=0)


def test_nan_inputs():
    x = X.copy()
    x[3, 4, 5, 0] = np.nan
    model = conv_vae()
    model.compile()
    with pytest.raises(ValueError, match="1 NaN values"):
        model.fit(x, epochs=1, verbose=0)
    assert_not_trained(model)


def test_nan_in_validation_data():
    x = X.copy()
    x[0] = np.nan
    model = conv_vae()
    model.compile()
    with pytest.raises(ValueError, match="validation_data contains"):
        model.fit(X, validation_data=(x,), epochs=1, verbose=0)


def test_input_shape_that_does_not_match_a_functional_encoder():
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(inputs)
    encoder = keras.Model(
        inputs, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)]
    )
    model = kvae.VAE(encoder, kvae.layers.MLPDecoder((32, 32, 1)))
    model.compile()
    with pytest.raises(ValueError, match=r"encoder expects \(28, 28, 1\)"):
        model.fit(np.zeros((8, 32, 32, 1), "float32"), verbose=0)


def test_decoder_output_shape_that_differs_from_the_input():
    model = conv_vae()
    model.compile()
    with pytest.raises(
        ValueError,
        match=r"decoder produces images of shape \(28, 28, 1\).*\(32, 32, 1\)",
    ):
        model.fit(np.zeros((8, 32, 32, 1), "float32"), verbose=0)


def test_encoder_that_breaks_the_contract():
    class OneOutput(keras.layers.Layer):
        def call(self, x):
            return keras.ops.reshape(x, (keras.ops.shape(x)[0], -1))[:, :2]

    model = kvae.VAE(OneOutput(), kvae.layers.MLPDecoder())
    model.compile()
    with pytest.raises(ValueError, match=r"pair \(z_mean, z_log_var\)"):
        model.fit(X, verbose=0)


def test_latent_dim_below_one():
    with pytest.raises(ValueError, match="latent_dim must be at least 1"):
        conv_vae().__class__(
            kvae.layers.ConvEncoder(0), kvae.layers.ConvDecoder()
        )


def test_unknown_likelihood():
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'"):
        conv_vae(likelihood="poisson")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": -1}, "beta"),
        ({"sigma": 0}, "sigma"),
        ({"kl_warmup_steps": -2}, "kl_warmup_steps"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_vae(**kwargs)


def test_loss_argument_is_refused():
    with pytest.raises(ValueError, match="computes its own loss"):
        conv_vae().compile(optimizer="adam", loss="mse")


def test_non_layer_encoder():
    with pytest.raises(TypeError, match="encoder must be a keras.Layer"):
        kvae.VAE(lambda x: x, kvae.layers.MLPDecoder())


def test_flat_data_with_image_metrics():
    model = kvae.VAE(kvae.layers.MLPEncoder(2), kvae.layers.MLPDecoder((784,)))
    model.compile()
    with pytest.raises(ValueError, match="image_metrics=False"):
        model.fit(np.zeros((8, 784), "float32"), verbose=0)
