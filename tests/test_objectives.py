"""The training objectives of `kvae.VAE`: the ELBO, the IWAE bound and
free bits, against NumPy and against a model whose likelihood is known."""

import math

import keras
import numpy as np
import pytest

import kvae
from tests.helpers import to_numpy
from tests.test_evaluation import SIGMA
from tests.test_evaluation import linear_gaussian

SHAPE = (4, 4, 1)
X = (np.random.default_rng(0).random((16,) + SHAPE) < 0.4).astype("float32")


def tiny_vae(**kwargs):
    kwargs.setdefault("image_metrics", False)
    return kvae.VAE(
        kvae.layers.MLPEncoder(3, hidden_units=(8,)),
        kvae.layers.MLPDecoder(SHAPE, hidden_units=(8,)),
        seed=0,
        **kwargs,
    )


def fixed_noise(model, seed=1):
    """Makes `model` draw the same `eps` for a given shape on each call."""

    def draw_eps(z_mean):
        rng = np.random.default_rng(seed)
        eps = rng.standard_normal(tuple(z_mean.shape)).astype("float32")
        return keras.ops.convert_to_tensor(eps)

    model.draw_eps = draw_eps
    return model


def same_weights(*models):
    models[0].build((None,) + SHAPE)
    for model in models[1:]:
        model.build((None,) + SHAPE)
        model.set_weights(models[0].get_weights())
    return models


def loss_of(model, x=X):
    loss, aux = model.compute_elbo(keras.ops.convert_to_tensor(x))
    return float(to_numpy(loss)), {
        k: float(to_numpy(v)) for k, v in aux.items() if k != "x_mean"
    }


def test_iwae_with_one_sample_is_the_elbo():
    # A mixture prior: both objectives use the sampled KL, so with the
    # same noise they are the same number.
    elbo_model, iwae_model = same_weights(
        fixed_noise(tiny_vae(prior="mixture_of_gaussians")),
        fixed_noise(tiny_vae(prior="mixture_of_gaussians", objective="iwae")),
    )
    elbo_loss, elbo_aux = loss_of(elbo_model)
    iwae_loss, iwae_aux = loss_of(iwae_model)
    assert iwae_loss == pytest.approx(elbo_loss, rel=1e-6)
    assert iwae_aux == pytest.approx(elbo_aux, rel=1e-6)


def test_iwae_with_one_sample_uses_the_sampled_kl():
    # The standard normal prior: the ELBO keeps the analytic KL, the IWAE
    # weights need log q(z|x) - log p(z) at the drawn z.
    elbo_model, iwae_model = same_weights(
        fixed_noise(tiny_vae()), fixed_noise(tiny_vae(objective="iwae"))
    )
    elbo_loss, elbo_aux = loss_of(elbo_model)
    iwae_loss, iwae_aux = loss_of(iwae_model)
    mean, log_var = (
        to_numpy(t).astype("float64") for t in elbo_model.encode(X)
    )
    eps = np.random.default_rng(1).standard_normal(mean.shape)
    z = mean + np.exp(0.5 * log_var) * eps
    sampled = (0.5 * (z**2 - eps**2 - log_var)).sum(-1).mean()
    analytic = (0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)).sum(-1)
    assert elbo_aux["kl_loss"] == pytest.approx(analytic.mean(), rel=1e-4)
    assert iwae_aux["kl_loss"] == pytest.approx(sampled, rel=1e-4, abs=1e-4)
    assert iwae_aux["reconstruction_loss"] == pytest.approx(
        elbo_aux["reconstruction_loss"], rel=1e-6
    )
    assert iwae_loss == pytest.approx(
        iwae_aux["reconstruction_loss"] + sampled, rel=1e-5
    )


