"""Samplers fitted to a conditional model: codes encoded with their
labels, one density for all classes or one per class, samples decoded
with the labels asked for, saving, and the label errors."""

import keras
import numpy as np
import pytest

import kvae
from kvae.samplers import FlowSampler
from kvae.samplers import GaussianMixtureSampler
from kvae.samplers import TwoStageSampler
from kvae.samplers import training_codes

NUM_CLASSES = 3
RNG = np.random.default_rng(0)
X = (RNG.random((90, 8, 8, 1)) < 0.3).astype("float32")
Y = np.arange(90) % NUM_CLASSES


def conditional(prior="standard_normal"):
    keras.utils.set_random_seed(0)
    model = kvae.ConditionalVAE(
        kvae.layers.MLPEncoder(2, hidden_units=(16,)),
        kvae.layers.MLPDecoder((8, 8, 1), hidden_units=(16,)),
        num_classes=NUM_CLASSES,
        prior=prior,
        image_metrics=False,
        seed=1,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(X, Y, epochs=3, batch_size=30, verbose=0)
    return model


@pytest.fixture(scope="module")
def models():
    return {"p(z)": conditional(), "p(z|y)": conditional("class_gaussian")}


def test_codes_are_encoded_with_their_labels(models):
    model = models["p(z)"]
    codes, labels = training_codes(model, X, 32, 0, labels=Y, with_labels=True)
    np.testing.assert_array_equal(labels, Y)
    mean, _ = model.encode(X, labels=Y)
    np.testing.assert_allclose(
        codes, keras.ops.convert_to_numpy(mean), atol=1e-6
    )
    # A dataset of (images, labels) batches carries its own labels.
    pairs = [(X[i : i + 30], Y[i : i + 30]) for i in range(0, 90, 30)]
    from_pairs = training_codes(model, pairs, verbose=0)
    np.testing.assert_allclose(from_pairs, codes, atol=1e-6)


def test_a_class_prior_gets_one_density_per_class(models):
    model = models["p(z|y)"]
    sampler = GaussianMixtureSampler(2).fit(model, X, labels=Y, verbose=0)
    assert sampler.by_class and len(sampler.class_samplers) == NUM_CLASSES
    codes = training_codes(model, X, verbose=0, labels=Y)
    centres = np.stack([codes[Y == c].mean(0) for c in range(NUM_CLASSES)])
    for c in range(NUM_CLASSES):
        drawn = sampler.sample_latent(400, seed=c, labels=c).mean(0)
        distances = np.linalg.norm(centres - drawn, axis=1)
        assert distances.argmin() == c, distances
    # One density for all classes is the default under p(z).
    shared = GaussianMixtureSampler(2).fit(
        models["p(z)"], X, labels=Y, verbose=0
    )
    assert not shared.by_class and shared.class_samplers is None


@pytest.mark.parametrize("by_class", [False, True])
def test_samples_are_decoded_with_the_labels(models, by_class):
    model = models["p(z)"]
    sampler = GaussianMixtureSampler(2, by_class=by_class).fit(
        model, X, labels=Y, verbose=0
    )
    labels = np.array([0, 2, 1, 2])
    images = sampler.sample(4, labels=labels, seed=3)
    z = sampler.sample_latent(4, seed=3, labels=labels)
    expected = keras.ops.convert_to_numpy(model.decode(z, labels))
    np.testing.assert_allclose(images, expected, atol=1e-6)
    scores = kvae.evaluation.label_accuracy(
        sampler, _Classifier(), num_per_class=5
    )
    assert scores["per_class"] == [1.0, 0.0, 0.0]


class _Classifier:
    """Says class 0 for every image."""

    def predict(self, images, verbose=0):
        scores = np.zeros((len(images), NUM_CLASSES))
        scores[:, 0] = 1
        return scores


def test_a_sampler_by_class_saves_and_loads(models, tmp_path):
    model = models["p(z|y)"]
    for sampler in (
        GaussianMixtureSampler(2),
        TwoStageSampler(hidden_units=(8,), epochs=2, batch_size=10),
        FlowSampler(num_couplings=2, hidden_units=(8,), epochs=2),
    ):
        sampler.fit(model, X, labels=Y, verbose=0)
        path = str(tmp_path / f"{type(sampler).__name__}.npz")
        sampler.save(path)
        loaded = kvae.samplers.load_sampler(path, model)
        assert loaded.by_class and loaded.num_classes == NUM_CLASSES
        labels = [2, 0, 1, 1]
        np.testing.assert_allclose(
            loaded.sample(4, labels=labels, seed=7),
            sampler.sample(4, labels=labels, seed=7),
            atol=1e-5,
        )
    unconditional = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(16,)),
        kvae.layers.MLPDecoder((8, 8, 1), hidden_units=(16,)),
        image_metrics=False,
    )
    unconditional.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match="fitted to a model of 3 classes"):
        kvae.samplers.load_sampler(path, unconditional)


def test_labels_are_checked(models):
    model = models["p(z)"]
    with pytest.raises(
        ValueError, match="labels given to the sampler are missing|missing"
    ):
        GaussianMixtureSampler(2).fit(model, X, verbose=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        GaussianMixtureSampler(2).fit(model, X, labels=Y + 1, verbose=0)
    sampler = GaussianMixtureSampler(2).fit(model, X, labels=Y, verbose=0)
    with pytest.raises(ValueError, match="missing"):
        sampler.sample(2, seed=0)
    with pytest.raises(ValueError, match="2 labels given to sample"):
        sampler.sample(3, labels=[0, 1], seed=0)
    by_class = GaussianMixtureSampler(2, by_class=True).fit(
        model, X, labels=Y, verbose=0
    )
    with pytest.raises(ValueError, match="one density per class"):
        by_class.sample_latent(2, seed=0)
    unconditional = kvae.VAE(
        kvae.layers.MLPEncoder(2, hidden_units=(16,)),
        kvae.layers.MLPDecoder((8, 8, 1), hidden_units=(16,)),
        image_metrics=False,
    )
    unconditional.compile(optimizer="adam")
    unconditional.fit(X, epochs=1, batch_size=30, verbose=0)
    with pytest.raises(ValueError, match="takes no labels"):
        GaussianMixtureSampler(2).fit(unconditional, X, labels=Y, verbose=0)
    with pytest.raises(ValueError, match="takes no labels"):
        GaussianMixtureSampler(2, by_class=True).fit(
            unconditional, X, verbose=0
        )
    fitted = GaussianMixtureSampler(2).fit(unconditional, X, verbose=0)
    with pytest.raises(ValueError, match="takes no labels"):
        fitted.sample(2, labels=0)
    # A seed given second lands on labels: the message says so.
    with pytest.raises(ValueError, match=r"sample\(n, seed=0\)"):
        fitted.sample(2, 0)
    with pytest.raises(ValueError, match="by_class must be"):
        GaussianMixtureSampler(2, by_class="yes")
