"""kvae.ConditionalVAE: labelled data in every form fit takes, the
inference methods with labels, saving and the label checks."""

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

NUM_CLASSES = 4
RNG = np.random.default_rng(0)
X = (RNG.random((32, 16, 16, 1)) < 0.3).astype("float32")
Y = np.arange(32) % NUM_CLASSES


def conditional_vae(**kwargs):
    # Small MLPs keep each fit to a second; the conv and residual layers'
    # conditioning is tested in tests/layers, and a conv model's file
    # across backends in test_conditional_vae_backends.py.
    return kvae.ConditionalVAE(
        kvae.layers.MLPEncoder(3, hidden_units=(16,)),
        kvae.layers.MLPDecoder((16, 16, 1), hidden_units=(16,)),
        num_classes=NUM_CLASSES,
        seed=1,
        **kwargs,
    )


def trained(**kwargs):
    model = conditional_vae(**kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    return model


def steps_taken(model):
    return 0 if model.optimizer is None else int(model.optimizer.iterations)


class Pairs(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        rows = slice(8 * index, 8 * index + 8)
        return X[rows], Y[rows]


def labelled_data():
    """The same labelled images as each form `fit` takes."""
    import tensorflow as tf

    forms = {
        "arrays": ((X, Y), {"batch_size": 8}),
        "tuple": (((X, Y),), {"batch_size": 8}),
        "tf.data": (
            (tf.data.Dataset.from_tensor_slices((X, Y)).batch(8),),
            {},
        ),
        "PyDataset": ((Pairs(),), {}),
    }
    try:
        import torch
    except ImportError:
        return forms
    dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(X), torch.from_numpy(Y)
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=8)
    # Keras warns that `shuffle` does nothing for a DataLoader.
    forms["DataLoader"] = ((loader,), {"shuffle": False})
    return forms


@pytest.mark.parametrize("form", sorted(labelled_data()))
def test_fit_takes_labelled_data(form):
    args, kwargs = labelled_data()[form]
    model = conditional_vae()
    model.compile(optimizer="adam")
    history = model.fit(*args, epochs=1, verbose=0, **kwargs)
    assert np.isfinite(history.history["loss"]).all()
    assert steps_taken(model) == 4


def test_the_label_changes_the_output():
    model = trained()
    z = np.zeros((NUM_CLASSES, 3), "float32")
    images = to_numpy(model.decode(z, np.arange(NUM_CLASSES)))
    assert images.shape == (NUM_CLASSES, 16, 16, 1)
    for c in range(1, NUM_CLASSES):
        assert np.abs(images[c] - images[0]).max() > 1e-3
    # One int labels every image; so do one-hot rows.
    np.testing.assert_allclose(
        to_numpy(model.decode(z[:2], 2)), images[[2, 2]], atol=1e-6
    )
    one_hot = np.eye(NUM_CLASSES)[[3, 1]]
    np.testing.assert_allclose(
        to_numpy(model.decode(z[:2], one_hot)), images[[3, 1]], atol=1e-6
    )


def test_inference_methods_take_labels():
    model = trained()
    z_mean, z_log_var = model.encode(X[:5], Y[:5])
    assert tuple(z_mean.shape) == (5, 3) == tuple(z_log_var.shape)
    other = to_numpy(model.encode(X[:5], (Y[:5] + 1) % NUM_CLASSES)[0])
    assert np.abs(other - to_numpy(z_mean)).max() > 1e-4
    assert tuple(model.reconstruct(X[:5], Y[:5]).shape) == (5, 16, 16, 1)
    samples = to_numpy(model.sample(6, labels=1, seed=3))
    np.testing.assert_allclose(
        samples, to_numpy(model.sample(6, labels=[1] * 6, seed=3)), atol=1e-6
    )
    assert np.abs(samples - to_numpy(model.sample(6, 2, seed=3))).max() > 0


def test_importance_weights_repeat_the_labels_per_sample():
    model = trained(objective="iwae", num_samples=3)
    eps = RNG.standard_normal((4, 6, 3)).astype("float32")
    log_w = to_numpy(model.log_importance_weights(X[:6], eps, labels=Y[:6]))
    # Each image's weights are those of that image alone, with its label.
    alone = to_numpy(
        model.log_importance_weights(X[2:3], eps[:, 2:3], labels=Y[2:3])
    )
    np.testing.assert_allclose(log_w[:, 2:3], alone, rtol=1e-5)


def test_evaluation_is_conditional_on_the_labels():
    model = trained()
    iwae = kvae.evaluation.importance_weighted_nll
    given = iwae(model, X, labels=Y, num_samples=4, reduce=False)
    wrong = iwae(model, X, labels=(Y + 1) % 4, num_samples=4, reduce=False)
    assert given.shape == (32,) and not np.allclose(given, wrong)
    result = kvae.evaluation.evaluate(
        model, X, labels=Y, num_samples=4, num_examples=8, batch_size=8
    )
    assert np.isfinite(result["negative_elbo"])
    assert result["iwae_examples"] == 8
    nelbo = kvae.evaluation.negative_elbo(model, X, labels=Y, batch_size=8)
    assert np.isfinite(nelbo)
    with pytest.raises(ValueError, match="are missing"):
        iwae(model, X, num_samples=2)


def test_config_round_trip_and_save_load(tmp_path):
    model = trained(prior="mixture_of_gaussians")
    config = model.get_config()
    assert config["num_classes"] == NUM_CLASSES
    assert config["encoder"]["config"]["conditioning"] == "film"
    clone = kvae.ConditionalVAE.from_config(config)
    assert clone.get_config() == config
    model.save(tmp_path / "m.keras")
    loaded = kvae.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, kvae.ConditionalVAE)
    z = np.zeros((NUM_CLASSES, 3), "float32")
    labels = np.arange(NUM_CLASSES)
    np.testing.assert_allclose(
        to_numpy(loaded.decode(z, labels)),
        to_numpy(model.decode(z, labels)),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "labels, message",
    [
        (Y + 1, r"must lie in \[0, 3\].*8 do not, e.g. \[4\]"),
        (Y - 1, r"must lie in \[0, 3\]"),
        (Y + 0.5, r"not whole numbers: \[0.5"),
        (Y.astype(str), "integer class indices, got dtype <U"),
        (Y[:10], "There are 10 labels of the training data for 32 images"),
        (np.ones((32, NUM_CLASSES)), "some rows are not one-hot"),
        (None, "labels of the training data are missing"),
    ],
)
def test_label_checks_before_any_step(labels, message):
    model = conditional_vae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        model.fit(X, labels, epochs=1, batch_size=8, verbose=0)
    assert steps_taken(model) == 0