def test_iwae_bound_matches_numpy_for_several_samples():
    model = fixed_noise(tiny_vae(objective="iwae", num_samples=3))
    elbo_model = fixed_noise(tiny_vae(num_samples=3))
    same_weights(model, elbo_model)
    loss, aux = loss_of(model)
    mean, log_var = (to_numpy(t).astype("float64") for t in model.encode(X))
    n = len(X)
    eps = np.random.default_rng(1).standard_normal((3 * n, 3))
    z = np.tile(mean, (3, 1)) + np.exp(0.5 * np.tile(log_var, (3, 1))) * eps
    logits = to_numpy(model.decoder(z.astype("float32"))).astype("float64")
    x = np.tile(X, (3, 1, 1, 1))
    log_px = (
        -(np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-abs(logits))))
        .reshape(3 * n, -1)
        .sum(-1)
    )
    log_pz = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_qz = (
        -0.5 * eps**2
        - 0.5 * np.tile(log_var, (3, 1))
        - 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    log_w = (log_px + log_pz - log_qz).reshape(3, n)
    top = log_w.max(0)
    bound = top + np.log(np.exp(log_w - top).mean(0))
    assert loss == pytest.approx(-bound.mean(), rel=1e-5)
    assert aux["reconstruction_loss"] == pytest.approx(-log_px.mean(), rel=1e-5)
    # The three-sample ELBO averages the same terms (with the analytic KL).
    elbo_loss, elbo_aux = loss_of(elbo_model)
    assert elbo_aux["reconstruction_loss"] == pytest.approx(
        -log_px.mean(), rel=1e-5
    )
    assert loss < elbo_loss


def test_iwae_bound_rises_with_k_to_the_true_likelihood():
    base, x, true_nll, neg_elbo = linear_gaussian(
        mean_scale=0.6, extra_log_var=1.0
    )
    gap_elbo = float(np.mean(neg_elbo - true_nll))
    assert gap_elbo > 0.5
    gaps = []
    for k in (1, 10, 100, 1000):
        model = kvae.VAE(
            base.encoder,
            base.decoder,
            likelihood="gaussian",
            sigma=SIGMA,
            objective="iwae",
            num_samples=k,
            image_metrics=False,
            seed=k,
        )
        model.build((None, x.shape[1]))
        repeats = 2000 // k + 1
        losses = [loss_of(model, x)[0] for _ in range(min(repeats, 20))]
        gaps.append(float(np.mean(losses) - true_nll.mean()))
    assert gaps[0] == pytest.approx(gap_elbo, abs=0.1), (gaps, gap_elbo)
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3] > -0.01, gaps
    assert gaps[3] < 0.05 * gap_elbo, (gaps, gap_elbo)


def test_fit_logs_a_tighter_iwae_loss_than_the_elbo_terms():
    model = tiny_vae(objective="iwae", num_samples=4)
    model.compile(optimizer="adam")
    logs = model.fit(X, epochs=2, batch_size=8, verbose=0).history
    for loss, rec, kl in zip(
        logs["loss"], logs["reconstruction_loss"], logs["kl_loss"]
    ):
        # Jensen on the same samples: log-mean-exp >= mean of the logs.
        assert loss < rec + kl
    assert np.isfinite(logs["loss"]).all()


def test_free_bits_floor_each_dimension():
    model = fixed_noise(tiny_vae(free_bits=0.3))
    model.build((None,) + SHAPE)
    loss, aux = loss_of(model)
    mean, log_var = (to_numpy(t).astype("float64") for t in model.encode(X))
    kl = 0.5 * (mean**2 + np.exp(log_var) - 1 - log_var)  # (batch, dims)
    floored = np.maximum(kl.mean(0), 0.3).sum()
    assert floored > kl.sum(-1).mean()  # the floor binds at initialization
    assert aux["kl_loss"] == pytest.approx(kl.sum(-1).mean(), rel=1e-4)
    assert loss == pytest.approx(aux["reconstruction_loss"] + floored, rel=1e-5)


def test_free_bits_floor_a_sampled_kl_as_a_whole():
    model = fixed_noise(tiny_vae(free_bits=2.0, prior="mixture_of_gaussians"))
    model.build((None,) + SHAPE)
    loss, aux = loss_of(model)
    floor = 2.0 * 3  # free_bits times the latent size
    assert aux["kl_loss"] < floor
    assert loss == pytest.approx(aux["reconstruction_loss"] + floor, rel=1e-6)


def test_free_bits_and_warmup_compose():
    model = fixed_noise(tiny_vae(free_bits=0.3, kl_warmup_steps=4))
    model.build((None,) + SHAPE)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.fit(X, epochs=1, batch_size=16, verbose=0).history
    # First step: the floored KL (3 dims x at least 0.3) at weight 1/4.
    assert logs["loss"][0] >= logs["reconstruction_loss"][0] + 0.9 / 4 - 1e-4
    assert logs["loss"][0] < logs["reconstruction_loss"][0] + 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"objective": "elbo2"}, "Unknown objective"),
        ({"objective": None}, "Unknown objective"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": 2.5}, "num_samples"),
        ({"num_samples": True}, "num_samples"),
        ({"free_bits": -0.1}, "free_bits"),
        ({"free_bits": "many"}, "free_bits"),
        ({"free_bits": 0.5, "objective": "iwae"}, "free_bits"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_vae(**kwargs)


def test_iwae_needs_a_decoder_of_the_image_shape():
    model = kvae.VAE(
        kvae.layers.MLPEncoder(3, hidden_units=(8,)),
        kvae.layers.MLPDecoder((4, 4, 2), hidden_units=(8,)),
        objective="iwae",
        num_samples=5,
        image_metrics=False,
    )
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"decoder produces images of shape"):
        model.fit(X, epochs=1, verbose=0)


def test_config_round_trip_keeps_the_objective():
    model = tiny_vae(
        objective="iwae", num_samples=5, prior="vamp", kl_warmup_steps=3
    )
    config = model.get_config()
    clone = kvae.VAE.from_config(config)
    assert clone.get_config() == config
    assert (clone.objective, clone.num_samples) == ("iwae", 5)
    assert isinstance(clone.prior, kvae.priors.VampPrior)
    assert tiny_vae(free_bits=0.25).get_config()["free_bits"] == 0.25
