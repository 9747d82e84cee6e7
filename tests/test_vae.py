import math

import keras
import numpy as np
import pytest

import kvae
from kvae import elbo
from tests.helpers import mnist_images
from tests.helpers import to_numpy

RNG = np.random.default_rng(0)
X = (RNG.random((64, 28, 28, 1)) < 0.3).astype("float32")


def small_vae(latent_dim=3, **kwargs):
    return kvae.VAE(
        kvae.layers.MLPEncoder(latent_dim, hidden_units=(32,)),
        kvae.layers.MLPDecoder((28, 28, 1), hidden_units=(32,)),
        seed=kwargs.pop("seed", 1),
        **kwargs,
    )


def test_fit_logs_the_elbo_terms_for_train_and_validation():
    model = small_vae()
    model.compile(optimizer="adam")
    history = model.fit(
        X, epochs=2, batch_size=16, validation_data=(X[:16],), verbose=0
    )
    for name in ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim"):
        assert name in history.history and "val_" + name in history.history
    logs = {k: v[-1] for k, v in history.history.items()}
    # loss = reconstruction + beta * kl, in nats per image.
    np.testing.assert_allclose(
        logs["loss"], logs["reconstruction_loss"] + logs["kl_loss"], rtol=1e-4
    )
    assert logs["kl_loss"] > 0


def test_elbo_terms_match_a_numpy_reference():
    model = small_vae(latent_dim=2)
    model.build((None, 28, 28, 1))
    x = X[:4]
    z_mean, z_log_var = (to_numpy(t) for t in model.encode(x))
    eps = np.random.default_rng(3).normal(size=z_mean.shape).astype("float32")
    model.draw_eps = lambda z: keras.ops.convert_to_tensor(eps)
    loss, aux = model.compute_elbo(keras.ops.convert_to_tensor(x))

    z = z_mean + np.exp(0.5 * z_log_var) * eps
    logits = to_numpy(model.decoder(z)).astype("float64")
    p = 1 / (1 + np.exp(-logits))
    nll = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(1)
    kl = 0.5 * (z_mean**2 + np.exp(z_log_var) - 1 - z_log_var).sum(1)
    np.testing.assert_allclose(
        to_numpy(aux["reconstruction_loss"]), nll.mean(), rtol=1e-4
    )
    np.testing.assert_allclose(to_numpy(aux["kl_loss"]), kl.mean(), rtol=1e-4)
    np.testing.assert_allclose(
        to_numpy(loss), nll.mean() + kl.mean(), rtol=1e-4
    )


def test_gaussian_nll_includes_constants():
    x = keras.ops.zeros((2, 3, 1, 1))
    mean = keras.ops.ones((2, 3, 1, 1))
    log_sigma = math.log(0.5)
    got = to_numpy(elbo.gaussian_nll(x, mean, log_sigma))
    per_pixel = 0.5 * math.log(2 * math.pi) + log_sigma + 0.5 * (1 / 0.25)
    np.testing.assert_allclose(got, [3 * per_pixel] * 2, rtol=1e-5)


def test_bernoulli_nll_is_stable_for_extreme_logits():
    x = keras.ops.convert_to_tensor([[1.0, 0.0]])
    logits = keras.ops.convert_to_tensor([[-200.0, 200.0]])
    np.testing.assert_allclose(to_numpy(elbo.bernoulli_nll(x, logits)), [400.0])


