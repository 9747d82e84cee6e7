"""A prior instance serves one model: a second model is refused, naming
the first, before it can take the prior over."""

import numpy as np
import pytest

import kvae
from kvae import priors

X = np.random.default_rng(0).random((8, 12, 12, 1)).astype("float32")


def small_vae(prior, name=None, latent_dim=2):
    return kvae.VAE(
        kvae.layers.MLPEncoder(latent_dim, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        prior=prior,
        image_metrics=False,
        name=name,
    )


# Two fits per prior: seconds each under JAX.
@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        lambda: priors.VampPrior(num_components=3),
        lambda: priors.MixtureOfGaussians(num_components=3),
        priors.StandardNormal,
    ],
)
def test_a_prior_given_to_a_second_model_is_refused(make):
    prior = make()
    first = small_vae(prior, name="first")
    first.compile()
    first.fit(X, epochs=1, batch_size=8, verbose=0)
    before = [np.array(w) for w in first.prior.get_weights()]
    encode_fn = getattr(prior, "encode_fn", None)
    with pytest.raises(ValueError) as info:
        small_vae(prior, name="second", latent_dim=3)
    message = str(info.value)
    assert "is already the prior of the model 'first'" in message
    assert "give each model its own" in message
    assert f"kvae.priors.{type(prior).__name__}.from_config" in message
    # The first model still owns an unchanged prior, and its own encoder.
    assert first.prior is prior
    assert getattr(prior, "encode_fn", None) is encode_fn
    for old, new in zip(before, first.prior.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert tuple(first.sample(2, seed=0).shape) == (2, 12, 12, 1)
    # The copy the message suggests works.
    copy = type(prior).from_config(prior.get_config())
    second = small_vae(copy, name="second", latent_dim=3)
    second.compile()
    second.fit(X, epochs=1, batch_size=8, verbose=0)
    assert second.prior.latent_dim == 3 and first.prior.latent_dim == 2


def test_the_same_model_may_be_given_its_prior_again():
    prior = priors.MixtureOfGaussians(num_components=2)
    model = small_vae(prior)
    prior.bind(model)
    assert model.prior is prior
