"""`kvae.evaluation` against models whose likelihood is known exactly.

A linear-Gaussian VAE (`z ~ N(0, I)`, `x | z ~ N(W z + b, sigma^2 I)`) has
`x ~ N(b, W W^T + sigma^2 I)`, so `log p(x)` is analytic, and so is its
ELBO for any Gaussian encoder. With a 1-D latent, a Bernoulli decoder's
`log p(x)` is a one-dimensional integral that quadrature computes exactly.
"""

import math

import keras
import numpy as np
import pytest

import kvae
from kvae import evaluation

X_DIM = 5
LATENT_DIM = 2
SIGMA = 0.5


class LinearEncoder(keras.layers.Layer):
    """`q(z | x) = N(x @ kernel + bias, diag(exp(log_var)))`, fixed."""

    def __init__(self, kernel, bias, log_var, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = kernel.shape[1]
        self._values = (kernel, bias, log_var)

    def build(self, input_shape):
        kernel, bias, log_var = self._values
        self.kernel, self.bias, self.log_var = (
            self.add_weight(
                shape=value.shape,
                initializer=keras.initializers.Constant(value),
                trainable=False,
                name=name,
            )
            for value, name in zip(
                (kernel, bias, log_var), ("kernel", "bias", "log_var")
            )
        )

    def call(self, x, training=False):
        mean = keras.ops.matmul(x, self.kernel) + self.bias
        return mean, keras.ops.zeros_like(mean) + self.log_var


class LinearDecoder(keras.layers.Layer):
    """The mean (or logits) `z @ kernel + bias`, fixed."""

    def __init__(self, kernel, bias, **kwargs):
        super().__init__(**kwargs)
        self._values = (kernel, bias)

    def build(self, input_shape):
        kernel, bias = self._values
        self.kernel = self.add_weight(
            shape=kernel.shape,
            initializer=keras.initializers.Constant(kernel),
            trainable=False,
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=bias.shape,
            initializer=keras.initializers.Constant(bias),
            trainable=False,
            name="bias",
        )

    def call(self, z, training=False):
        return keras.ops.matmul(z, self.kernel) + self.bias


def linear_gaussian(mean_scale=1.0, extra_log_var=0.0, seed=0):
    """A linear-Gaussian VAE, its data and the analytic `-log p(x)` and
    `-ELBO` per example.

    The decoder's columns are orthogonal, so the exact posterior is a
    diagonal Gaussian; `mean_scale=1, extra_log_var=0` gives an encoder
    that is exactly the posterior, anything else a worse one.
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((X_DIM, LATENT_DIM)))
    scales = np.array([2.0, 0.7])
    w = q * scales  # (X_DIM, LATENT_DIM), columns orthogonal
    b = rng.standard_normal(X_DIM)
    post_var = 1.0 / (1.0 + scales**2 / SIGMA**2)
    enc_kernel = q * (post_var * scales / SIGMA**2) * mean_scale
    enc_bias = -b @ enc_kernel
    log_var = np.log(post_var) + extra_log_var

    model = kvae.VAE(
        LinearEncoder(
            enc_kernel.astype("float32"),
            enc_bias.astype("float32"),
            log_var.astype("float32"),
        ),
        LinearDecoder(w.T.astype("float32"), b.astype("float32")),
        likelihood="gaussian",
        sigma=SIGMA,
        image_metrics=False,
        seed=1,
    )
    cov = w @ w.T + SIGMA**2 * np.eye(X_DIM)
    x = rng.multivariate_normal(b, cov, size=200)
    model.build((None, X_DIM))

    diff = x - b
    _, logdet = np.linalg.slogdet(cov)
    quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    true_nll = 0.5 * (X_DIM * math.log(2 * math.pi) + logdet + quad)

    m = x @ enc_kernel + enc_bias
    v = np.exp(log_var)
    residual = x - m @ w.T - b
    expected_nll = 0.5 * X_DIM * math.log(2 * math.pi * SIGMA**2) + (
        np.sum(residual**2, axis=1) + np.sum(v * scales**2)
    ) / (2 * SIGMA**2)
    kl = 0.5 * np.sum(m**2 + v - 1.0 - np.log(v), axis=1)
    return model, x.astype("float32"), true_nll, expected_nll + kl


def test_exact_posterior_gives_the_exact_likelihood():
    # With q(z | x) = p(z | x) every importance weight equals p(x).
    model, x, true_nll, neg_elbo = linear_gaussian()
    np.testing.assert_allclose(neg_elbo, true_nll, rtol=1e-9)
    estimate = evaluation.importance_weighted_nll(
        model, x, num_samples=1, reduce=False
    )
    assert estimate.shape == (len(x),)
    np.testing.assert_allclose(estimate, true_nll, atol=2e-3, rtol=1e-4)


def test_bound_tightens_towards_the_true_likelihood():
    model, x, true_nll, neg_elbo = linear_gaussian(
        mean_scale=0.6, extra_log_var=1.0
    )
    gap_elbo = float(np.mean(neg_elbo - true_nll))
    assert gap_elbo > 0.5  # a poor encoder: the bound has room to tighten
    gaps, errors = [], []
    for k in (1, 10, 100, 1000):
        estimate = evaluation.importance_weighted_nll(
            model, x, num_samples=k, seed=k, reduce=False
        )
        gap = estimate - true_nll
        gaps.append(float(gap.mean()))
        errors.append(float(gap.std() / math.sqrt(len(gap))))
    # Never below the truth in expectation (within 3 standard errors) ...
    for gap, error in zip(gaps, errors):
        assert gap > -3 * error - 1e-3, (gaps, errors)
    # ... decreasing with k ...
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3], gaps
    # ... from the ELBO's gap at k=1 to nearly nothing at k=1000.
    assert abs(gaps[0] - gap_elbo) < 4 * errors[0] + 0.05, (gaps, gap_elbo)
    assert gaps[3] < 0.05 * gap_elbo, (gaps, gap_elbo)


def test_negative_elbo_matches_the_analytic_elbo():
    model, x, _, neg_elbo = linear_gaussian(mean_scale=0.6, extra_log_var=1.0)
    model.compile(optimizer="adam")
    x_many = np.tile(x, (20, 1))  # 4,000 single-sample draws
    estimate = evaluation.negative_elbo(model, x_many, batch_size=500)
    assert abs(estimate - neg_elbo.mean()) < 0.1, (estimate, neg_elbo.mean())


def test_chunks_batches_and_iterables_give_the_same_estimate():
    model, x, _, _ = linear_gaussian(mean_scale=0.8, extra_log_var=0.5)
    x = x[:40]
    whole = evaluation.importance_weighted_nll(
        model, x, num_samples=30, batch_size=20, seed=3, reduce=False
    )
    chunked = evaluation.importance_weighted_nll(
        model,
        x,
        num_samples=30,
        batch_size=20,
        chunk_size=7,
        seed=3,
        reduce=False,
    )
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
    batches = [(x[:20], np.zeros(20)), (x[20:], np.zeros(20))]
    iterated = evaluation.importance_weighted_nll(
        model, batches, num_samples=30, seed=3, reduce=False
    )
    np.testing.assert_allclose(iterated, whole, rtol=1e-5, atol=1e-5)
    mean = evaluation.importance_weighted_nll(
        model, x, num_samples=30, batch_size=20, seed=3
    )
    assert isinstance(mean, float)
    assert mean == pytest.approx(float(whole.mean()), rel=1e-6)
    # A different seed, different noise.
    other = evaluation.importance_weighted_nll(
        model, x, num_samples=30, batch_size=20, seed=4, reduce=False
    )
    assert not np.allclose(other, whole)


def test_progress_bar_counts_images_and_leaves_the_estimate_alone(capsys):
    model, x, _, _ = linear_gaussian(mean_scale=0.8, extra_log_var=0.5)
    x = x[:50]
    quiet = evaluation.importance_weighted_nll(
        model, x, num_samples=30, batch_size=20, chunk_size=7, seed=3
    )
    assert capsys.readouterr().out == ""
    shown = evaluation.importance_weighted_nll(
        model, x, num_samples=30, batch_size=20, chunk_size=7, seed=3, verbose=1
    )
    printed = capsys.readouterr().out
    assert shown == quiet
    # The bar reaches every image, and moves within a batch's chunks.
    assert "50/50" in printed and "image" in printed
    assert " 4/50" in printed  # 7 of 30 samples for 20 images
    # An iterable of unknown length still ends with its count.
    evaluation.importance_weighted_nll(
        model, [x[:20], x[20:]], num_samples=5, seed=3, verbose=1
    )
    assert "50/Unknown" in capsys.readouterr().out


def test_bernoulli_matches_quadrature():
    # 1-D latent: log p(x) = log integral N(z; 0, 1) prod_j Bern(x_j; s(z)).
    rng = np.random.default_rng(5)
    pixels = 8
    dec_w = rng.normal(0.0, 1.0, (1, pixels))
    dec_b = rng.normal(0.0, 1.0, pixels)
    x = (rng.random((30, pixels)) < 0.5).astype("float32")

    z = np.linspace(-12.0, 12.0, 48001)
    logits = z[:, None] * dec_w + dec_b  # (grid, pixels)
    log_px_z = (
        x[:, None, :] * logits[None] - np.logaddexp(0.0, logits)[None]
    ).sum(-1)
    log_joint = log_px_z - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    top = log_joint.max(axis=1, keepdims=True)
    dz = z[1] - z[0]
    true_nll = -(top[:, 0] + np.log(np.exp(log_joint - top).sum(1) * dz))

    # A linear encoder fitted to the posterior means, too wide.
    posterior = np.exp(log_joint - top)
    posterior /= posterior.sum(1, keepdims=True)
    post_mean = posterior @ z
    post_var = posterior @ z**2 - post_mean**2
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    coef = np.linalg.lstsq(design, post_mean, rcond=None)[0]
    model = kvae.VAE(
        LinearEncoder(
            coef[:-1, None].astype("float32"),
            coef[-1:].astype("float32"),
            np.log([3.0 * post_var.mean()]).astype("float32"),
        ),
        LinearDecoder(dec_w.astype("float32"), dec_b.astype("float32")),
        likelihood="bernoulli",
        image_metrics=False,
    )
    model.build((None, pixels))

    # k=1, averaged over many draws: the ELBO, clearly above the truth.
    k1 = evaluation.importance_weighted_nll(
        model, np.tile(x, (50, 1)), num_samples=1, seed=0
    )
    k2000 = evaluation.importance_weighted_nll(
        model, x, num_samples=2000, seed=0, reduce=False
    )
    assert k1 > true_nll.mean() + 0.05, (k1, true_nll.mean())
    np.testing.assert_allclose(k2000, true_nll, atol=0.1)
    assert abs(k2000.mean() - true_nll.mean()) < 0.015


def test_log_importance_weights_shape():
    model, x, _, _ = linear_gaussian()
    eps = np.random.default_rng(0).standard_normal((3, 4, LATENT_DIM))
    log_w = keras.ops.convert_to_numpy(
        evaluation.log_importance_weights(model, x[:4], eps)
    )
    assert log_w.shape == (3, 4)
    assert np.isfinite(log_w).all()


def test_evaluate_draws_its_iwae_images_across_an_ordered_set():
    model, x, true_nll, _ = linear_gaussian()
    model.compile(optimizer="adam")
    order = np.argsort(true_nll)  # the easiest images first
    x, true_nll = x[order], true_nll[order]
    results = [
        evaluation.evaluate(
            model, x, num_samples=5, num_examples=50, batch_size=50, seed=s
        )["iwae_nll"]
        for s in (0, 0, 1)
    ]
    assert results[0] == results[1] and results[0] != results[2]
    # The first 50 would be far below the mean; a spread draw is not.
    first_gap = true_nll.mean() - true_nll[:50].mean()
    assert first_gap > 1.0
    for value in results:
        assert abs(value - true_nll.mean()) < first_gap / 3, value


def test_evaluate_reports_every_number():
    model, x, true_nll, _ = linear_gaussian()
    model.compile(optimizer="adam")
    result = evaluation.evaluate(
        model, x, num_samples=5, num_examples=50, batch_size=50
    )
    assert set(result) == {
        "negative_elbo",
        "reconstruction_loss",
        "kl_loss",
        "iwae_nll",
        "iwae_samples",
        "iwae_examples",
    }
    assert result["iwae_examples"] == 50 and result["iwae_samples"] == 5
    # The exact posterior: each image's estimate is its true -log p(x).
    rows = np.random.default_rng(0).choice(200, 50, replace=False)
    assert result["iwae_nll"] == pytest.approx(true_nll[rows].mean(), abs=1e-2)
    assert result["negative_elbo"] == pytest.approx(
        result["reconstruction_loss"] + result["kl_loss"]
    )


@pytest.mark.parametrize(
    "kwargs", [{"num_samples": 0}, {"batch_size": -1}, {"chunk_size": 1.5}]
)
def test_bad_arguments(kwargs):
    model, x, _, _ = linear_gaussian()
    with pytest.raises(ValueError, match="positive int"):
        evaluation.importance_weighted_nll(model, x, **kwargs)
