"""kvae across 2 torch processes (`torch.distributed`, gloo, loopback).

The processes run `tests/distribution/process_worker.py` (and a recipe),
started as torchrun starts them (`RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
`MASTER_PORT`) on 127.0.0.1 and a free port, with bounded waits. Only
under `KERAS_BACKEND=torch`: once per CI run.
"""

import json
import os
import sys
import time

import keras
import numpy as np
import pytest

from tests.distribution import launch
from tests.distribution import process_worker

WORKER = "tests.distribution.process_worker"
METRICS = ("loss", "reconstruction_loss", "kl_loss", "mse", "ssim", "psnr")
# The collective timeout of the failure tests, and the slack allowed for a
# process to report the error and exit on a busy 2-core machine.
TIMEOUT, SLACK = 15, 30

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "torch",
        reason="runs under KERAS_BACKEND=torch (once per CI run)",
    ),
]


def torchrun_env(rank, world_size, port, **variables):
    return dict(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR=launch.HOST,
        MASTER_PORT=str(port),
        **variables,
    )


def start(mode, results, world_size, **variables):
    results.mkdir()
    port = launch.free_port()
    return launch.Processes(
        "torch",
        [launch.module(WORKER, mode, results)] * world_size,
        [
            torchrun_env(r, world_size, port, **variables)
            for r in range(world_size)
        ],
        results,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process alone and two together, at once; their results."""
    root = tmp_path_factory.mktemp("torch_processes")
    alone = root / "alone"
    alone.mkdir()
    with (
        launch.Processes(
            "torch", [launch.module(WORKER, "train", alone)], [{}], alone
        ) as single,
        start("train", root / "two", 2) as pair,
    ):
        single.assert_succeeded(timeout=300)
        pair.assert_succeeded(timeout=300)
    results = [dict(np.load(root / "two" / f"result{i}.npz")) for i in range(2)]
    return dict(np.load(alone / "result0.npz")), results, root


def test_two_processes_train_as_one_over_the_global_batches(runs):
    single, (first, second), _ = runs
    assert single["process_count"] == 1 and first["process_count"] == 2
    losses = single["step/loss"]
    assert len(losses) == process_worker.STEPS and np.ptp(losses) > 0.1
    for result in (first, second):
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
    for key in weights:
        # Each process started from other weights: rank 0's were copied.
        np.testing.assert_array_equal(first[key], second[key])
        np.testing.assert_allclose(
            first[key], single[key], rtol=1e-4, atol=1e-6, err_msg=key
        )


def test_each_process_draws_its_own_noise(runs):
    single, (first, second), _ = runs
    shard = process_worker.BATCH // 2
    assert first["drawn"].shape == second["drawn"].shape == (shard, 3)
    assert single["drawn"].shape == (2 * shard, 3)
    assert not np.allclose(first["drawn"], second["drawn"], atol=0.1)


def test_model_saved_by_two_processes_loads_and_trains_here(runs):
    _, (first, _), root = runs
    model = keras.saving.load_model(root / "two" / "model.keras")
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


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    """Process 1 killed after one step, and process 1 stopped after one
    step; the exit code, log and seconds of each process 0."""
    root = tmp_path_factory.mktemp("torch_failures")
    env = {"KVAE_DISTRIBUTED_TIMEOUT": str(TIMEOUT)}
    result = {}
    with (
        start("die", root / "die", 2, **env) as died,
        start("stall", root / "stall", 2, **env) as stalled,
    ):
        pending = {"die": died, "stall": stalled}
        start_time = time.monotonic()
        stopped_at = {}
        deadline = start_time + 240
        while pending and time.monotonic() < deadline:
            for mode, procs in list(pending.items()):
                if mode not in stopped_at and "process 1 stops" in procs.log(1):
                    stopped_at[mode] = time.monotonic()
                if procs.procs[0].poll() is not None:
                    seconds = time.monotonic() - stopped_at.get(
                        mode, start_time
                    )
                    result[mode] = (
                        procs.procs[0].returncode,
                        procs.log(0),
                        seconds,
                    )
                    del pending[mode]
            time.sleep(0.2)
        assert not pending, {m: p.log(0)[-3000:] for m, p in pending.items()}
    return result


@pytest.mark.parametrize("mode", ["die", "stall"])
def test_a_lost_process_stops_the_other_with_a_clear_error(failures, mode):
    code, log, seconds = failures[mode]
    assert code != 0, log[-3000:]
    assert "Process 0 of 2: a collective with the other processes failed" in (
        log
    ), log[-3000:]
    assert f"within {TIMEOUT} s" in log
    assert seconds < TIMEOUT + SLACK, (seconds, log[-3000:])


def test_recipe_under_torchrun_writes_from_process_zero_only(
    shared_data, tmp_path
):
    from tests.recipes.test_kmnist import tiny_flags

    out = tmp_path / "run"
    port = launch.free_port()
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        launch.HOST,
        "--master-port",
        str(port),
        os.path.join(launch.ROOT, "recipes", "kmnist.py"),
        "--distribute",
        "data_parallel",
        "--gifs",
        "samples",
        "--plots",
        "metrics",
        "--no-tensorboard",
        *tiny_flags(shared_data, out),
    ]
    with launch.Processes("torch", [command], [{}], tmp_path) as run:
        run.assert_succeeded(timeout=300)
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
