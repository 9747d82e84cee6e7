"""`kvae.HierarchicalVAE`: its ELBO against NumPy, its bounds, its logs,
its inference API, callbacks, saving and bad input."""

import math

import imageio.v3 as iio
import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy

SHAPE = (8, 8, 1)
DIMS = (4, 3)
X = (np.random.default_rng(0).random((32,) + SHAPE) < 0.4).astype("float32")


def ladder(dims=DIMS):
    return (
        kvae.layers.LadderEncoder(
            dims,
            filters=(4, 8)[: len(dims)] + (8,) * (len(dims) - 2),
            dense_units=16,
        ),
        kvae.layers.LadderDecoder(
            dims, SHAPE, hidden_units=8, filters=(8, 4), dense_units=16
        ),
    )


def hvae(dims=DIMS, **kwargs):
    kwargs.setdefault("image_metrics", False)
    return kvae.HierarchicalVAE(*ladder(dims), seed=0, **kwargs)


def fixed_noise(model):
    def draw_eps(z_mean):
        rng = np.random.default_rng(z_mean.shape[-1])
        eps = rng.standard_normal(tuple(z_mean.shape)).astype("float32")
        return keras.ops.convert_to_tensor(eps)

    model.draw_eps = draw_eps
    return model


def log_normal(z, mean, log_var):
    return -0.5 * (
        math.log(2 * math.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)
    ).sum(-1)


def numpy_terms(model, x):
    """The two-level ELBO terms with the noise of `fixed_noise`, in NumPy."""
    (m1, v1), (m2, v2) = (
        tuple(to_numpy(t).astype("float64") for t in pair)
        for pair in model.encoder(x)
    )
    e1 = np.random.default_rng(DIMS[0]).standard_normal(m1.shape)
    e2 = np.random.default_rng(DIMS[1]).standard_normal(m2.shape)
    z2 = m2 + np.exp(0.5 * v2) * e2
    kl2 = 0.5 * (m2**2 + np.exp(v2) - 1 - v2).sum(-1)
    pm, pv = (
        to_numpy(t).astype("float64")
        for t in model.decoder.conditional_prior(0, z2.astype("float32"))
    )
    precision = np.exp(-v1) + np.exp(-pv)
    qv = -np.log(precision)
    qm = (m1 * np.exp(-v1) + pm * np.exp(-pv)) / precision
    z1 = qm + np.exp(0.5 * qv) * e1
    kl1 = 0.5 * (pv - qv + (np.exp(qv) + (qm - pm) ** 2) / np.exp(pv) - 1)
    logits = to_numpy(model.decoder(z1.astype("float32"))).astype("float64")
    flat_x = x.reshape(len(x), -1)
    flat_l = logits.reshape(len(x), -1)
    log_px = (flat_x * flat_l - np.logaddexp(0, flat_l)).sum(-1)
    log_w = (
        log_px
        + log_normal(z2, 0.0, 0.0)
        + log_normal(z1, pm, pv)
        - log_normal(z2, m2, v2)
        - log_normal(z1, qm, qv)
    )
    return -log_px, kl1.sum(-1), kl2, log_w


