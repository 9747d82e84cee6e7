"""kvae under `keras.distribution` on JAX, on 4 virtual CPU devices.

`XLA_FLAGS=--xla_force_host_platform_device_count=4` only works if it is set
before JAX starts, so the training runs in fresh processes
(`tests/distribution/jax_worker.py`): one with 4 devices, one with 1, in
parallel. They run only when this suite runs under `KERAS_BACKEND=jax`, so
once per CI run.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kvae.utils import backend_env

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
DEVICE_FLAG = "--xla_force_host_platform_device_count"
# XLA aborts the process if a device thread is 40 s late to a collective,
# which a busy 2-core CI machine can cause; wait longer instead.
PATIENT_COLLECTIVES = "--xla_cpu_collective_call_terminate_timeout_seconds=600"
WORKER = "tests.distribution.jax_worker"
METRICS = ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim", "psnr")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "jax",
        reason="runs under KERAS_BACKEND=jax (once per CI run)",
    ),
]


def _env(devices):
    flags = [
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if not f.startswith(DEVICE_FLAG)
    ]
    if devices > 1:
        flags += [f"{DEVICE_FLAG}={devices}", PATIENT_COLLECTIVES]
    return backend_env("jax", JAX_PLATFORMS="cpu", XLA_FLAGS=" ".join(flags))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs both workers at once; returns (multi, single, out_dir)."""
    pytest.importorskip("jax")
    out_dir = tmp_path_factory.mktemp("jax_distribution")
    procs, logs = {}, {}
    try:
        for mode, devices in (("multi", 4), ("single", 1)):
            # Files, not pipes: a full pipe would stall the other worker.
            logs[mode] = open(out_dir / f"{mode}.log", "w+")
            procs[mode] = subprocess.Popen(
                [sys.executable, "-m", WORKER, mode, str(out_dir)],
                cwd=ROOT,
                env=_env(devices),
                stdout=logs[mode],
                stderr=subprocess.STDOUT,
            )
        for mode, proc in procs.items():
            proc.wait(timeout=900)
            logs[mode].seek(0)
            assert proc.returncode == 0, (
                f"{mode} worker failed:\n{logs[mode].read()[-5000:]}"
            )
    finally:
        for mode, proc in procs.items():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            logs[mode].close()
    multi = dict(np.load(out_dir / "multi.npz"))
    single = dict(np.load(out_dir / "single.npz"))
    return multi, single, out_dir


def _assert_same_training(multi, single, prefix, metrics):
    for kind in ("step", "epoch"):
        for name in metrics:
            key = f"{prefix}/{kind}/{name}"
            np.testing.assert_allclose(
                multi[key], single[key], rtol=1e-5, atol=1e-6, err_msg=key
            )
    weights = [k for k in single if k.startswith(f"{prefix}/weight/")]
    assert len(weights) >= 10
    for key in weights:
        np.testing.assert_allclose(
            multi[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key
        )


def test_data_parallel_matches_one_device(runs):
    multi, single, _ = runs
    # The loss moved during training, so agreeing is not trivial.
    losses = single["dp/step/loss"]
    assert len(losses) == 4 and np.ptp(losses) > 0.1
    _assert_same_training(multi, single, "dp", METRICS)
    np.testing.assert_allclose(
        multi["dp/evaluate_loss"], single["dp/evaluate_loss"], rtol=1e-5
    )


def test_data_parallel_shards_the_batch(runs):
    multi, _, _ = runs
    assert multi["dp/num_replicas"] == 4
    # Seen inside the jitted train step: the batch is split across devices,
    # the weights are replicated.
    assert str(multi["dp/z_mean_spec"]) == "('batch',)"
    assert multi["dp/z_mean_devices"] == 4
    assert "batch" not in str(multi["dp/kernel_spec"])


def test_each_device_draws_its_own_eps(runs):
    multi, single, _ = runs
    eps = multi["dp/eps"]  # the default draw, (steps, batch, latent)
    shards = multi["dp/eps_shards"]  # what each device drew at one step
    assert shards.shape == (4, eps.shape[1] // 4, eps.shape[2])
    for i in range(4):
        for j in range(i):
            assert not np.allclose(shards[i], shards[j])
    # The shards are the four slices of one global draw...
    blocks = eps[0].reshape(shards.shape)
    matched = {
        next(b for b in range(4) if np.array_equal(s, blocks[b]))
        for s in shards
    }
    assert matched == {0, 1, 2, 3}
    # ...the same draw as on one device, and a new one at each step.
    np.testing.assert_allclose(eps, single["dp/eps"], rtol=1e-6)
    assert not np.allclose(eps[0], eps[1])


def test_model_parallel_splits_the_residual_decoder(runs):
    multi, single, _ = runs
    assert multi["mp/num_replicas"] == 2
    specs = dict(line.split("|") for line in multi["mp/specs"])
    split = [path for path, spec in specs.items() if "'model'" in spec]
    assert any("/dense" in path for path in split), specs
    assert sum("residual_block" in path for path in split) >= 4, specs
    assert sum("upsample2d" in path for path in split) >= 2, specs
    # The last convolution, to the image channels, stays whole.
    last_conv = [p for p in specs if "/conv2d" in p and p.count("/") == 3]
    assert len(last_conv) == 2 and not set(last_conv) & set(split), specs
    _assert_same_training(
        multi, single, "mp", ("loss", "reconstruction_loss", "kl_loss")
    )
    assert multi["mp/sample"].shape == (3, 8, 8, 1)
    assert np.isfinite(multi["mp/sample"]).all()


def test_gif_callback_decodes_on_the_host(runs):
    import imageio.v3 as iio

    _, _, out_dir = runs
    frames = iio.imread(out_dir / "gif" / "samples.gif", index=None)
    assert len(frames) == 2  # one per epoch
    assert not np.array_equal(frames[0], frames[1])


def test_model_trained_on_four_devices_loads_on_one(runs):
    import jax

    from tests.distribution import jax_worker

    multi, _, out_dir = runs
    assert jax.device_count() == 1
    model = keras.saving.load_model(out_dir / "dp.keras")
    assert isinstance(model, jax_worker.FixedNoiseVAE)
    trained = [multi[k] for k in multi if k.startswith("dp/weight/")]
    assert len(trained) == len(model.trainable_variables)
    for v, value in zip(model.trainable_variables, trained):
        assert isinstance(v.value.sharding, jax.sharding.SingleDeviceSharding)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), value)
    x = jax_worker.images(jax_worker.CONV_SHAPE)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.reconstruct(x)),
        multi["dp/reconstruct"],
        rtol=1e-5,
        atol=1e-6,
    )