@pytest.mark.parametrize("sigma", [0.1, "learned"])
def test_gaussian_likelihood_trains(sigma):
    model = small_vae(likelihood="gaussian", sigma=sigma)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = RNG.normal(size=(64, 28, 28, 1)).astype("float32")
    before = float(to_numpy(model.log_sigma))
    history = model.fit(x, epochs=3, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    after = float(to_numpy(model.log_sigma))
    if sigma == "learned":
        assert model.log_sigma.trainable and after != before
    else:
        assert after == pytest.approx(math.log(0.1))


def test_loss_falls_on_real_mnist(shared_data):
    x = mnist_images(shared_data, 1024)
    model = kvae.VAE(
        kvae.layers.ConvEncoder(8), kvae.layers.ConvDecoder(), seed=0
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    start = model.evaluate(x[:256], batch_size=128, verbose=0)
    history = model.fit(x, epochs=3, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    # An untrained model scores ~545 nats; a few hundred steps halve it.
    assert losses[-1] < 0.5 * start[0]
    assert history.history["ssim"][-1] > history.history["ssim"][0]


def test_seeded_training_is_deterministic():
    def run():
        keras.utils.set_random_seed(7)
        model = small_vae(seed=11)
        model.compile(optimizer="adam")
        return model.fit(X, epochs=2, batch_size=16, shuffle=False, verbose=0)

    first, second = run().history, run().history
    for key in ("loss", "kl_loss"):
        np.testing.assert_allclose(first[key], second[key], rtol=1e-6)


def test_eps_changes_from_step_to_step():
    # Under JAX the SeedGenerator state must flow through the stateless step.
    model = small_vae(seed=3)
    model.compile(optimizer="adam")
    model.fit(X[:16], epochs=1, batch_size=16, verbose=0)
    state_before = to_numpy(model.seed_generator.state).copy()
    model.fit(X[:16], epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(
        state_before, to_numpy(model.seed_generator.state)
    )


def test_public_inference_methods():
    model = small_vae(latent_dim=4)
    model.compile(optimizer="adam")
    model.fit(X, epochs=1, batch_size=32, verbose=0)
    z_mean, z_log_var = model.encode(X[:5])
    assert tuple(z_mean.shape) == (5, 4) == tuple(z_log_var.shape)
    decoded = to_numpy(model.decode(z_mean))
    reconstructed = to_numpy(model.reconstruct(X[:5]))
    np.testing.assert_allclose(decoded, reconstructed, atol=1e-6)
    assert decoded.min() >= 0 and decoded.max() <= 1
    predicted = model.predict(X[:5], verbose=0)
    np.testing.assert_allclose(predicted, reconstructed, atol=1e-5)
    a, b = to_numpy(model.sample(6)), to_numpy(model.sample(6))
    assert a.shape == (6, 28, 28, 1) and not np.allclose(a, b)
    np.testing.assert_allclose(
        to_numpy(model.sample(3, seed=5)), to_numpy(model.sample(3, seed=5))
    )
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        model.decode(np.zeros((2, 3)))


def test_kl_warmup_weight_mid_ramp():
    # Step s (counted from 0) weighs the KL term by beta * min((s+1)/N, 1).
    model = small_vae(kl_warmup_steps=8, beta=2.0)
    model.compile(optimizer="adam")
    model.fit(X[:16], epochs=1, batch_size=8, verbose=0)  # 2 steps
    assert float(to_numpy(model.warmup_step)) == 2.0
    x = keras.ops.convert_to_tensor(X[:8])
    loss, aux = model.compute_elbo(x)  # not training: the step stays
    weight = 2.0 * (2.0 + 1.0) / 8.0
    expected = aux["reconstruction_loss"] + weight * aux["kl_loss"]
    np.testing.assert_allclose(to_numpy(loss), to_numpy(expected), rtol=1e-5)
    assert float(to_numpy(model.warmup_step)) == 2.0


def test_kl_warmup_ramps_beta():
    model = small_vae(kl_warmup_steps=4, beta=2.0)
    model.compile(optimizer="adam")
    model.fit(X[:16], epochs=2, batch_size=8, verbose=0)
    assert float(to_numpy(model.warmup_step)) == 4.0
    model.build((None, 28, 28, 1))
    x = keras.ops.convert_to_tensor(X[:8])
    loss, aux = model.compute_elbo(x)
    expected = aux["reconstruction_loss"] + 2.0 * aux["kl_loss"]
    np.testing.assert_allclose(to_numpy(loss), to_numpy(expected), rtol=1e-5)


def test_labelled_batches_are_accepted():
    # The labels of a dataset of pairs are ignored; labels given on their
    # own are refused (issue 23: an unconditional model does not use them).
    labels = np.arange(len(X)) % 10
    model = small_vae()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="VAE is unconditional"):
        model.fit(X, labels, epochs=1, batch_size=32, verbose=0)
    pairs = ((X[i : i + 32], labels[i : i + 32]) for i in range(0, 64, 32))
    history = model.fit(pairs, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_metrics_can_be_turned_off():
    model = small_vae(image_metrics=False)
    model.compile(optimizer="adam")
    logs = model.fit(X, epochs=1, batch_size=32, verbose=0).history
    assert "ssim" not in logs and "psnr" not in logs and "loss" in logs