def test_elbo_terms_match_numpy():
    model = fixed_noise(hvae())
    model.build((None,) + SHAPE)
    # Give the top-down prior a mean and a scale of its own.
    for variable in model.decoder.trainable_variables:
        rng = np.random.default_rng(len(variable.path))
        variable.assign(
            (0.3 * rng.standard_normal(variable.shape)).astype("float32")
        )
    loss, aux = model.compute_elbo(keras.ops.convert_to_tensor(X))
    nll, kl1, kl2, _ = numpy_terms(model, X)
    np.testing.assert_allclose(
        to_numpy(aux["reconstruction_loss"]), nll.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(aux["kl_loss_1"]), kl1.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(aux["kl_loss_2"]), kl2.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(aux["kl_loss"]), kl1.mean() + kl2.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(
        to_numpy(loss), nll.mean() + kl1.mean() + kl2.mean(), rtol=1e-4
    )


def test_importance_weights_follow_the_whole_inference_path():
    model = hvae()
    model.build((None,) + SHAPE)
    for variable in model.decoder.trainable_variables:
        rng = np.random.default_rng(len(variable.path))
        variable.assign(
            (0.3 * rng.standard_normal(variable.shape)).astype("float32")
        )
    x = X[:5]
    e1 = np.random.default_rng(DIMS[0]).standard_normal((5, DIMS[0]))
    e2 = np.random.default_rng(DIMS[1]).standard_normal((5, DIMS[1]))
    eps = np.concatenate([e1, e2], axis=-1)[None].astype("float32")
    assert model.total_latent_dim == sum(DIMS)
    log_w = to_numpy(kvae.evaluation.log_importance_weights(model, x, eps))
    _, _, _, expected = numpy_terms(model, x)
    np.testing.assert_allclose(log_w[0], expected, rtol=1e-4)
    with pytest.raises(ValueError, match="total_latent_dim=7"):
        model.log_importance_weights(x, eps[..., :4])


def test_fit_logs_the_kl_of_every_level():
    model = hvae((4, 3, 2))
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    logs = model.fit(X, epochs=2, batch_size=16, verbose=0).history
    for name in ("kl_loss_1", "kl_loss_2", "kl_loss_3"):
        assert name in logs, sorted(logs)
    total = sum(np.array(logs[f"kl_loss_{i}"]) for i in (1, 2, 3))
    np.testing.assert_allclose(logs["kl_loss"], total, rtol=1e-4)
    np.testing.assert_allclose(
        logs["loss"],
        np.array(logs["reconstruction_loss"]) + logs["kl_loss"],
        rtol=1e-4,
    )
    assert all(logs[f"kl_loss_{i}"][-1] > 0 for i in (1, 2, 3))
    result = kvae.evaluation.evaluate(model, X, num_samples=20)
    for name in ("kl_loss_1", "kl_loss_2", "kl_loss_3", "iwae_nll"):
        assert name in result
    # The bound tightens with k: the k=20 estimate is below the -ELBO.
    assert result["iwae_nll"] < result["negative_elbo"]


def test_iwae_objective_and_a_learned_prior_compose():
    model = hvae(prior="vamp", objective="iwae", num_samples=3)
    model.compile(optimizer="adam")
    logs = model.fit(X, epochs=1, batch_size=16, verbose=0).history
    assert logs["loss"][0] < logs["reconstruction_loss"][0] + logs["kl_loss"][0]
    # The VampPrior runs its pseudo-inputs through the whole bottom-up path.
    assert model.prior.pseudo_inputs.shape == (500,) + SHAPE
    assert np.isfinite(kvae.evaluation.importance_weighted_nll(model, X, 5))


def test_inference_api():
    model = hvae()
    model.compile(optimizer="adam")
    model.fit(X, epochs=1, batch_size=16, verbose=0)
    z_mean, z_log_var = model.encode(X[:3])
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (3, DIMS[-1])
    assert model.latent_dim == DIMS[-1]
    decoded = to_numpy(model.decode(to_numpy(z_mean)))
    assert decoded.shape == (3,) + SHAPE
    assert 0 <= decoded.min() and decoded.max() <= 1
    np.testing.assert_array_equal(decoded, to_numpy(model.decode(z_mean)))
    assert to_numpy(model.reconstruct(X[:3])).shape == (3,) + SHAPE
    first, second = (to_numpy(model.sample(4)) for _ in range(2))
    assert first.shape == (4,) + SHAPE and not np.allclose(first, second)
    np.testing.assert_array_equal(
        to_numpy(model.sample(4, seed=5)), to_numpy(model.sample(4, seed=5))
    )


def test_gif_callbacks_through_fit(tmp_path):
    model = hvae()
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    callbacks = [
        kvae.callbacks.ReconstructionGIF(X[:4], tmp_path, grid_size=(2, 2)),
        kvae.callbacks.SampleGIF(tmp_path, grid_size=2),
        kvae.callbacks.LatentSpaceGIF(X[:16], np.arange(16) % 4, tmp_path),
    ]
    model.fit(X, epochs=2, batch_size=16, verbose=0, callbacks=callbacks)
    for name in ("reconstructions.gif", "samples.gif"):
        frames = iio.imread(tmp_path / name, index=None)
        assert len(frames) == 2, name
        assert not np.array_equal(frames[0], frames[1]), name
    assert len(iio.imread(tmp_path / "latent_space.gif", index=None)) == 2


def test_save_and_reload(tmp_path):
    model = hvae(prior="mixture_of_gaussians")
    model.compile(optimizer="adam")
    model.fit(X, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "h.keras")
    loaded = keras.saving.load_model(tmp_path / "h.keras")
    assert isinstance(loaded, kvae.HierarchicalVAE)
    assert isinstance(loaded.prior, kvae.priors.MixtureOfGaussians)
    np.testing.assert_array_equal(
        to_numpy(loaded.reconstruct(X[:4])), to_numpy(model.reconstruct(X[:4]))
    )
    np.testing.assert_array_equal(
        to_numpy(loaded.sample(3, seed=1)), to_numpy(model.sample(3, seed=1))
    )
    eps = np.random.default_rng(0).standard_normal((2, 4, 7)).astype("f4")
    np.testing.assert_allclose(
        to_numpy(loaded.log_importance_weights(X[:4], eps)),
        to_numpy(model.log_importance_weights(X[:4], eps)),
        rtol=1e-6,
    )
    loaded.fit(X, epochs=1, batch_size=16, verbose=0)
    assert int(to_numpy(loaded.optimizer.iterations)) == 4


def test_config_round_trip():
    model = hvae(beta=0.5, free_bits=0.1, prior="vamp")
    config = model.get_config()
    clone = kvae.HierarchicalVAE.from_config(config)
    assert clone.get_config() == config
    assert clone.encoder.latent_dims == DIMS


class OneLevelEncoder(kvae.layers.MLPEncoder):
    latent_dims = (4, 3)  # claims two levels, returns one pair


class WidePriorDecoder(kvae.layers.LadderDecoder):
    def conditional_prior(self, level, z_above, training=False):
        mean, log_var = super().conditional_prior(level, z_above)
        return keras.ops.tile(mean, [1, 2]), keras.ops.tile(log_var, [1, 2])


def test_levels_that_do_not_chain():
    encoder, _ = ladder((4, 3))
    _, decoder = ladder((5, 3))
    with pytest.raises(ValueError, match="do not chain.*latent_dims"):
        kvae.HierarchicalVAE(encoder, decoder)
    encoder, _ = ladder()
    decoder = WidePriorDecoder(
        DIMS, SHAPE, hidden_units=8, filters=(8, 4), dense_units=16
    )
    model = kvae.HierarchicalVAE(encoder, decoder, image_metrics=False)
    with pytest.raises(ValueError, match="do not chain.*8 dimensions"):
        model.fit(X, epochs=1, verbose=0)
    _, decoder = ladder()
    model = kvae.HierarchicalVAE(OneLevelEncoder(4), decoder)
    with pytest.raises(ValueError, match="level 1 must return a pair"):
        model.build((None,) + SHAPE)


def test_bad_layers_and_levels():
    encoder, decoder = ladder()
    with pytest.raises(TypeError, match="latent_dims"):
        kvae.HierarchicalVAE(kvae.layers.MLPEncoder(3), decoder)
    with pytest.raises(TypeError, match="conditional_prior"):
        kvae.HierarchicalVAE(encoder, kvae.layers.MLPDecoder(SHAPE))
    encoder, decoder = ladder((4,))
    with pytest.raises(ValueError, match="at least two latent levels"):
        kvae.HierarchicalVAE(encoder, decoder)
    with pytest.raises(ValueError, match="Unknown prior"):
        hvae(prior="ladder")
    with pytest.raises(ValueError, match="decoder produces images"):
        kvae.HierarchicalVAE(
            ladder()[0],
            kvae.layers.LadderDecoder(
                DIMS, (16, 16, 1), hidden_units=8, filters=(8, 4)
            ),
            objective="iwae",
            num_samples=2,
        ).build((None,) + SHAPE)


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_needs_a_positive_count(n):
    model = hvae()
    model.build((None, *SHAPE))
    with pytest.raises(ValueError, match="positive int number of images"):
        model.sample(n)
