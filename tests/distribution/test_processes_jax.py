"""kvae across 2 JAX processes (`jax.distributed`, gloo on CPU, loopback).

Each process gets Keras's `KERAS_DISTRIBUTION_JOB_ADDRESSES` (a
coordinator on 127.0.0.1 and a free port), `..._NUM_PROCESSES` and
`..._PROCESS_ID`; every wait is bounded (`tests/distribution/cases.py`).
Only under `KERAS_BACKEND=jax`: once per CI run.
"""

import os
import signal
import sys

import keras
import pytest

from tests.distribution import cases
from tests.distribution import launch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "jax",
        reason="runs under KERAS_BACKEND=jax (once per CI run)",
    ),
]


def keras_distribution_envs(**variables):
    return launch.envs(
        "jax", JAX_PLATFORMS="cpu", XLA_FLAGS="", **variables
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("jax_processes")
    single, results = cases.train_alone_and_together(
        "jax", keras_distribution_envs(), root
    )
    return single, results, root


def test_two_processes_train_as_one_over_the_global_batches(runs):
    single, results, _ = runs
    cases.assert_same_training(single, results)


def test_each_process_draws_its_own_noise(runs):
    single, results, _ = runs
    cases.assert_own_noise(single, results)
    # The two slices of one global draw: the draw of a single process.
    drawn = single["drawn"]
    assert (results[0]["drawn"] == drawn[: len(drawn) // 2]).all()
    assert (results[1]["drawn"] == drawn[len(drawn) // 2 :]).all()


def test_non_trainable_state_of_two_processes(runs):
    single, results, _ = runs
    # The batch is one array sharded across the processes: BatchNorm and
    # the optimal sigma see the global batch.
    cases.assert_normalized_state(single, results, "global")


def test_model_saved_by_two_processes_loads_and_trains_here(runs):
    _, results, root = runs
    cases.assert_loads_and_trains(root / "two" / "model.keras", results[0])


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    root = tmp_path_factory.mktemp("jax_failures")
    timeout = {"KVAE_DISTRIBUTED_TIMEOUT": str(cases.TIMEOUT)}
    return cases.lose_a_process(
        "jax", lambda mode: keras_distribution_envs(**timeout), root
    )


@pytest.mark.parametrize("mode", ["die", "stall"])
def test_a_lost_process_stops_the_other_with_a_clear_error(failures, mode):
    # XLA aborts the process after the coordination service's error.
    cases.assert_stopped_clearly(failures[mode], "coordination service")
    code, log, _ = failures[mode]
    assert code == -signal.SIGABRT, log[-3000:]
    assert "another task died" in log, log[-3000:]
    if mode == "die":
        # The dead process's closed socket fails the next collective at
        # once: a Python error, with kvae's note, before the abort.
        assert "JaxRuntimeError" in log, log[-3000:]
        assert "kvae: this is process 0 of 2 (jax.distributed)" in log
        assert f"heartbeats for {cases.TIMEOUT} s" in log


def test_recipe_with_keras_distribution_writes_from_process_zero_only(
    shared_data, tmp_path
):
    out = tmp_path / "run"
    command = [
        sys.executable,
        os.path.join(launch.ROOT, "recipes", "kmnist.py"),
        *cases.recipe_flags(shared_data, out),
    ]
    envs = keras_distribution_envs()
    with launch.Processes("jax", [command] * 2, envs, tmp_path) as run:
        run.assert_succeeded(timeout=300)
    cases.assert_written_by_one_process(out)
