"""Cross-backend parity: same weights and the same eps give the same loss
and gradients on TensorFlow, JAX and PyTorch."""

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
    return dict(np.load(path))


@pytest.mark.slow
def test_loss_and_gradients_agree_across_backends(tmp_path):
    current = keras.backend.backend()
    everything = {current: parity_worker.all_cases()}
    for backend in BACKENDS:
        if backend == current:
            continue
        if importlib.util.find_spec(backend) is None:
            pytest.skip(f"{backend} is not installed")
        everything[backend] = run_worker(backend, tmp_path / f"{backend}.npz")
    for case in parity_worker.CASES:
        results = {
            backend: {
                key.split(":", 1)[1]: value
                for key, value in result.items()
                if key.startswith(f"{case}:")
            }
            for backend, result in everything.items()
        }
        _check_agreement(results, current)
    # sigma="optimal": the step logged and stored the same sigma.
    reference = everything[current]
    sigma = reference["optimal_sigma:log/sigma"]
    assert 0.2 < sigma < 2.0
    np.testing.assert_allclose(
        np.log(sigma), reference["optimal_sigma:log_sigma"], rtol=1e-5
    )
    for backend, result in everything.items():
        np.testing.assert_allclose(
            result["optimal_sigma:log/sigma"], sigma, rtol=1e-5, err_msg=backend
        )


def _check_agreement(results, current):
    reference = results[current]
    assert reference["log/loss"] > 0
    grads = [k for k in reference if k.startswith("grad/")]
    assert len(grads) >= 10
    assert all(np.abs(reference[k]).max() > 0 for k in grads)
    for backend, result in results.items():
        assert sorted(result) == sorted(reference), backend
        for key in ("log/loss", "log/reconstruction_loss", "log/kl_loss"):
            np.testing.assert_allclose(
                result[key], reference[key], rtol=1e-5, err_msg=backend
            )
        for key in grads:
            np.testing.assert_allclose(
                result[key],
                reference[key],
                rtol=1e-3,
                atol=1e-5 * np.abs(reference[key]).max(),
                err_msg=f"{backend}: {key}",
            )
