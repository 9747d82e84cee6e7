import keras
import pytest

import kvae


@pytest.mark.parametrize("name", sorted(kvae.priors.PRIORS))
def test_names_give_default_priors(name):
    prior = kvae.priors.get(name)
    assert type(prior) is kvae.priors.PRIORS[name]
    model_class, kwargs = kvae.VAE, {}
    if prior.needs_labels:
        model_class, kwargs = kvae.ConditionalVAE, {"num_classes": 3}
    model = model_class(
        kvae.layers.MLPEncoder(2),
        kvae.layers.MLPDecoder(),
        prior=name,
        **kwargs,
    )
    assert type(model.prior) is kvae.priors.PRIORS[name]
    config = keras.saving.serialize_keras_object(prior)
    assert type(kvae.priors.get(config)) is type(prior)


def test_an_instance_is_used_as_given():
    prior = kvae.priors.MixtureOfGaussians(3)
    assert kvae.priors.get(prior) is prior


@pytest.mark.parametrize("bad", ["vampprior", "", None, 3, {"x": 1}])
def test_unknown_prior(bad):
    with pytest.raises(ValueError, match="Unknown prior"):
        kvae.VAE(kvae.layers.MLPEncoder(2), kvae.layers.MLPDecoder(), prior=bad)
