"""`sigma="optimal"`: the Gaussian decoder's maximum-likelihood sigma."""

import math

import keras
import numpy as np
import pytest

import kvae
from kvae import elbo
from tests.helpers import to_numpy

SHAPE = (12, 12, 3)
LATENT = 3


class FixedNoiseVAE(kvae.VAE):
    """Draws the same `eps` every call, so the decoder mean is known."""

    def draw_eps(self, z_mean):
        eps = np.random.default_rng(7).normal(size=(8, LATENT))
        return keras.ops.convert_to_tensor(eps[: z_mean.shape[0]], "float32")


def optimal_vae(cls=kvae.VAE, **kwargs):
    return cls(
        kvae.layers.ConvEncoder(LATENT, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder(SHAPE, filters=(4,), dense_units=8),
        likelihood="gaussian",
        sigma="optimal",
        seed=3,
        **kwargs,
    )


def images(seed, n=8):
    return np.random.default_rng(seed).random((n,) + SHAPE).astype("float32")


def decoder_mean(model, x):
    """The decoder's output at `z = mu + sigma * eps` with FixedNoiseVAE's
    noise, in NumPy."""
    z_mean, z_log_var = (to_numpy(t) for t in model.encoder(x))
    eps = np.random.default_rng(7).normal(size=(8, LATENT))[: len(x)]
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    return to_numpy(model.decoder(z.astype("float32"))).astype(np.float64)


def gaussian_nll(x, mean, sigma):
    per_pixel = (
        0.5 * np.log(2 * np.pi) + np.log(sigma) + (x - mean) ** 2 / sigma**2 / 2
    )
    return per_pixel.reshape(len(x), -1).sum(axis=1).mean()


def test_sigma_is_the_rms_error_and_the_loss_its_gaussian_nll():
    model = optimal_vae(FixedNoiseVAE)
    x = images(0)
    model.build(x.shape)
    _, aux = model.compute_elbo(x, training=True)
    mean = decoder_mean(model, x)
    rms = np.sqrt(np.mean((x - mean) ** 2))
    assert 0.1 < rms < 10
    assert float(to_numpy(aux["sigma"])) == pytest.approx(rms, rel=1e-5)
    assert float(to_numpy(aux["reconstruction_loss"])) == pytest.approx(
        gaussian_nll(x, mean, rms), rel=1e-5
    )
    # At its optimum, sigma's NLL term is D * (log sigma + 1/2) per image.
    pixels = math.prod(SHAPE)
    assert gaussian_nll(x, mean, rms) == pytest.approx(
        pixels * (0.5 * math.log(2 * math.pi) + math.log(rms) + 0.5)
    )
    # Any other sigma gives a larger NLL.
    for other in (0.9 * rms, 1.1 * rms):
        assert gaussian_nll(x, mean, other) > gaussian_nll(x, mean, rms)


def test_floor_on_log_sigma():
    x = keras.ops.convert_to_tensor(images(1))
    got = float(to_numpy(elbo.optimal_log_sigma(x, x)))
    assert got == elbo.MIN_OPTIMAL_LOG_SIGMA == -6.0
    shifted = float(to_numpy(elbo.optimal_log_sigma(x, x + 0.25)))
    assert shifted == pytest.approx(math.log(0.25), rel=1e-6)


def test_running_estimate_used_by_evaluate():
    model = optimal_vae(FixedNoiseVAE)
    a, b = images(2), images(3) * 2.0
    model.build(a.shape)
    assert float(to_numpy(model.log_sigma)) == 0.0
    # The first batch sets it, the next ones average the variances.
    _, aux_a = model.compute_elbo(a, training=True)
    sigma_a = float(to_numpy(aux_a["sigma"]))
    assert float(to_numpy(model.log_sigma)) == pytest.approx(
        math.log(sigma_a), abs=1e-6
    )
    _, aux_b = model.compute_elbo(b, training=True)
    sigma_b = float(to_numpy(aux_b["sigma"]))
    assert abs(sigma_b - sigma_a) > 0.1
    expected = 0.5 * math.log((sigma_a**2 + sigma_b**2) / 2)
    assert float(to_numpy(model.log_sigma)) == pytest.approx(expected, 1e-5)
    assert float(to_numpy(model.sigma_updates)) == 2.0
    # Not training: the running estimate, and nothing is updated.
    _, aux = model.compute_elbo(a, training=False)
    assert float(to_numpy(aux["sigma"])) == pytest.approx(
        math.exp(expected), rel=1e-5
    )
    assert float(to_numpy(aux["reconstruction_loss"])) == pytest.approx(
        gaussian_nll(a, decoder_mean(model, a), math.exp(expected)), rel=1e-5
    )
    assert float(to_numpy(model.sigma_updates)) == 2.0


def test_fit_logs_sigma_and_gradients_do_not_move_it():
    model = optimal_vae()
    assert not model.log_sigma.trainable
    assert model.log_sigma not in model.trainable_variables
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = images(4, n=64)
    history = model.fit(x, epochs=2, batch_size=16, verbose=0)
    sigmas = history.history["sigma"]
    assert len(sigmas) == 2 and all(0.05 < s < 2.0 for s in sigmas)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert float(to_numpy(model.sigma_updates)) == 8.0
    logs = model.evaluate(x, verbose=0, return_dict=True)
    assert logs["sigma"] == pytest.approx(
        math.exp(float(to_numpy(model.log_sigma))), rel=1e-5
    )
    # A fixed sigma logs none.
    fixed = kvae.VAE(
        kvae.layers.ConvEncoder(LATENT, filters=(4,), dense_units=8),
        kvae.layers.ConvDecoder(SHAPE, filters=(4,), dense_units=8),
        likelihood="gaussian",
        sigma=0.1,
    )
    fixed.compile(optimizer="adam")
    assert "sigma" not in fixed.fit(x, epochs=1, verbose=0).history


def test_save_and_load(tmp_path):
    model = optimal_vae()
    model.compile(optimizer="adam")
    x = images(5, n=32)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    config = model.get_config()
    assert config["sigma"] == "optimal"
    clone = kvae.VAE.from_config(config)
    assert clone.sigma == "optimal" and clone.sigma_updates is not None
    path = tmp_path / "optimal.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.sigma == "optimal"
    for name in ("log_sigma", "sigma_updates"):
        np.testing.assert_allclose(
            to_numpy(getattr(loaded, name)), to_numpy(getattr(model, name))
        )
    assert float(to_numpy(loaded.sigma_updates)) == 2.0
    np.testing.assert_allclose(
        to_numpy(loaded.reconstruct(x)), to_numpy(model.reconstruct(x)), 1e-5
    )
    # The loaded model keeps training with the optimal sigma.
    history = loaded.fit(x, epochs=1, batch_size=16, verbose=0)
    assert float(to_numpy(loaded.sigma_updates)) == 4.0
    assert math.isfinite(history.history["sigma"][0])


def test_bad_sigma_names_the_choices():
    with pytest.raises(ValueError, match="'learned', 'optimal'"):
        kvae.VAE(
            kvae.layers.ConvEncoder(LATENT),
            kvae.layers.ConvDecoder(SHAPE),
            likelihood="gaussian",
            sigma="best",
        )
