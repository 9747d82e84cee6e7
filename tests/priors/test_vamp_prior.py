import math

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

SHAPE = (4, 4, 1)


def vamp_vae(prior=None, encoder=None):
    return kvae.VAE(
        encoder or kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder(SHAPE, hidden_units=(8,)),
        prior=prior or kvae.priors.VampPrior(num_components=5, seed=0),
        image_metrics=False,
        seed=0,
    )


def test_log_prob_is_the_mixture_of_posteriors_at_the_pseudo_inputs():
    model = vamp_vae()
    model.build((None,) + SHAPE)
    prior = model.prior
    pseudo = np.random.default_rng(0).random((5,) + SHAPE).astype("float32")
    pseudo[0, 0, 0, 0] = 1.7  # clipped to 1 before the encoder sees it
    prior.pseudo_inputs.assign(pseudo)
    means, log_vars = (
        to_numpy(t).astype("float64")
        for t in model.encode(np.clip(pseudo, 0.0, 1.0))
    )
    z = np.random.default_rng(1).normal(size=(7, 2)).astype("float32")
    per_dim = -0.5 * (
        math.log(2 * math.pi)
        + log_vars
        + (z[:, None].astype("float64") - means) ** 2 / np.exp(log_vars)
    )
    expected = np.log(np.exp(per_dim.sum(-1)).mean(-1))
    np.testing.assert_allclose(to_numpy(prior.log_prob(z)), expected, rtol=1e-4)
    sample = to_numpy(prior.sample(6, seed=2))
    assert sample.shape == (6, 2) and np.isfinite(sample).all()


def test_samples_follow_the_density():
    model = vamp_vae()
    model.build((None,) + SHAPE)
    means, log_vars = (
        to_numpy(t).astype("float64") for t in model.prior.components()
    )
    z = to_numpy(model.prior.sample(40_000, seed=3)).astype("float64")
    np.testing.assert_allclose(z.mean(0), means.mean(0), atol=0.03)
    second = (np.exp(log_vars) + means**2).mean(0)
    np.testing.assert_allclose((z**2).mean(0), second, rtol=0.03)


def test_pseudo_inputs_are_trained_and_saved_once(tmp_path):
    model = vamp_vae()
    x = (np.random.default_rng(0).random((32,) + SHAPE) < 0.5).astype("f4")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.build((None,) + SHAPE)
    before = to_numpy(model.prior.pseudo_inputs).copy()
    model.fit(x, epochs=2, batch_size=8, verbose=0)
    after = to_numpy(model.prior.pseudo_inputs)
    assert not np.allclose(before, after)
    # The encoder's weights belong to the model once, not to the prior too.
    assert len(model.prior.weights) == 1
    paths = [v.path for v in model.weights]
    assert len(paths) == len(set(paths))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.prior, kvae.priors.VampPrior)
    np.testing.assert_array_equal(to_numpy(loaded.prior.pseudo_inputs), after)
    z = np.random.default_rng(1).normal(size=(3, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(loaded.prior.log_prob(z)),
        to_numpy(model.prior.log_prob(z)),
        rtol=1e-6,
    )


def test_config_round_trip():
    prior = kvae.priors.VampPrior(
        num_components=3,
        pseudo_input_shape=SHAPE,
        init_mean=0.1,
        init_stddev=0.2,
        clip_range=None,
        seed=4,
    )
    config = prior.get_config()
    clone = kvae.priors.VampPrior.from_config(config)
    assert clone.get_config() == config
    assert clone.pseudo_input_shape == SHAPE and clone.clip_range is None


def test_pseudo_input_shape_must_match_the_encoder_at_construction():
    inputs = keras.Input(SHAPE)
    h = keras.layers.Flatten()(inputs)
    encoder = keras.Model(inputs, [keras.layers.Dense(2)(h)] * 2)
    with pytest.raises(ValueError, match=r"pseudo-inputs have shape"):
        vamp_vae(
            kvae.priors.VampPrior(3, pseudo_input_shape=(8, 8, 1)), encoder
        )


def test_pseudo_input_shape_must_match_the_data_at_build():
    model = vamp_vae(kvae.priors.VampPrior(3, pseudo_input_shape=(8, 8, 1)))
    x = np.zeros((4,) + SHAPE, "float32")
    with pytest.raises(ValueError, match=r"pseudo_input_shape=\(4, 4, 1\)"):
        model.fit(x, epochs=1, verbose=0)


def test_needs_a_model():
    prior = kvae.priors.VampPrior(3)
    with pytest.raises(ValueError, match="through an encoder"):
        prior.build((None, 2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_components": 0}, "num_components"),
        ({"clip_range": (1.0, 0.0)}, "clip_range"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kvae.priors.VampPrior(**kwargs)
