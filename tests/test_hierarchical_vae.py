"""`kvae.HierarchicalVAE`: its bound against NumPy, group by group, its
logs, warm-up and free bits, inference API, callbacks, saving and bad
input."""

import math

import imageio.v3 as iio
import keras
import numpy as np
import pytest

import kvae
from tests.helpers import randomized
from tests.helpers import tiny_hierarchical_layers
from tests.helpers import to_numpy

SHAPE = (8, 8, 1)
X = (np.random.default_rng(0).random((32,) + SHAPE) < 0.4).astype("float32")


def hvae(groups=(1, 1), **kwargs):
    kwargs.setdefault("image_metrics", False)
    return kvae.HierarchicalVAE(
        *tiny_hierarchical_layers(SHAPE, groups), seed=0, **kwargs
    )


def noise_for(mean):
    rng = np.random.default_rng(mean.shape[-1])
    return rng.standard_normal(tuple(mean.shape)).astype("float32")


def fixed_noise(model):
    model.draw_eps = lambda z_mean: keras.ops.convert_to_tensor(
        noise_for(z_mean)
    )
    return model


def log_normal(z, mean, log_var):
    return -0.5 * (
        math.log(2 * math.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)
    ).sum(-1)


def numpy_terms(model, x):
    """Runs the top-down path once with the noise of `fixed_noise`,
    recording every group's Gaussians, and computes the bound's terms in
    NumPy: `(nll, analytic KL per group, log q - log p per group)`, groups
    top first."""
    features = model.encoder(x)
    records = []

    def choose(g, prior, posterior):
        q_mean, q_log_var = (
            to_numpy(t).reshape(len(x), -1).astype("float64") for t in posterior
        )
        if prior is None:
            p_mean, p_log_var = np.zeros_like(q_mean), np.zeros_like(q_mean)
        else:
            p_mean, p_log_var = (
                to_numpy(t).reshape(len(x), -1).astype("float64") for t in prior
            )
        z = q_mean + np.exp(0.5 * q_log_var) * noise_for(q_mean)
        records.append((q_mean, q_log_var, p_mean, p_log_var, z))
        shape = (len(x),) + model.decoder.latent_shapes[g]
        return keras.ops.convert_to_tensor(z.reshape(shape).astype("float32"))

    logits = to_numpy(model.decoder.top_down(features[0], features, choose))
    flat_x, flat_l = x.reshape(len(x), -1), logits.reshape(len(x), -1)
    nll = -(flat_x * flat_l - np.logaddexp(0, flat_l)).sum(-1)
    kls, log_ratios = [], []
    for q_mean, q_log_var, p_mean, p_log_var, z in records:
        kls.append(
            0.5
            * (
                p_log_var
                - q_log_var
                + (np.exp(q_log_var) + (q_mean - p_mean) ** 2)
                / np.exp(p_log_var)
                - 1
            ).sum(-1)
        )
        log_ratios.append(
            log_normal(z, q_mean, q_log_var) - log_normal(z, p_mean, p_log_var)
        )
    return nll, kls, log_ratios


def test_every_group_kl_and_the_bound_match_numpy():
    model = fixed_noise(randomized(hvae(groups=(1, 2)), SHAPE))
    loss, aux = model.compute_elbo(keras.ops.convert_to_tensor(X))
    nll, kls, _ = numpy_terms(model, X)
    assert len(kls) == 3 and model.level_dims() == [32, 32, 8]
    np.testing.assert_allclose(
        to_numpy(aux["reconstruction_loss"]), nll.mean(), rtol=1e-4
    )
    # kl_loss_1 is the group nearest the image, the last one of the path.
    for level, kl in enumerate(reversed(kls), start=1):
        np.testing.assert_allclose(
            to_numpy(aux[f"kl_loss_{level}"]), kl.mean(), rtol=1e-4
        )
    total = sum(kl.mean() for kl in kls)
    np.testing.assert_allclose(to_numpy(aux["kl_loss"]), total, rtol=1e-4)
    # The bound is the reconstruction term plus the per-group KLs.
    np.testing.assert_allclose(to_numpy(loss), nll.mean() + total, rtol=1e-4)