def test_labels_of_datasets_and_validation_data_are_checked():
    import tensorflow as tf

    model = conditional_vae()
    model.compile(optimizer="adam")
    images_only = tf.data.Dataset.from_tensor_slices(X).batch(8)
    with pytest.raises(ValueError, match="missing"):
        model.fit(images_only, epochs=1, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices((X, Y + 4)).batch(8)
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\]"):
        model.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_data are missing"):
        model.fit(X, Y, validation_data=(X,), epochs=1, verbose=0)
    assert steps_taken(model) == 0
    with pytest.raises(ValueError, match=r"sample\(\) must lie"):
        trained().sample(2, labels=9)
    with pytest.raises(ValueError, match=r"encode\(\) are missing"):
        trained().encode(X[:2])


def test_labels_given_to_an_unconditional_model_are_refused():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(3, hidden_units=(16,)),
        kvae.layers.MLPDecoder((16, 16, 1), hidden_units=(16,)),
    )
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="VAE is unconditional"):
        model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert steps_taken(model) == 0
    model.fit(X, epochs=1, batch_size=8, verbose=0)
    with pytest.raises(ValueError, match="VAE is unconditional"):
        kvae.evaluation.importance_weighted_nll(model, X, labels=Y)
    with pytest.raises(ValueError, match="VAE is unconditional"):
        model.evaluate(X, Y, verbose=0)


def test_construction_errors():
    encoder = kvae.layers.ConvEncoder(3, filters=(4, 8))
    decoder = kvae.layers.ConvDecoder((16, 16, 1), filters=(8, 4))
    with pytest.raises(ValueError, match="num_classes` must be an int >= 2"):
        kvae.ConditionalVAE(encoder, decoder, num_classes=1)

    class Plain(keras.layers.Layer):
        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match="Plain.call takes no `condition`"):
        kvae.ConditionalVAE(encoder, Plain(), num_classes=3)
    with pytest.raises(ValueError, match="cannot use the VampPrior"):
        kvae.ConditionalVAE(encoder, decoder, num_classes=3, prior="vamp")
    with pytest.raises(ValueError, match="predict"):
        conditional_vae().predict(X)


