"""What the 2-process tests check, the same on every backend.

Each `test_processes_<backend>.py` says how its backend's processes are
launched (`envs(world_size)`: one environment per process) and calls these.
The processes run `tests/distribution/process_worker.py`.
"""

import json
import os
import time

import keras
import numpy as np

from tests.distribution import launch
from tests.distribution import process_worker

WORKER = "tests.distribution.process_worker"
METRICS = ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim", "psnr")
# The collective timeout of the failure tests, and the slack allowed for a
# process to report the error and exit on a busy 2-core machine.
TIMEOUT, SLACK = 15, 45


def start(backend, mode, results, envs):
    results.mkdir()
    return launch.Processes(
        backend,
        [launch.module(WORKER, mode, results)] * len(envs),
        envs,
        results,
    )


def train_alone_and_together(backend, envs, root):
    """One process alone and 2 together, at once; their results."""
    with (
        start(backend, "train", root / "alone", [{}]) as single,
        start(backend, "train", root / "two", envs) as pair,
    ):
        single.assert_succeeded(timeout=300)
        pair.assert_succeeded(timeout=300)
    results = [dict(np.load(root / "two" / f"result{i}.npz")) for i in range(2)]
    return dict(np.load(root / "alone" / "result0.npz")), results


def assert_same_training(single, results):
    assert single["process_count"] == 1
    losses = single["step/loss"]
    assert len(losses) == process_worker.STEPS and np.ptp(losses) > 0.1
    for result in results:
        assert result["process_count"] == 2
        # Every process logs the global means, the numbers of one process.
        for kind in ("step", "epoch"):
            for name in METRICS:
                key = f"{kind}/{name}"
                np.testing.assert_allclose(
                    result[key], single[key], rtol=1e-5, err_msg=key
                )
        np.testing.assert_allclose(
            result["evaluate_loss"], single["evaluate_loss"], rtol=1e-5
        )
    weights = [k for k in single if k.startswith("weight/")]
    assert len(weights) >= 10
    first, second = results
    for key in weights:
        np.testing.assert_array_equal(first[key], second[key])
        np.testing.assert_allclose(
            first[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key
        )


def moving_statistics(slices):
    """The moving mean and variance of `NormalizedEncoder`'s BatchNorm
    after `train_normalized`, when each step's statistics are the means
    of those of `slices(batch)` (a list of parts of the batch)."""
    x = process_worker.scaled_images().astype("float64")
    momentum = process_worker.MOMENTUM
    mean, variance = 0.0, 1.0  # BatchNorm's initial values
    for _ in range(2):  # epochs, in order
        for start in range(0, len(x), process_worker.BATCH):
            parts = slices(x[start : start + process_worker.BATCH])
            batch_mean = np.mean([part.mean() for part in parts])
            batch_variance = np.mean([part.var() for part in parts])
            mean = momentum * mean + (1 - momentum) * batch_mean
            variance = momentum * variance + (1 - momentum) * batch_variance
    return mean, variance


def halves(batch):
    return [batch[: len(batch) // 2], batch[len(batch) // 2 :]]


def assert_normalized_state(single, results, statistics):
    """The float non-trainable variables of `train_normalized`'s model.

    `statistics` says where the 2 processes' BatchNorm statistics come
    from: `"global"` (the global batch: those of one process),
    `"averaged"` (each process's slice, averaged over the processes, so
    the moving mean is the global one but the variance lacks the
    between-slice term) or `"own slice"` (each process its own slice).
    """
    keys = [k for k in single if k.startswith("state/")]
    (mean_key,) = (k for k in keys if k.endswith("/moving_mean"))
    (variance_key,) = (k for k in keys if k.endswith("/moving_variance"))
    (sigma_key,) = (k for k in keys if k.endswith("/log_sigma"))
    (updates_key,) = (k for k in keys if k.endswith("/sigma_updates"))
    assert single[updates_key] == process_worker.STEPS
    expected = moving_statistics(lambda batch: [batch])
    np.testing.assert_allclose(single[mean_key], [expected[0]], rtol=1e-6)
    np.testing.assert_allclose(single[variance_key], [expected[1]], rtol=1e-5)
    if statistics == "own slice":
        for index, result in enumerate(results):
            own = moving_statistics(lambda batch: [halves(batch)[index]])
            np.testing.assert_allclose(result[mean_key], [own[0]], rtol=1e-6)
            np.testing.assert_allclose(
                result[variance_key], [own[1]], rtol=1e-5
            )
        return
    first, second = results
    for key in keys:  # every process holds the same state
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    if statistics == "averaged":
        expected = moving_statistics(halves)
        # The slices' means differ (`scaled_images`): so do the variances.
        assert not np.isclose(expected[1], single[variance_key], rtol=1e-3)
    np.testing.assert_allclose(first[mean_key], [expected[0]], rtol=1e-6)
    np.testing.assert_allclose(first[variance_key], [expected[1]], rtol=1e-5)
    assert first[updates_key] == process_worker.STEPS
    # The running sigma: each slice's optimal sigma (the mean of their
    # logs when averaged); within the spread of the slices' errors.
    tolerance = 1e-6 if statistics == "global" else 0.02
    np.testing.assert_allclose(
        first[sigma_key], single[sigma_key], atol=tolerance
    )


def assert_own_noise(single, results):
    first, second = (r["drawn"] for r in results)
    assert first.shape == second.shape == (process_worker.BATCH // 2, 3)
    assert np.abs(first).sum() > 0
    assert not np.allclose(first, second, atol=0.1)


def assert_loads_and_trains(path, first):
    """The model process 0 saved loads and trains in this process."""
    model = keras.saving.load_model(path)
    assert isinstance(model, process_worker.ExampleNoiseVAE)
    trained = [first[k] for k in first if k.startswith("weight/")]
    assert len(trained) == len(model.trainable_variables)
    for v, value in zip(model.trainable_variables, trained):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), value)
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    history = model.fit(process_worker.images(), batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(after, before))


def lose_a_process(backend, envs, root):
    """Process 1 killed (`die`) and stopped (`stall`) after one step, at
    once; `{mode: (exit code, log, seconds)}` of each process 0, the
    seconds counted from when process 1 stopped."""
    result = {}
    with (
        start(backend, "die", root / "die", envs("die")) as died,
        start(backend, "stall", root / "stall", envs("stall")) as stalled,
    ):
        pending = {"die": died, "stall": stalled}
        begin, stopped_at = time.monotonic(), {}
        while pending and time.monotonic() < begin + 300:
            for mode, procs in list(pending.items()):
                if mode not in stopped_at and "process 1 stops" in procs.log(1):
                    stopped_at[mode] = time.monotonic()
                if procs.procs[0].poll() is not None:
                    seconds = time.monotonic() - stopped_at.get(mode, begin)
                    code = procs.procs[0].returncode
                    result[mode] = (code, procs.log(0), seconds)
                    del pending[mode]
            time.sleep(0.2)
        assert not pending, {m: p.log(0)[-3000:] for m, p in pending.items()}
    return result


def assert_stopped_clearly(failure, message):
    code, log, seconds = failure
    print(f"process 0 exited {code}, {seconds:.1f} s after process 1 stopped")
    assert code != 0, log[-3000:]
    assert message in log, log[-3000:]
    assert seconds < TIMEOUT + SLACK, (seconds, log[-3000:])


def recipe_flags(shared_data, out):
    """A tiny KMNIST run with one GIF and one plot."""
    from tests.recipes.test_kmnist import tiny_flags

    return [
        "--distribute",
        "data_parallel",
        "--gifs",
        "samples",
        "--plots",
        "metrics",
        "--no-tensorboard",
        *tiny_flags(shared_data, out),
    ]


def assert_written_by_one_process(out):
    """The run's folder holds exactly the files of one complete run."""
    with open(out / "metrics.json", encoding="utf-8") as f:
        metrics = json.load(f)
    assert sorted(os.listdir(out)) == sorted(metrics["files"])
    assert set(metrics["files"]) == {
        "history.csv",
        "metrics.json",
        "metrics.png",
        "model.keras",
        "samples.gif",
    }
    with open(out / "history.csv", encoding="utf-8") as f:
        assert len(f.read().strip().splitlines()) == 1 + 2  # header, epochs
    assert np.isfinite(metrics["negative_elbo"])
    keras.saving.load_model(out / "model.keras")