def test_iwae_with_one_sample_is_the_sampled_elbo():
    model = fixed_noise(
        randomized(hvae(objective="iwae", num_samples=1), SHAPE)
    )
    loss, _ = model.compute_elbo(keras.ops.convert_to_tensor(X))
    nll, _, log_ratios = numpy_terms(model, X)
    np.testing.assert_allclose(
        to_numpy(loss), (nll + sum(log_ratios)).mean(), rtol=1e-4
    )
    # The importance weights take the same path, noise given per group.
    eps = np.concatenate(
        [noise_for(np.zeros((len(X), d))) for d in model.level_dims()], -1
    )[None]
    log_w = to_numpy(model.log_importance_weights(X, eps))
    np.testing.assert_allclose(log_w[0], -(nll + sum(log_ratios)), rtol=1e-4)


def test_warmup_and_free_bits_mid_ramp():
    model = fixed_noise(randomized(hvae(kl_warmup_steps=4), SHAPE))
    x = keras.ops.convert_to_tensor(X)
    _, aux = model.compute_elbo(x)
    kls = [float(to_numpy(aux[f"kl_loss_{i}"])) for i in (1, 2)]
    dims = model.level_dims()
    # A floor between the two groups' KL per dimension: one group floored.
    per_dim = sorted(kl / d for kl, d in zip(kls, dims))
    free_bits = float(np.mean(per_dim))
    model.free_bits = free_bits
    model.compute_elbo(x, training=True)  # step 1: weight 1/4
    loss, aux = model.compute_elbo(x, training=True)  # step 2: weight 2/4
    floored = sum(max(kl, free_bits * d) for kl, d in zip(kls, dims))
    assert floored > sum(kls)
    np.testing.assert_allclose(
        to_numpy(loss),
        float(to_numpy(aux["reconstruction_loss"])) + 0.5 * floored,
        rtol=1e-4,
    )


