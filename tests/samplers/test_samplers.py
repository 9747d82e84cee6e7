"""The fitted samplers: what they recover, save/load, backends, errors."""

import keras
import numpy as np
import pytest

import kvae
from kvae.samplers import FlowSampler
from kvae.samplers import GaussianMixtureSampler
from kvae.samplers import TwoStageSampler
from kvae.samplers.real_nvp import RealNVP
from tests.helpers import to_numpy
from tests.test_saving import run_under_other_backends

X = (np.random.default_rng(3).random((96, 28, 28, 1)) < 0.3).astype("float32")


def tiny_model(latent_dim=3, seed=4):
    model = kvae.VAE(
        kvae.layers.ConvEncoder(latent_dim, filters=(4, 8), dense_units=16),
        kvae.layers.ConvDecoder((28, 28, 1), filters=(8, 4), dense_units=16),
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(X, epochs=1, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def known_mixture(n=3000):
    rng = np.random.default_rng(0)
    means = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, -3.0]])
    labels = rng.integers(0, 3, n)
    return means, means[labels] + 0.5 * rng.standard_normal((n, 2))


def test_the_mixture_recovers_the_means_of_a_known_mixture():
    means, codes = known_mixture()
    sampler = GaussianMixtureSampler(num_components=3)
    sampler.fit_codes(codes, verbose=0)
    sampler.latent_dim = 2
    found = sampler.means[np.argsort(sampler.means[:, 0])]
    np.testing.assert_allclose(found, means, atol=0.1)
    draws = sampler.sample_latent(6000, seed=0)
    assert draws.mean(axis=0) == pytest.approx(codes.mean(axis=0), abs=0.2)


def test_temperature_scales_the_spread_of_the_draws():
    _, codes = known_mixture()
    sampler = GaussianMixtureSampler(num_components=3)
    sampler.fit_codes(codes, verbose=0)
    sampler.latent_dim = 2
    z1 = sampler.sample_latent(4000, seed=1)
    zhalf = sampler.sample_latent(4000, seed=1, temperature=0.5)
    # Same components and noise, the offsets from the means halved: so
    # 2 * zhalf - z1 is the mean of each draw's component.
    centres = 2 * zhalf - z1
    distance = np.linalg.norm(
        centres[:, None] - sampler.means[None], axis=-1
    ).min(axis=1)
    assert distance.max() < 1e-4


def test_the_prior_temperature_scales_the_model_draws(model):
    z1 = to_numpy(model.sample_latent(4000, seed=2))
    zhalf = to_numpy(model.sample_latent(4000, seed=2, temperature=0.5))
    np.testing.assert_allclose(zhalf, 0.5 * z1, rtol=1e-5, atol=1e-6)
    assert model.sample(2, seed=0, temperature=0.7).shape == (2, 28, 28, 1)


def test_two_stage_training_reduces_its_own_loss(model):
    sampler = TwoStageSampler(epochs=8, hidden_units=(32, 32))
    sampler.fit(model, X, verbose=0)
    # The KL weight warms up, so the reconstruction term is the one that
    # must fall.
    loss = sampler.history["reconstruction_loss"]
    assert loss[-1] < loss[0], loss
    assert sampler.sample_latent(5, seed=0).shape == (5, 3)


SMALL_SAMPLERS = {
    "mixture": lambda: GaussianMixtureSampler(2),
    # Enough steps for a KL warm-up, whose step counter is saved too.
    "two_stage": lambda: TwoStageSampler(
        epochs=4, batch_size=16, hidden_units=(16,)
    ),
    "flow": lambda: FlowSampler(
        epochs=2, batch_size=16, num_couplings=2, hidden_units=(8,)
    ),
}


@pytest.mark.parametrize("kind", list(SMALL_SAMPLERS))
def test_save_and_load_give_the_same_samples(model, tmp_path, kind):
    sampler = SMALL_SAMPLERS[kind]().fit(model, X, verbose=0)
    path = str(tmp_path / "sampler.npz")
    sampler.save(path)
    loaded = kvae.samplers.load_sampler(path, model)
    assert type(loaded) is type(sampler)
    np.testing.assert_allclose(
        loaded.sample(6, seed=3), sampler.sample(6, seed=3), atol=1e-6
    )
    # A new seed, new images; no seed, the sampler's own generator moves.
    assert not np.allclose(sampler.sample(6, seed=4), sampler.sample(6, seed=3))
    assert not np.allclose(sampler.sample(6), sampler.sample(6))


@pytest.mark.slow
def test_a_sampler_saved_here_samples_under_every_other_backend(tmp_path):
    model = tiny_model(seed=5)
    model.save(tmp_path / "m.keras")
    for name, sampler in (
        ("g", GaussianMixtureSampler(2)),
        ("t", TwoStageSampler(epochs=1, hidden_units=(8,))),
        ("f", FlowSampler(epochs=1, num_couplings=2, hidden_units=(8,))),
    ):
        sampler.fit(model, X, verbose=0).save(str(tmp_path / f"{name}.npz"))
        np.save(tmp_path / f"{name}.npy", sampler.sample(4, seed=7))
    script = (
        "import sys, numpy as np, keras, kvae\n"
        "d = sys.argv[1]\n"
        "m = kvae.load_model(d + '/m.keras')\n"
        "for name in 'gtf':\n"
        "    s = kvae.samplers.load_sampler(d + f'/{name}.npz', m)\n"
        "    np.testing.assert_allclose(s.sample(4, seed=7),"
        " np.load(d + f'/{name}.npy'), atol=1e-4)\n"
        "print('OK', keras.backend.backend())\n"
    )
    for backend, stdout in run_under_other_backends(script, tmp_path):
        assert f"OK {backend}" in stdout


