"""`kvae.evaluation` refuses what it cannot evaluate before any work, with
a message that names the argument and what to give instead."""

import keras
import numpy as np
import pytest

import kvae
from kvae import evaluation

X = np.random.default_rng(0).random((8, 12, 12, 1)).astype("float32")


@pytest.fixture(scope="module")
def model():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
        seed=0,
    )
    model.compile()
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    return model


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda m: evaluation.importance_weighted_nll(m, X[0], 2),
            ValueError,
            "is one image of shape (12, 12, 1), without a batch axis",
        ),
        (
            lambda m: evaluation.importance_weighted_nll(m, list(X), 2),
            ValueError,
            "got a Python list of 8 single images",
        ),
        (
            lambda m: evaluation.negative_elbo(m, list(X)),
            ValueError,
            "is a Python list",
        ),
        (
            lambda m: evaluation.negative_elbo(m, X[0]),
            ValueError,
            "without a batch axis",
        ),
        (
            lambda m: evaluation.importance_weighted_nll(m, X, 2, seed=-1),
            ValueError,
            "`seed` must be an int >= 0; got -1",
        ),
        (
            lambda m: evaluation.evaluate(m, X, 2, num_examples=0),
            ValueError,
            "`num_examples` must be a positive int; got 0",
        ),
        (
            lambda m: evaluation.evaluate(m, X, 2, num_examples=-1),
            ValueError,
            "`num_examples` must be a positive int; got -1",
        ),
        (
            lambda m: evaluation.evaluate(m, X, num_samples=-1),
            ValueError,
            "`num_samples` must be an int >= 0; got -1",
        ),
        (
            lambda m: evaluation.negative_elbo(m, X, batch_size=0),
            ValueError,
            "`batch_size` must be a positive int; got 0",
        ),
        (
            lambda m: evaluation.importance_weighted_nll(m, X, batch_size=0),
            ValueError,
            "`batch_size` must be a positive int; got 0",
        ),
        (
            lambda m: evaluation.log_importance_weights(
                m, X, np.zeros((2, 3, 2), "float32")
            ),
            ValueError,
            "eps must have shape (k, batch=8, total_latent_dim=2)",
        ),
        (
            lambda m: evaluation.log_importance_weights(
                m, X, np.zeros((2, 8), "float32")
            ),
            ValueError,
            "got (2, 8)",
        ),
    ],
)
def test_bad_arguments_are_refused_with_what_to_do(model, call, error, words):
    with pytest.raises(error) as info:
        call(model)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "function",
    [
        evaluation.negative_elbo,
        evaluation.importance_weighted_nll,
        evaluation.evaluate,
    ],
)
def test_a_plain_keras_model_is_refused(function):
    plain = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Dense(2)])
    plain.compile(loss="mse")
    with pytest.raises(TypeError) as info:
        function(plain, X)
    message = str(info.value)
    assert "takes a kvae.VAE or kvae.HierarchicalVAE" in message
    assert "got Sequential" in message


def test_an_uncompiled_model_is_refused_by_negative_elbo():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(8,)),
        kvae.layers.MLPDecoder((12, 12, 1), hidden_units=(8,)),
        image_metrics=False,
    )
    with pytest.raises(ValueError, match=r"call model.compile\(\) first"):
        evaluation.negative_elbo(model, X)