def test_iwae_objective_and_a_learned_prior_compose():
    model = hvae(
        prior=kvae.priors.VampPrior(num_components=20),
        objective="iwae",
        num_samples=3,
    )
    model.compile(optimizer="adam")
    logs = model.fit(X, epochs=1, batch_size=16, verbose=0).history
    assert logs["loss"][0] < logs["reconstruction_loss"][0] + logs["kl_loss"][0]
    # The VampPrior's pseudo-inputs go through the encoder and top group.
    assert model.prior.pseudo_inputs.shape == (20,) + SHAPE
    assert np.isfinite(kvae.evaluation.importance_weighted_nll(model, X, 5))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One model of three groups trained for two epochs, with the GIF
    callbacks: `(model, history, gif folder)`, shared by the tests below
    (tracing this model's steps is the slow part)."""
    folder = tmp_path_factory.mktemp("gifs")
    # The layers' initial weights come from the global seed: fixed here,
    # so that they do not depend on which tests ran before.
    keras.utils.set_random_seed(0)
    model = hvae(
        groups=(2, 1),
        prior="mixture_of_gaussians",
        skip_gradient_norm=1e6,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    callbacks = [
        kvae.callbacks.ReconstructionGIF(X[:4], folder, grid_size=(2, 2)),
        kvae.callbacks.SampleGIF(folder, grid_size=2),
    ]
    history = model.fit(
        X, epochs=2, batch_size=16, verbose=0, callbacks=callbacks
    )
    return model, history.history, folder


def test_fit_logs_the_kl_of_every_group(trained):
    model, logs, _ = trained
    names = [f"kl_loss_{i}" for i in (1, 2, 3)]
    assert all(name in logs for name in names), sorted(logs)
    total = sum(np.array(logs[name]) for name in names)
    np.testing.assert_allclose(logs["kl_loss"], total, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"],
        np.array(logs["reconstruction_loss"]) + logs["kl_loss"],
        rtol=1e-4,
    )
    assert logs["loss"][-1] < logs["loss"][0]
    assert logs["skipped_updates"] == [0.0, 0.0]
    result = kvae.evaluation.evaluate(model, X, num_samples=20)
    for name in names + ["iwae_nll"]:
        assert name in result
    # The bound tightens with k: the k=20 estimate is below the -ELBO.
    assert result["iwae_nll"] < result["negative_elbo"]


def test_inference_api(trained):
    model = trained[0]
    top = model.decoder.top_dim
    z_mean, z_log_var = model.encode(X[:3])
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (3, top)
    assert model.latent_dim == top == 8
    decoded = to_numpy(model.decode(to_numpy(z_mean)))
    assert decoded.shape == (3,) + SHAPE
    assert 0 <= decoded.min() and decoded.max() <= 1
    assert to_numpy(model.reconstruct(X[:3])).shape == (3,) + SHAPE
    first, second = (to_numpy(model.sample(4)) for _ in range(2))
    assert first.shape == (4,) + SHAPE and not np.allclose(first, second)
    np.testing.assert_array_equal(
        to_numpy(model.sample(4, seed=5)), to_numpy(model.sample(4, seed=5))
    )
    # Temperature scales every group's draw: with a tiny one, the lower
    # groups sit at their prior means, as decode() puts them.
    cold = to_numpy(model.sample(4, seed=5, temperature=1e-6))
    top_codes = model.sample_latent(4, seed=5, temperature=1e-6)
    means = to_numpy(model.decode(to_numpy(top_codes)))
    np.testing.assert_allclose(cold, means, atol=1e-4)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="temperature must be a positive"):
            model.sample(2, temperature=bad)


def test_gif_callbacks_through_fit(trained):
    for name in ("reconstructions.gif", "samples.gif"):
        frames = iio.imread(trained[2] / name, index=None)
        assert len(frames) == 2, name
        assert not np.array_equal(frames[0], frames[1]), name


def test_save_and_reload(trained, tmp_path):
    model = trained[0]
    model.save(tmp_path / "h.keras")
    loaded = keras.saving.load_model(tmp_path / "h.keras")
    assert isinstance(loaded, kvae.HierarchicalVAE)
    assert isinstance(loaded.prior, kvae.priors.MixtureOfGaussians)
    np.testing.assert_array_equal(
        to_numpy(loaded.reconstruct(X[:4])), to_numpy(model.reconstruct(X[:4]))
    )
    # The same draws; one ulp apart where the reloaded model's compiled
    # graph orders a sum differently.
    np.testing.assert_allclose(
        to_numpy(loaded.sample(3, seed=1)),
        to_numpy(model.sample(3, seed=1)),
        atol=1e-6,
    )
    dims = model.total_latent_dim
    eps = np.random.default_rng(0).standard_normal((2, 4, dims)).astype("f4")
    np.testing.assert_allclose(
        to_numpy(loaded.log_importance_weights(X[:4], eps)),
        to_numpy(model.log_importance_weights(X[:4], eps)),
        rtol=1e-6,
    )
    # Training goes on from the saved step (cross-backend: test_saving.py).
    assert int(to_numpy(loaded.optimizer.iterations)) == 4


def test_config_round_trip():
    model = hvae(beta=0.5, free_bits=0.1, prior="vamp", skip_gradient_norm=9.0)
    config = model.get_config()
    clone = kvae.HierarchicalVAE.from_config(config)
    assert clone.get_config() == config
    assert clone.decoder.latent_shapes == model.decoder.latent_shapes
    assert clone.skip_gradient_norm == 9.0


def test_bad_layers_and_resolutions():
    encoder, decoder = tiny_hierarchical_layers(SHAPE)
    with pytest.raises(TypeError, match="resolutions"):
        kvae.HierarchicalVAE(kvae.layers.MLPEncoder(3), decoder)
    with pytest.raises(TypeError, match="top-down path"):
        kvae.HierarchicalVAE(encoder, kvae.layers.MLPDecoder(SHAPE))
    with pytest.raises(ValueError, match="resolutions .* differ"):
        kvae.HierarchicalVAE(kvae.layers.HierarchicalEncoder((2,)), decoder)
    with pytest.raises(ValueError, match="do not divide the image size"):
        kvae.layers.HierarchicalDecoder((28, 28, 1), resolutions=(5, 10))
    with pytest.raises(ValueError, match="do not divide the image size"):
        kvae.layers.HierarchicalEncoder((5, 10))(np.zeros((1,) + (28, 28, 1)))
    with pytest.raises(ValueError, match="multiple of the next smaller"):
        kvae.layers.HierarchicalEncoder((4, 6))
    with pytest.raises(ValueError, match="at least one channel"):
        kvae.layers.HierarchicalDecoder(SHAPE, (2, 4), latent_channels=0)
    with pytest.raises(ValueError, match="positive ints"):
        kvae.layers.HierarchicalDecoder(SHAPE, (2, 4), groups=(1, 0))
    with pytest.raises(ValueError, match="one count per resolution"):
        kvae.layers.HierarchicalDecoder(SHAPE, (2, 4), groups=(1, 1, 1))
    with pytest.raises(ValueError, match="decoder produces images"):
        hvae().build((None, 16, 16, 1))


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_needs_a_positive_count(n):
    model = hvae()
    model.build((None, *SHAPE))
    with pytest.raises(ValueError, match="positive int number of images"):
        model.sample(n)
