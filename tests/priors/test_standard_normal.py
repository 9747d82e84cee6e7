import math

import keras
import numpy as np

import kvae
from tests.helpers import to_numpy


def test_log_prob_matches_numpy():
    prior = kvae.priors.StandardNormal()
    prior.build((None, 3))
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32") * 2
    expected = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    np.testing.assert_allclose(to_numpy(prior.log_prob(z)), expected, rtol=1e-5)


def test_analytic_kl_matches_the_sample_estimate_on_average():
    prior = kvae.priors.StandardNormal()
    prior.build((None, 2))
    rng = np.random.default_rng(1)
    mean = np.array([[0.5, -1.0]], "float32")
    log_var = np.array([[-0.5, 0.3]], "float32")
    analytic = to_numpy(prior.kl_divergence(mean, log_var, mean))
    assert analytic.shape == (1, 2)  # one column per dimension
    expected = 0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)
    np.testing.assert_allclose(analytic, expected, rtol=1e-5)
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(200_000, 2))
    z = z.astype("float32")
    estimate = prior.sampled_kl(
        np.repeat(mean, len(z), 0), np.repeat(log_var, len(z), 0), z
    )
    assert to_numpy(estimate).shape == (len(z), 1)
    np.testing.assert_allclose(
        to_numpy(estimate).mean(), expected.sum(), atol=0.01
    )


def test_sample_shape_and_moments():
    prior = kvae.priors.StandardNormal()
    prior.build((None, 4))
    z = to_numpy(prior.sample(20_000, seed=3))
    assert z.shape == (20_000, 4)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(z.std(0), 1.0, atol=0.03)
    again = to_numpy(prior.sample(5, seed=7))
    np.testing.assert_array_equal(to_numpy(prior.sample(5, seed=7)), again)
    assert not np.allclose(to_numpy(prior.sample(5, seed=8)), again)


def test_config_round_trip():
    prior = kvae.priors.StandardNormal(name="p")
    clone = kvae.priors.StandardNormal.from_config(prior.get_config())
    assert clone.get_config() == prior.get_config()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(prior)
    )
    assert isinstance(restored, kvae.priors.StandardNormal)
