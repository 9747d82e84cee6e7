"""Cross-backend parity: same weights and the same eps give the same loss
and gradients on TensorFlow, JAX and PyTorch, for every kind of model
(priors, objectives, the hierarchical VAE). Each suite compares its
backend with the next one (`compared_backend`), so the three suites of CI
cover every pair."""

import importlib.util
import os
import sys

import keras
import numpy as np
import pytest

from kvae.utils import run_with_backend
from tests import parity_worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ("tensorflow", "jax", "torch")


def run_worker(backend, path):
    run_with_backend(
        [sys.executable, "-m", "tests.parity_worker", str(path)],
        backend,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    results = {}
    for key, value in np.load(path).items():
        model, name = key.split("|", 1)
        results.setdefault(model, {})[name] = value
    return results


# (loss rtol, gradient atol relative to the largest gradient). Several
# samples per image, mixtures and log-sum-exps add float32 reductions that
# each backend orders its own way: a few gradient entries near zero differ
# by ~5e-7 of their tensor's largest entry.
# The VampPrior's pseudo-inputs of the hierarchical model get their
# gradient through the whole bottom-up path and the top group's posterior,
# with IWAE weights: entries near zero differ by ~4e-4 of the largest.
TOLERANCE = {"vae": (1e-5, 1e-5), "hierarchical_vamp_iwae": (3e-5, 1e-3)}
DEFAULT_TOLERANCE = (3e-5, 1e-4)


def compared_backend(backend):
    """The backend this suite's backend is compared with: the next one in
    `BACKENDS`, in a cycle. Agreement is symmetric, so CI's three suites
    (one per backend) compare every pair once, with one worker process
    each instead of two."""
    return BACKENDS[(BACKENDS.index(backend) + 1) % len(BACKENDS)]


@pytest.fixture(scope="module")
def other_backends(tmp_path_factory):
    """Every model's step under the compared backend, in one process."""
    results = {}
    for backend in (compared_backend(keras.backend.backend()),):
        if importlib.util.find_spec(backend) is None:
            pytest.skip(f"{backend} is not installed")
        path = tmp_path_factory.mktemp("parity") / f"{backend}.npz"
        results[backend] = run_worker(backend, path)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(parity_worker.MODELS))
def test_loss_and_gradients_agree_across_backends(model, other_backends):
    reference = parity_worker.one_step(model)
    results = {b: r[model] for b, r in other_backends.items()}

    assert reference["log/loss"] > 0
    grads = [k for k in reference if k.startswith("grad/")]
    assert len(grads) >= 10
    assert all(np.abs(reference[k]).max() > 0 for k in grads)
    losses = [k for k in reference if k.startswith("log/") and "loss" in k]
    assert {"log/loss", "log/reconstruction_loss", "log/kl_loss"} <= set(losses)
    loss_rtol, grad_atol = TOLERANCE.get(model, DEFAULT_TOLERANCE)
    for backend, result in results.items():
        assert sorted(result) == sorted(reference), backend
        for key in losses:
            np.testing.assert_allclose(
                result[key],
                reference[key],
                rtol=loss_rtol,
                # A term near zero (a collapsed group's KL) is compared on
                # the scale of the loss.
                atol=loss_rtol * abs(reference["log/loss"]),
                err_msg=backend,
            )
        for key in grads:
            np.testing.assert_allclose(
                result[key],
                reference[key],
                rtol=1e-3,
                atol=grad_atol * np.abs(reference[key]).max(),
                err_msg=f"{backend}: {key}",
            )


def test_optimal_sigma_is_logged_and_stored_alike(other_backends):
    reference = parity_worker.one_step("optimal_sigma")
    sigma = reference["log/sigma"]
    assert 0.2 < sigma < 2.0
    # The first training batch sets the running estimate to its own sigma.
    np.testing.assert_allclose(np.log(sigma), reference["log_sigma"], rtol=1e-5)
    for backend, result in other_backends.items():
        for key in ("log/sigma", "log_sigma"):
            np.testing.assert_allclose(
                result["optimal_sigma"][key],
                reference[key],
                rtol=1e-5,
                err_msg=backend,
            )


def test_hierarchical_models_log_every_level():
    reference = parity_worker.one_step("hierarchical")
    assert {"log/kl_loss_1", "log/kl_loss_2"} <= set(reference)
    np.testing.assert_allclose(
        reference["log/kl_loss"],
        reference["log/kl_loss_1"] + reference["log/kl_loss_2"],
        rtol=1e-5,
    )


def test_the_three_suites_compare_every_pair_of_backends():
    pairs = {frozenset((b, compared_backend(b))) for b in BACKENDS}
    assert len(pairs) == 3 and all(len(pair) == 2 for pair in pairs)
