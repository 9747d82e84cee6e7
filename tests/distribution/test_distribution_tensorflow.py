"""kvae under `tf.distribute.MirroredStrategy`, on 2 logical CPU devices.

The CPU can only be split before TensorFlow starts, so the training runs in
a fresh process (`tests/distribution/tf_worker.py`), only when this suite
runs under `KERAS_BACKEND=tensorflow`: once per CI run.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kvae.utils import run_with_backend

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
METRICS = ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim", "psnr")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="runs under KERAS_BACKEND=tensorflow (once per CI run)",
    ),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("tensorflow")
    out_dir = tmp_path_factory.mktemp("tf_distribution")
    result = run_with_backend(
        [sys.executable, "-m", "tests.distribution.tf_worker", str(out_dir)],
        "tensorflow",
        env={"CUDA_VISIBLE_DEVICES": ""},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return dict(np.load(out_dir / "tf.npz")), out_dir


def test_mirrored_strategy_matches_one_device(run):
    out, _ = run
    assert out["mirrored/num_replicas"] == 2
    # Created in the scope, built outside it by `fit`'s first look at the
    # data: still mirrored.
    assert out["mirrored/all_mirrored"]
    losses = out["single/step/loss"]
    assert len(losses) == 4 and np.ptp(losses) > 0.1
    for kind in ("step", "epoch"):
        for name in METRICS:
            key = f"{kind}/{name}"
            np.testing.assert_allclose(
                out[f"mirrored/{key}"],
                out[f"single/{key}"],
                rtol=1e-5,
                atol=1e-6,
                err_msg=key,
            )
    np.testing.assert_allclose(
        out["mirrored/evaluate_loss"], out["single/evaluate_loss"], rtol=1e-5
    )
    weights = [k for k in out if k.startswith("single/weight/")]
    assert len(weights) >= 10
    for key in weights:
        np.testing.assert_allclose(
            out[key.replace("single/", "mirrored/", 1)],
            out[key],
            rtol=1e-4,
            atol=1e-6,
            err_msg=key,
        )


def test_each_replica_draws_its_own_eps(run):
    out, _ = run
    first, second = out["mirrored/replica_eps"]
    assert np.abs(first).sum() > 0 and not np.allclose(first, second)
    # The seed copies agree again after the steps: 4 training steps and 2
    # evaluation steps, each one draw.
    states = out["mirrored/seed_states"]
    assert len(states) == 2
    np.testing.assert_array_equal(states[0], states[1])
    assert states[0][1] == 6


def test_gif_callback_and_reload_outside_the_strategy(run):
    import imageio.v3 as iio

    out, out_dir = run
    frames = iio.imread(out_dir / "gif" / "samples.gif", index=None)
    assert len(frames) == 2 and not np.array_equal(frames[0], frames[1])
    assert not out["loaded/in_strategy"]
    np.testing.assert_allclose(
        out["loaded/reconstruct"], out["mirrored/reconstruct"], atol=1e-6
    )
