import math

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy


def mixture(num_components=3, latent_dim=2, seed=0):
    rng = np.random.default_rng(seed)
    prior = kvae.priors.MixtureOfGaussians(num_components, seed=seed)
    prior.build((None, latent_dim))
    means = rng.normal(0, 3, (num_components, latent_dim))
    log_vars = rng.normal(-0.5, 0.5, (num_components, latent_dim))
    logits = rng.normal(0, 1, num_components)
    for variable, value in zip(
        (prior.means, prior.log_vars, prior.logits), (means, log_vars, logits)
    ):
        variable.assign(value.astype("float32"))
    weights = np.exp(logits) / np.exp(logits).sum()
    return prior, means, log_vars, weights


def numpy_log_prob(z, means, log_vars, weights):
    var = np.exp(log_vars)
    per_dim = -0.5 * (
        math.log(2 * math.pi) + log_vars + (z[:, None] - means) ** 2 / var
    )
    density = (weights * np.exp(per_dim.sum(-1))).sum(-1)
    return np.log(density)


def test_log_prob_matches_numpy():
    prior, means, log_vars, weights = mixture()
    z = np.random.default_rng(1).normal(0, 3, (50, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(prior.log_prob(z)),
        numpy_log_prob(z.astype("float64"), means, log_vars, weights),
        rtol=1e-4,
    )


def test_kl_is_the_single_sample_estimate():
    prior, means, log_vars, weights = mixture()
    z = np.array([[0.3, -0.2]], "float32")
    mean = np.array([[0.1, 0.0]], "float32")
    log_var = np.array([[-1.0, 0.5]], "float32")
    log_q = -0.5 * (
        math.log(2 * math.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)
    ).sum(-1)
    expected = log_q - numpy_log_prob(z, means, log_vars, weights)
    kl = to_numpy(prior.kl_divergence(mean, log_var, z))
    assert kl.shape == (1, 1)
    np.testing.assert_allclose(kl[:, 0], expected, rtol=1e-4)


def test_samples_follow_the_density():
    prior, _, log_vars, weights = mixture()
    # Far-apart means, so that the nearest mean names each draw's component.
    means = np.array([[-12.0, 0.0], [0.0, 12.0], [12.0, 0.0]])
    prior.means.assign(means.astype("float32"))
    z = to_numpy(prior.sample(40_000, seed=2)).astype("float64")
    assert z.shape == (40_000, 2)
    mean = weights @ means
    second = weights @ (np.exp(log_vars) + means**2)
    # Within 4 standard errors of the estimates.
    n = len(z)
    np.testing.assert_array_less(
        abs(z.mean(0) - mean), 4 * np.sqrt((second - mean**2) / n)
    )
    np.testing.assert_array_less(
        abs((z**2).mean(0) - second), 4 * (z**2).std(0) / np.sqrt(n)
    )
    # Each component's share: nearest-mean assignment on far-apart means.
    assignment = np.argmin(((z[:, None] - means) ** 2).sum(-1), axis=1)
    shares = np.bincount(assignment, minlength=3) / len(z)
    np.testing.assert_allclose(shares, weights, atol=0.03)


def test_fixed_weights_stay_uniform():
    prior = kvae.priors.MixtureOfGaussians(4, learn_weights=False, seed=1)
    prior.build((None, 2))
    assert [w.name for w in prior.trainable_weights] == ["means", "log_vars"]
    z = np.random.default_rng(2).normal(size=(6, 2)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(prior.log_prob(z)),
        numpy_log_prob(
            z.astype("float64"),
            to_numpy(prior.means).astype("float64"),
            np.zeros((4, 2)),
            np.full(4, 0.25),
        ),
        rtol=1e-4,
    )


def test_config_round_trip():
    prior = kvae.priors.MixtureOfGaussians(
        num_components=7, mean_stddev=0.5, learn_weights=False, seed=3
    )
    config = prior.get_config()
    clone = kvae.priors.MixtureOfGaussians.from_config(config)
    assert clone.get_config() == config
    assert clone.num_components == 7 and clone.learn_weights is False


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_number_of_components(bad):
    with pytest.raises(ValueError, match="num_components"):
        kvae.priors.MixtureOfGaussians(bad)


def test_model_saves_and_reloads_the_learned_prior(tmp_path):
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((4, 4, 1), hidden_units=(8,)),
        prior=kvae.priors.MixtureOfGaussians(3),
        image_metrics=False,
        seed=0,
    )
    x = (np.random.default_rng(0).random((32, 4, 4, 1)) < 0.5).astype("f4")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.build((None, 4, 4, 1))
    before = to_numpy(model.prior.means).copy()
    model.fit(x, epochs=2, batch_size=8, verbose=0)
    after = to_numpy(model.prior.means)
    assert not np.allclose(before, after)  # the prior is trained
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(to_numpy(loaded.prior.means), after)
    np.testing.assert_array_equal(
        to_numpy(loaded.sample(4, seed=1)), to_numpy(model.sample(4, seed=1))
    )
