"""kvae across 2 TensorFlow workers (`MultiWorkerMirroredStrategy`).

Each worker gets a `TF_CONFIG` naming both on 127.0.0.1 and free ports;
every wait is bounded (`tests/distribution/cases.py`). Only under
`KERAS_BACKEND=tensorflow`: once per CI run.
"""

import os
import sys

import keras
import pytest

from tests.distribution import cases
from tests.distribution import launch

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="runs under KERAS_BACKEND=tensorflow (once per CI run)",
    ),
]


def tf_config_envs(**variables):
    return launch.envs("tensorflow", CUDA_VISIBLE_DEVICES="", **variables)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf_processes")
    single, results = cases.train_alone_and_together(
        "tensorflow", tf_config_envs(), root
    )
    return single, results, root


def test_two_workers_train_as_one_over_the_global_batches(runs):
    single, results, _ = runs
    cases.assert_same_training(single, results)


def test_each_worker_draws_its_own_noise(runs):
    single, results, _ = runs
    cases.assert_own_noise(single, results)
    # Worker 0's stream is the one of a single process.
    assert (results[0]["drawn"] == single["drawn"]).all()


def test_non_trainable_state_of_two_workers(runs):
    single, results, _ = runs
    # Measured: MultiWorkerMirroredStrategy leaves the non-trainable
    # variables that a step assigns to each worker; worker 0's are saved.
    cases.assert_normalized_state(single, results, "own slice")


def test_model_saved_by_two_workers_loads_and_trains_here(runs):
    _, results, root = runs
    cases.assert_loads_and_trains(root / "two" / "model.keras", results[0])


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf_failures")
    timeout = {"KVAE_DISTRIBUTED_TIMEOUT": str(cases.TIMEOUT)}
    return cases.lose_a_process(
        "tensorflow", lambda mode: tf_config_envs(**timeout), root
    )


@pytest.mark.parametrize("mode", ["die", "stall"])
def test_a_lost_worker_stops_the_other_with_a_clear_error(failures, mode):
    cases.assert_stopped_clearly(failures[mode], "stopped sending heartbeats")


def test_recipe_with_tf_config_writes_from_the_chief_only(
    shared_data, tmp_path
):
    out = tmp_path / "run"
    command = [
        sys.executable,
        os.path.join(launch.ROOT, "recipes", "kmnist.py"),
        *cases.recipe_flags(shared_data, out),
    ]
    envs = tf_config_envs()
    with launch.Processes("tensorflow", [command] * 2, envs, tmp_path) as run:
        run.assert_succeeded(timeout=300)
    cases.assert_written_by_one_process(out)