def test_errors_before_any_work(model, tmp_path):
    with pytest.raises(ValueError, match="not fitted yet"):
        GaussianMixtureSampler().sample(3)
    for bad in (0, -1.0, float("nan"), "1", True):
        with pytest.raises(ValueError, match="temperature must be a positive"):
            GaussianMixtureSampler(temperature=bad)
        with pytest.raises(ValueError, match="temperature must be a positive"):
            model.sample(2, temperature=bad)
    with pytest.raises(ValueError, match="num_components must be"):
        GaussianMixtureSampler(num_components=0)
    with pytest.raises(ValueError, match="num_couplings must be"):
        FlowSampler(num_couplings=0)
    with pytest.raises(ValueError, match="learning_rate. must be a finite"):
        FlowSampler(learning_rate=0.0)
    collapsed = np.repeat(np.array([[0.5, -1.0], [0.5, -1.0]]), 10, axis=0)
    with pytest.raises(ValueError, match="encoder has collapsed"):
        GaussianMixtureSampler(2).fit_codes(collapsed, verbose=0)
    fitted = GaussianMixtureSampler(2).fit(model, X, verbose=0)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        fitted.sample(2, temperature=0)
    with pytest.raises(ValueError, match="create a new sampler"):
        fitted.fit(tiny_model(latent_dim=3, seed=9), X, verbose=0)
    path = str(tmp_path / "g.npz")
    fitted.save(path)
    with pytest.raises(ValueError, match="draws 3-D codes but the model"):
        kvae.samplers.load_sampler(path, tiny_model(latent_dim=2))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a kvae sampler file"):
        kvae.samplers.load_sampler(str(tmp_path / "junk.npz"), model)
    with pytest.raises(ValueError, match="end in .npz"):
        fitted.save(str(tmp_path / "g.keras"))


def test_prior_samples_draw_every_group_in_batches(model):
    from kvae.samplers.sampler import prior_samples
    from tests.helpers import tiny_hierarchical_layers

    got = prior_samples(model, 5, seed=3, batch_size=2)
    expected = np.concatenate(
        [to_numpy(model.sample(k, seed=3 + i)) for i, k in enumerate((2, 2, 1))]
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    hierarchical = kvae.HierarchicalVAE(
        *tiny_hierarchical_layers((28, 28, 1)), seed=1
    )
    hierarchical.build((None, 28, 28, 1))
    got = prior_samples(hierarchical, 4, seed=0, temperature=0.5)
    full = hierarchical.sample(4, seed=0, temperature=0.5)
    np.testing.assert_allclose(got, to_numpy(full), rtol=1e-6)
    # Not the top group alone, decoded with the lower groups' prior means.
    top_only = to_numpy(
        hierarchical.decode(hierarchical.sample_latent(4, 0, temperature=0.5))
    )
    assert np.abs(got - top_only).max() > 1e-4


def test_the_flow_learns_a_known_mixture_and_its_density_integrates_to_one():
    means, codes = known_mixture(2000)
    sampler = FlowSampler(
        epochs=40, batch_size=64, hidden_units=(64, 64), num_couplings=6
    )
    sampler.fit_codes(codes, verbose=0)
    sampler.latent_dim = 2
    assert sampler.history["loss"][-1] < sampler.history["loss"][0] - 1.0
    # The flow's log-density is a density: it integrates to about 1 over
    # a grid that holds the three components.
    step = 0.1
    grid = np.stack(
        np.meshgrid(np.arange(-10, 10, step), np.arange(-7, 10, step)), -1
    ).reshape(-1, 2)
    mass = np.exp(sampler.log_density(grid)).sum() * step**2
    assert mass == pytest.approx(1.0, abs=0.05)
    # Most draws land near a component, in about equal shares.
    draws = sampler.sample_latent(3000, seed=0)
    distance = np.linalg.norm(draws[:, None] - means[None], axis=-1)
    nearest = distance.argmin(axis=1)
    assert np.mean(distance.min(axis=1) < 1.5) > 0.85
    assert np.bincount(nearest, minlength=3) / 3000 == pytest.approx(
        [1 / 3] * 3, abs=0.06
    )


def test_the_flow_runs_backwards_to_the_codes_it_maps_to_noise():
    flow = RealNVP(5, num_couplings=4, hidden_units=(16,))
    flow.build((None, 5))
    # Random last layers, so the couplings are not the identity.
    rng = np.random.default_rng(0)
    flow.set_weights(
        [0.3 * rng.standard_normal(w.shape) for w in flow.get_weights()]
    )
    x = rng.standard_normal((7, 5)).astype("float32")
    z, log_det = flow.to_noise(keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(to_numpy(flow.inverse(z)), x, atol=1e-5)
    # log|det dz/dx| against a finite-difference Jacobian of one row.
    eps = 1e-3
    row = x[:1].astype("float64")

    def noise(rows):
        tensor = keras.ops.convert_to_tensor(rows.astype("float32"))
        return to_numpy(flow.to_noise(tensor)[0])[0].astype("float64")

    columns = [
        (noise(row + eps * e) - noise(row - eps * e)) / (2 * eps)
        for e in np.eye(5)
    ]
    _, numeric = np.linalg.slogdet(np.stack(columns, axis=1))
    assert to_numpy(log_det)[0] == pytest.approx(numeric, abs=1e-2)