def with_class_prior(means, log_vars):
    """A built model whose `ClassGaussian` has the given parameters."""
    model = conditional_vae(prior="class_gaussian")
    model.build((None, 16, 16, 1))
    model.prior.means.assign(means)
    model.prior.log_vars.assign(log_vars)
    return model


def test_the_class_prior_draws_from_the_gaussian_of_the_label():
    means = RNG.normal(size=(NUM_CLASSES, 3)).astype("float32") * 3
    log_vars = np.log(
        RNG.uniform(0.1, 2.0, (NUM_CLASSES, 3)).astype("float32")
    )
    model = with_class_prior(means, log_vars)
    assert model.prior.num_classes == NUM_CLASSES
    for c in range(NUM_CLASSES):
        z = to_numpy(model.sample_latent(4000, seed=c, labels=c))
        np.testing.assert_allclose(z.mean(0), means[c], atol=0.15)
        np.testing.assert_allclose(
            z.std(0), np.exp(0.5 * log_vars[c]), rtol=0.08
        )
    # The same seed draws the same noise for every label.
    z0 = to_numpy(model.sample_latent(5, seed=7, labels=0))
    z1 = to_numpy(model.sample_latent(5, seed=7, labels=1))
    np.testing.assert_allclose(
        (z0 - means[0]) / np.exp(0.5 * log_vars[0]),
        (z1 - means[1]) / np.exp(0.5 * log_vars[1]),
        rtol=1e-4,
        atol=1e-4,
    )
    with pytest.raises(ValueError, match="sample_latent\\(\\) are missing"):
        model.sample_latent(3)
    assert model.sample(3, labels=[0, 1, 2]).shape == (3, 16, 16, 1)


def test_the_class_prior_kl_is_that_of_each_images_class():
    means = RNG.normal(size=(NUM_CLASSES, 3)).astype("float32")
    log_vars = RNG.normal(size=(NUM_CLASSES, 3)).astype("float32") * 0.5
    model = with_class_prior(means, log_vars)
    mu = RNG.normal(size=(8, 3)).astype("float32")
    lv = RNG.normal(size=(8, 3)).astype("float32") * 0.3
    labels = np.arange(8) % NUM_CLASSES
    one_hot = np.eye(NUM_CLASSES, dtype="float32")[labels]
    with model.condition.given(keras.ops.convert_to_tensor(one_hot)):
        kl = to_numpy(model.prior.kl_divergence(mu, lv, mu))
        z = RNG.normal(size=(8, 3)).astype("float32")
        log_p = to_numpy(model.prior.log_prob(z))
    m, v = means[labels], np.exp(log_vars[labels])
    expected = 0.5 * (
        log_vars[labels] - lv + (np.exp(lv) + (mu - m) ** 2) / v - 1
    )
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)
    by_hand = -0.5 * np.sum(
        np.log(2 * np.pi * v) + (z - m) ** 2 / v, axis=-1
    )
    np.testing.assert_allclose(log_p, by_hand, rtol=1e-5)


def test_the_class_prior_trains_saves_and_is_refused_without_labels(tmp_path):
    model = trained(prior="class_gaussian")
    # Each class's Gaussian moved from N(0, I) on its own images.
    means = to_numpy(model.prior.means)
    assert np.abs(means).max() > 0
    assert not np.allclose(means[0], means[1])
    path = tmp_path / "class_prior.keras"
    model.save(path)
    loaded = kvae.load_model(path)
    assert isinstance(loaded.prior, kvae.priors.ClassGaussian)
    np.testing.assert_allclose(
        to_numpy(loaded.sample_latent(4, seed=2, labels=3)),
        to_numpy(model.sample_latent(4, seed=2, labels=3)),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="only a kvae.ConditionalVAE has"):
        kvae.VAE(
            kvae.layers.MLPEncoder(3),
            kvae.layers.MLPDecoder((16, 16, 1)),
            prior="class_gaussian",
        )
    with pytest.raises(ValueError, match="has 3 classes but the model has 4"):
        conditional_vae(prior=kvae.priors.ClassGaussian(num_classes=3))
