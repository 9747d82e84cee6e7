"""Arguments that would give a NaN loss from the first step, or a raw
Python error later, are refused when the object is made; a model that is
not built says so before its prior is asked for samples."""

import numpy as np
import pytest

import kvae
from kvae import priors
from tests.helpers import tiny_hierarchical_layers


def small_vae(**kwargs):
    return kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
        **kwargs,
    )


@pytest.mark.parametrize(
    "make, error, words",
    [
        # NaN from the start.
        (
            lambda: priors.MixtureOfGaussians(mean_stddev=float("nan")),
            ValueError,
            "`mean_stddev` must be a finite number > 0, got nan",
        ),
        (
            lambda: priors.MixtureOfGaussians(mean_stddev=-1.0),
            ValueError,
            "`mean_stddev` must be a finite number > 0, got -1.0",
        ),
        (
            lambda: priors.VampPrior(init_stddev=float("inf")),
            ValueError,
            "`init_stddev` must be a finite number > 0",
        ),
        (
            lambda: small_vae(likelihood="gaussian", sigma=1e-30),
            ValueError,
            "`sigma` must be 'learned', 'optimal' or a finite number >= "
            "0.002479",
        ),
        # Wrong types.
        (
            lambda: priors.VampPrior(clip_range=5),
            ValueError,
            "`clip_range` must be a pair (low, high) of finite numbers",
        ),
        (
            lambda: priors.VampPrior(clip_range=(0.0, float("nan"))),
            ValueError,
            "`clip_range` must be a pair (low, high) of finite numbers",
        ),
        (
            lambda: priors.VampPrior(pseudo_input_shape="abc"),
            TypeError,
            "`pseudo_input_shape` must be the shape of one image",
        ),
        (
            lambda: priors.VampPrior(pseudo_input_shape=(28, 0, 1)),
            ValueError,
            "got (28, 0, 1)",
        ),
        (
            lambda: priors.MixtureOfGaussians(seed="1"),
            ValueError,
            "`seed` must be an int >= 0, got '1' (str)",
        ),
        (
            lambda: kvae.layers.HierarchicalEncoder(resolutions=7),
            TypeError,
            "resolutions must be a tuple of ints, the heights of the latent",
        ),
        (
            lambda: kvae.layers.HierarchicalDecoder(
                (28, 28, 1), resolutions=(7, 14.0)
            ),
            TypeError,
            "which holds 14.0 (float)",
        ),
        (
            lambda: kvae.layers.HierarchicalDecoder(
                (28, 28, 1), activation="relu"
            ),
            ValueError,
            "Unknown block activation 'relu': choose one of ['gelu', 'silu']",
        ),
        (
            lambda: kvae.layers.ConvEncoder(2, filters=32),
            TypeError,
            "filters must be a tuple of ints, one channel count per stage",
        ),
        (
            lambda: kvae.layers.MLPEncoder(2, hidden_units=8),
            TypeError,
            "hidden_units must be a tuple of ints, one width per layer",
        ),
        (
            lambda: kvae.layers.MLPDecoder("abc"),
            TypeError,
            "output_shape must be a tuple of ints",
        ),
        (
            lambda: kvae.layers.ConvDecoder((28, -28, 1)),
            ValueError,
            "output_shape must be a tuple of positive ints",
        ),
        # Bounds are stated.
        (
            lambda: small_vae(free_bits=-0.1),
            ValueError,
            "`free_bits` must be a finite number >= 0, got -0.1",
        ),
        (
            lambda: small_vae(beta=-1.0),
            ValueError,
            "`beta` must be a finite number >= 0, got -1.0",
        ),
    ],
)
def test_bad_arguments_are_refused_when_made(make, error, words):
    with pytest.raises(error) as info:
        make()
    assert words in str(info.value)


@pytest.mark.parametrize(
    "prior", ["standard_normal", "mixture_of_gaussians", "vamp"]
)
def test_sample_and_decode_on_an_unbuilt_model_say_to_build_it(prior):
    model = small_vae(prior=prior)
    model.compile()
    for call, name in (
        (lambda: model.sample(2), "sample()"),
        (lambda: model.sample_latent(2), "sample()"),
        (lambda: model.decode(np.zeros((2, 2), "float32")), "decode()"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{name} needs a built model"), message
        assert "build the model first" in message


def test_sample_on_an_unbuilt_hierarchical_model_says_to_build_it():
    model = kvae.HierarchicalVAE(
        *tiny_hierarchical_layers((12, 12, 1)), image_metrics=False
    )
    model.compile()
    with pytest.raises(ValueError, match="build the model first"):
        model.sample(2)
